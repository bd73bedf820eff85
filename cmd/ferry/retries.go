package main

// Seeing the errors a producer retries. franz-go retries a retriable
// partition error (KAFKA_STORAGE_ERROR when the broker's disk is full,
// NOT_LEADER_OR_FOLLOWER while a leader moves) until the record's delivery
// timeout, then fails the record with ErrRecordTimeout alone: the broker's
// answer only ever appears in the client's debug log. retryWatcher reads it
// from there so that `ferry produce` can say why nothing is acknowledged.

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// retryingRE finds the error of a retried batch in franz-go's debug
// summary of a produce response ("topic[0{retrying@-1,3(NAME: text)}]").
var retryingRE = regexp.MustCompile(`retrying@-?\d+,\d+\(([A-Z_]+):`)

// kafkaErrors maps Kafka error names to franz-go's errors.
var kafkaErrors = func() map[string]*kerr.Error {
	m := map[string]*kerr.Error{}
	for code := int16(-1); code < 200; code++ {
		var ke *kerr.Error
		if errors.As(kerr.ErrorForCode(code), &ke) && ke.Code == code {
			m[ke.Message] = ke
		}
	}
	return m
}()

// retryWatcher is a kgo.Logger that prints, once, the first error the
// broker answered produce requests with while the client retries them, and
// remembers it for the final report.
type retryWatcher struct {
	w       io.Writer // where the notice goes (stderr)
	timeout string    // --timeout, for the notice

	mu    sync.Mutex
	first *kerr.Error
}

// Level asks for debug entries: retries are logged at no other level.
func (r *retryWatcher) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (r *retryWatcher) Log(_ kgo.LogLevel, msg string, keyvals ...any) {
	if msg != "produced" {
		return
	}
	for i := 0; i+1 < len(keyvals); i += 2 {
		s, ok := keyvals[i+1].(string)
		if keyvals[i] != "to" || !ok {
			continue
		}
		m := retryingRE.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		ke, ok := kafkaErrors[m[1]]
		if !ok {
			continue
		}
		r.mu.Lock()
		first := r.first == nil
		if first {
			r.first = ke
		}
		r.mu.Unlock()
		if first {
			fmt.Fprintf(r.w, "the broker refuses records with %v; retrying for up to --timeout %s\n", ke, r.timeout)
		}
	}
}

// seen returns the first error retried, or nil.
func (r *retryWatcher) seen() *kerr.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}
