package txn

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Log is where the coordinator keeps its state: in production the single
// partition of __transaction_state.
type Log interface {
	// Append appends one record batch and returns the offset after it.
	Append(batch []byte) (next int64, err error)
	// Sync waits until every offset below upTo is durable.
	Sync(upTo int64) error
	// Read returns whole batches starting at offset, at most about
	// maxBytes, and nothing at the end of the log.
	Read(offset int64, maxBytes int) ([]byte, error)
}

// Partitions is what the coordinator needs of the data partitions.
type Partitions interface {
	// Exists says whether a partition exists.
	Exists(topic string, partition int32) bool
	// WriteMarker appends a commit or abort control batch for the producer
	// to the partition and returns once it is durable.
	WriteMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) error
}

// LegacyOffsets commits offsets that an older Ferry recorded for a
// transaction in __transaction_state (record type 100): such a transaction,
// found open or ending at load, makes them visible in their group when it
// commits. Offsets committed inside transactions now go to the group
// coordinator, pending there until the transaction's marker.
type LegacyOffsets interface {
	CommitTxnOffsets(req *kmsg.TxnOffsetCommitRequest) error
}

// Config holds the broker settings of the coordinator.
type Config struct {
	// MaxTimeout caps the timeout a producer may ask for
	// (transaction.max.timeout.ms).
	MaxTimeout time.Duration
	// IDExpiration forgets transactional ids idle this long
	// (transactional.id.expiration.ms).
	IDExpiration time.Duration
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{MaxTimeout: 15 * time.Minute, IDExpiration: 7 * 24 * time.Hour}
}

// Options are the coordinator's collaborators.
type Options struct {
	Logger *slog.Logger
	// LogName names the coordinator's partition in log messages;
	// empty means __transaction_state-0.
	LogName string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewProducerID allocates a producer id never used before.
	NewProducerID func() (int64, error)
	Partitions    Partitions
	// LegacyOffsets completes offsets of type-100 records; nil drops them.
	LegacyOffsets LegacyOffsets
	// OffsetsTopic is __consumer_offsets: AddOffsetsToTxn adds the
	// group's partition of it (OffsetsPartition; nil means partition 0),
	// whose marker ends the transaction's offsets in the group
	// coordinator.
	OffsetsTopic     string
	OffsetsPartition func(group string) int32
	// TickInterval is how often Start's goroutine calls Tick; 0 means 1s.
	TickInterval time.Duration
	// OnEnd, if set, is called once per transaction whose markers are
	// written, with its outcome; OnTimeout when one is aborted for
	// outliving its timeout. For metrics; both may be nil.
	OnEnd     func(commit bool)
	OnTimeout func()
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

// txn is one transactional id's state.
type txn struct {
	id         string
	producerID int64
	epoch      int16
	timeout    time.Duration
	state      kmsg.TransactionState
	partitions map[tp]struct{}
	started    time.Time // when the current transaction began (Ongoing)
	updated    time.Time
	// legacyPending holds TxnOffsetCommit requests an older Ferry kept in
	// __transaction_state for the current transaction, applied to their
	// groups (LegacyOffsets) if it commits.
	legacyPending []*kmsg.TxnOffsetCommitRequest
	// completing is set while markers are being written outside mu.
	completing bool
	// bumpedEnd says the last EndTxn bumped the epoch (v5); prevProducerID
	// is the producer id before it, so a retry of it is recognised.
	bumpedEnd      bool
	prevProducerID int64
}

// isPreviousEpoch reports whether producerID and epoch are what the
// producer had before the last bumped EndTxn.
func (t *txn) isPreviousEpoch(producerID int64, epoch int16) bool {
	if producerID == t.producerID {
		return epoch == t.epoch-1
	}
	return producerID == t.prevProducerID && t.epoch == 0 // the epoch overflowed
}

func (t *txn) sortedPartitions() []tp {
	out := make([]tp, 0, len(t.partitions))
	for p := range t.partitions {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// Coordinator owns every transactional id. All methods are safe for
// concurrent use.
type Coordinator struct {
	cfg  Config
	log  Log
	opts Options
	now  func() time.Time

	mu     sync.Mutex
	txns   map[string]*txn
	closed bool

	stop chan struct{}
	done chan struct{}
	wg   sync.WaitGroup // completions running outside mu
}

// New returns a coordinator writing to l. Call Load before serving.
func New(cfg Config, l Log, opts Options) *Coordinator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogName == "" {
		opts.LogName = "__transaction_state-0"
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = time.Second
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = DefaultConfig().MaxTimeout
	}
	if cfg.IDExpiration <= 0 {
		cfg.IDExpiration = DefaultConfig().IDExpiration
	}
	return &Coordinator{cfg: cfg, log: l, opts: opts, now: opts.Now, txns: map[string]*txn{}}
}

// Start runs Tick on the real clock until Close.
func (c *Coordinator) Start() {
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.opts.TickInterval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.Tick()
			}
		}
	}()
}

// Close stops the timers and waits for completions in flight.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if c.stop != nil {
		close(c.stop)
		<-c.done
	}
	c.wg.Wait()
	return nil
}

// Tick aborts transactions past their timeout and forgets idle ids.
func (c *Coordinator) Tick() {
	now := c.now()
	var toAbort []*txn
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var tombstones []string
	for id, t := range c.txns {
		switch {
		case t.state == kmsg.TransactionState(stateOngoing) && now.Sub(t.started) > t.timeout:
			// Bump the epoch so the producer that let it time out is fenced.
			if err := c.bumpLocked(t); err != nil {
				c.opts.Logger.Error("timeout abort: cannot bump epoch", "transactional_id", id, "err", err)
				continue
			}
			t.state = stateOf(statePrepareAbort)
			t.updated = now
			toAbort = append(toAbort, t)
			if c.opts.OnTimeout != nil {
				c.opts.OnTimeout()
			}
			c.opts.Logger.Info("aborting timed-out transaction", "transactional_id", id, "producer_id", t.producerID, "epoch", t.epoch, "timeout", t.timeout)
		case idle(t.state) && now.Sub(t.updated) > c.cfg.IDExpiration:
			tombstones = append(tombstones, id)
		}
	}
	var recs []kv
	for _, t := range toAbort {
		recs = append(recs, stateRecord(t))
	}
	for _, id := range tombstones {
		recs = append(recs, kv{Key: txnKey(id)})
		delete(c.txns, id)
		c.opts.Logger.Info("transactional id expired", "transactional_id", id)
	}
	next, err := c.appendLocked(recs)
	retry := c.retryLocked()
	c.mu.Unlock()
	var todo []*txn
	for _, t := range retry {
		if !contains(toAbort, t) {
			todo = append(todo, t)
		}
	}
	if err == nil && next > 0 {
		err = c.log.Sync(next)
	}
	if err != nil {
		c.opts.Logger.Error("timeout abort: write failed; retrying next tick", "err", err)
	} else {
		todo = append(todo, toAbort...)
	}
	// Side by side: one transaction whose partition has no leader for a
	// while (its markers retried for up to a marker timeout) must not hold
	// up the others.
	var wg sync.WaitGroup
	for _, t := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.complete(t)
		}()
	}
	wg.Wait()
}

func contains(ts []*txn, t *txn) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// Transaction state values (kmsg.TransactionState is Kafka's int8 enum).
const (
	stateEmpty             = 0
	stateOngoing           = 1
	statePrepareCommit     = 2
	statePrepareAbort      = 3
	stateCompleteCommit    = 4
	stateCompleteAbort     = 5
	stateDead              = 6
	statePrepareEpochFence = 7
)

func stateOf(s int8) kmsg.TransactionState { return kmsg.TransactionState(s) }

// idle reports whether no transaction is open or ending.
func idle(s kmsg.TransactionState) bool {
	return s == stateEmpty || s == stateCompleteCommit || s == stateCompleteAbort
}

// StateName is Kafka's name of a state, as DescribeTransactions and
// ListTransactions report it.
func StateName(s kmsg.TransactionState) string {
	switch s {
	case stateEmpty:
		return "Empty"
	case stateOngoing:
		return "Ongoing"
	case statePrepareCommit:
		return "PrepareCommit"
	case statePrepareAbort:
		return "PrepareAbort"
	case stateCompleteCommit:
		return "CompleteCommit"
	case stateCompleteAbort:
		return "CompleteAbort"
	case stateDead:
		return "Dead"
	case statePrepareEpochFence:
		return "PrepareEpochFence"
	}
	return "Unknown"
}
