package halftxn

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// Log is the partition of the internal topic the store keeps its records in.
type Log interface {
	// Append appends one batch and returns the offset after it.
	Append(batch []byte) (next int64, err error)
	// Sync waits until every offset below upTo is durable.
	Sync(upTo int64) error
	// Read reads whole batches from offset, about maxBytes of them.
	Read(offset int64, maxBytes int) ([]byte, error)
}

// Half is one pending half message.
type Half struct {
	ID        int64  // offset of its record in the store's log
	Topic     string // where a commit appends Batch
	Partition int32
	Group     string // producer group asked at check-back
	UniqKey   string // the client's message id (UNIQ_KEY)
	Batch     []byte // record batch appended on commit
	Stored    time.Time
	Checks    int       // check-backs sent so far
	LastCheck time.Time // zero before the first
}

// Action ends a transaction.
type Action int

const (
	Unknown  Action = iota // the producer does not know yet: stays pending
	Commit                 // append the message to its real topic
	Rollback               // drop it
)

func (a Action) String() string {
	switch a {
	case Commit:
		return "commit"
	case Rollback:
		return "rollback"
	}
	return "unknown"
}

var (
	// ErrNotFound: no pending half message has the ID (already ended,
	// rolled back by the checker, or never stored).
	ErrNotFound = errors.New("halftxn: no such pending half message")
	// ErrBusy: another End or the checker is resolving the half message.
	ErrBusy = errors.New("halftxn: half message is being resolved")
	// ErrNoProducer is what Options.Check returns when no producer of the
	// group is connected.
	ErrNoProducer = errors.New("halftxn: no live producer in the group")
)

// Options configure a Store.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // time.Now when nil
	// Interval between check-backs of one half message, and the period
	// of the checker started by Start.
	Interval time.Duration
	// MaxChecks check-backs, then the half message is rolled back.
	MaxChecks int
	// Deliver appends a committed half message's batch to its topic and
	// returns once it is durable as the topic's policy says.
	Deliver func(Half) error
	// Check sends CHECK_TRANSACTION_STATE for h to a live producer of
	// h.Group; ErrNoProducer when there is none.
	Check func(Half) error
}

// entry is a pending half message in memory. The batch stays in memory
// (half messages live for at most MaxChecks intervals).
type entry struct {
	Half
	token     token
	resolving bool // an End or the checker owns it
}

// Store holds the pending half messages.
type Store struct {
	log  Log
	opts Options
	lg   *slog.Logger

	mu      sync.Mutex
	pending map[int64]*entry // by ID
	byToken map[token]int64

	stop chan struct{}
	done chan struct{}
}

// New returns a store on l; call Load before anything else.
func New(l Log, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.MaxChecks <= 0 {
		opts.MaxChecks = 15
	}
	return &Store{log: l, opts: opts, lg: opts.Logger, pending: map[int64]*entry{}, byToken: map[token]int64{}}
}

// replayReadBytes is how much Load reads from the log at a time.
const replayReadBytes = 1 << 20

// Load replays the log into the pending set. A damaged range is skipped and
// logged: the half messages in it are lost (their producers' END_TRANSACTION
// then gets ErrNotFound), the rest is kept.
func (s *Store) Load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	apply := func(h log.BatchHeader, key, value []byte) error {
		if err := s.applyLocked(h, key, value); err != nil {
			// Written by a newer or broken broker: skip it, keep the rest.
			s.lg.Error("half-message record skipped", "offset", h.BaseOffset, "err", err)
		}
		return nil
	}
	_, n, err := log.Replay(s.log.Read, replayReadBytes, apply, func(d log.Damage) {
		s.lg.Error("half-message log damaged; its half messages are lost", "from", d.From, "to", d.To, "err", d.Err)
	})
	if err != nil {
		return fmt.Errorf("halftxn: load: %w", err)
	}
	s.lg.Info("half messages loaded", "records", n, "pending", len(s.pending))
	return nil
}

// applyLocked applies one replayed record. REQUIRES: mu held.
func (s *Store) applyLocked(h log.BatchHeader, key, value []byte) error {
	kind, tok, err := parseKey(key)
	if err != nil {
		return err
	}
	switch {
	case kind == kindHalf && value == nil:
		if id, ok := s.byToken[tok]; ok {
			delete(s.pending, id)
			delete(s.byToken, tok)
		}
	case kind == kindHalf:
		half, err := decodeHalf(value)
		if err != nil {
			return err
		}
		// Records are written one per batch: the batch's base offset is
		// the record's offset.
		half.ID = h.BaseOffset
		half.Stored = time.UnixMilli(h.FirstTimestamp)
		half.Batch = slices.Clone(half.Batch)
		s.pending[half.ID] = &entry{Half: half, token: tok}
		s.byToken[tok] = half.ID
	case kind == kindCheck && value != nil:
		checks, lastMs, err := decodeChecks(value)
		if err != nil {
			return err
		}
		if id, ok := s.byToken[tok]; ok {
			e := s.pending[id]
			e.Checks, e.LastCheck = checks, time.UnixMilli(lastMs)
		}
	}
	return nil
}

// Prepare stores a half message durably and returns its ID.
func (s *Store) Prepare(h Half) (int64, error) {
	var tok token
	if _, err := rand.Read(tok[:]); err != nil {
		return 0, fmt.Errorf("halftxn: token: %w", err)
	}
	v, err := encodeHalf(h)
	if err != nil {
		return 0, err
	}
	now := s.opts.Now()
	s.mu.Lock()
	// Under mu, so that the half message is in the map before any End
	// can name its ID, and IDs follow log order.
	next, err := s.log.Append(log.NewBatch([]log.KeyValue{{Key: recordKey(kindHalf, tok), Value: v}}, now))
	if err != nil {
		s.mu.Unlock()
		return 0, fmt.Errorf("halftxn: store half message: %w", err)
	}
	h.ID, h.Stored, h.Checks, h.LastCheck = next-1, time.UnixMilli(now.UnixMilli()), 0, time.Time{}
	h.Batch = slices.Clone(h.Batch)
	e := &entry{Half: h, token: tok, resolving: true} // not ended before it is durable
	s.pending[h.ID] = e
	s.byToken[tok] = h.ID
	s.mu.Unlock()

	err = s.log.Sync(next)
	s.mu.Lock()
	e.resolving = false
	if err != nil {
		delete(s.pending, h.ID)
		delete(s.byToken, tok)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("halftxn: sync half message: %w", err)
	}
	return h.ID, nil
}

// End commits or rolls back the half message id; Unknown leaves it pending
// for the checker. uniqKey, when not empty, must match the stored message's.
func (s *Store) End(id int64, a Action, uniqKey string) error {
	if a == Unknown {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.pending[id]; !ok {
			return fmt.Errorf("%w: id %d", ErrNotFound, id)
		}
		return nil
	}
	if a != Commit && a != Rollback {
		return fmt.Errorf("halftxn: unknown action %d", a)
	}
	e, err := s.claim(id, uniqKey)
	if err != nil {
		return err
	}
	return s.resolve(e, a)
}

// claim marks a pending half message as being resolved by the caller.
func (s *Store) claim(id int64, uniqKey string) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[id]
	if !ok {
		return nil, fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	if uniqKey != "" && e.UniqKey != "" && uniqKey != e.UniqKey {
		return nil, fmt.Errorf("%w: id %d holds message %s, not %s", ErrNotFound, id, e.UniqKey, uniqKey)
	}
	if e.resolving {
		return nil, fmt.Errorf("%w: id %d", ErrBusy, id)
	}
	e.resolving = true
	return e, nil
}

// resolve delivers (on commit) and forgets a claimed half message. On error
// it stays pending, to be ended or checked back again.
func (s *Store) resolve(e *entry, a Action) error {
	err := s.resolveLog(e, a)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		e.resolving = false
		return err
	}
	delete(s.pending, e.ID)
	delete(s.byToken, e.token)
	return nil
}

func (s *Store) resolveLog(e *entry, a Action) error {
	if a == Commit {
		h := e.Half
		h.Batch = slices.Clone(e.Batch) // the log may stamp offsets into it
		if err := s.opts.Deliver(h); err != nil {
			return fmt.Errorf("halftxn: commit %d to %s-%d: %w", e.ID, e.Topic, e.Partition, err)
		}
	}
	tombstones := []log.KeyValue{{Key: recordKey(kindHalf, e.token)}, {Key: recordKey(kindCheck, e.token)}}
	next, err := s.log.Append(log.NewBatch(tombstones, s.opts.Now()))
	if err == nil {
		err = s.log.Sync(next)
	}
	if err != nil {
		return fmt.Errorf("halftxn: %s %d: %w", a, e.ID, err)
	}
	return nil
}

// Pending returns copies of the pending half messages in ID order.
func (s *Store) Pending() []Half {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Half, 0, len(s.pending))
	for _, e := range s.pending {
		out = append(out, e.Half)
	}
	slices.SortFunc(out, func(a, b Half) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Get returns the pending half message id.
func (s *Store) Get(id int64) (Half, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.pending[id]
	if !ok {
		return Half{}, false
	}
	return e.Half, true
}
