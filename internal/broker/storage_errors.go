package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/log"
)

// storageErrorInterval is the shortest time between two ERROR lines about
// one partition's failing storage. A full disk fails every produce request;
// a line for each would bury everything else in the log, none would hide
// the failure.
const storageErrorInterval = 10 * time.Second

// storageErrorLog reports a partition's failed appends and fsyncs at ERROR,
// at most once per storageErrorInterval, with the count of failures it held
// back since the previous line.
type storageErrorLog struct {
	now func() time.Time // time.Now; tests inject a clock

	mu         sync.Mutex
	last       time.Time // when the last line was written; zero: never
	suppressed int
}

// report logs err (the OS error, naming the file) unless a line was written
// less than storageErrorInterval ago, in which case it is only counted.
func (s *storageErrorLog) report(logger *slog.Logger, op string, err error) {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	t := now()
	s.mu.Lock()
	if !s.last.IsZero() && t.Sub(s.last) < storageErrorInterval {
		s.suppressed++
		s.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.last, s.suppressed = t, 0
	s.mu.Unlock()
	logger.Error("partition storage failed; producers get KAFKA_STORAGE_ERROR until it recovers (is the disk full or failing?)",
		"op", op, "err", err, "suppressed_since_last", suppressed)
}

// storageError reports a failed append or fsync of p (rate-limited) and
// returns it as KAFKA_STORAGE_ERROR for the client.
func (p *Partition) storageError(op string, err error) error {
	if !errors.Is(err, log.ErrClosed) {
		// A closed log is a partition being deleted or the broker
		// stopping, not a storage failure.
		p.storageErrs.report(p.logger, op, err)
	}
	return fmt.Errorf("%w: %s %s-%d: %v", kerr.KafkaStorageError, op, p.Topic, p.Index, err)
}
