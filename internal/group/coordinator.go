package group

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Log is where the coordinator keeps its state: in production the single
// partition of __consumer_offsets.
type Log interface {
	// Append appends one record batch and returns the offset after it. It
	// returns once the batch is written, not once it is durable.
	Append(batch []byte) (next int64, err error)
	// Sync waits until every offset below upTo is durable.
	Sync(upTo int64) error
	// Read returns whole batches starting at offset, at most about
	// maxBytes, and nothing at the end of the log.
	Read(offset int64, maxBytes int) ([]byte, error)
}

// Config holds the broker settings of the coordinator.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for (group.min/max.session.timeout.ms).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay holds the first rebalance of an empty group so
	// members starting together land in one generation
	// (group.initial.rebalance.delay.ms).
	InitialRebalanceDelay time.Duration
	// OffsetsRetention is how long offsets of an empty group are kept
	// (offsets.retention.minutes).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often expiry runs
	// (offsets.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	// MaxMetadataBytes bounds commit metadata (offset.metadata.max.bytes).
	MaxMetadataBytes int
	// Consumer configures KIP-848 consumer groups (consumer848.go).
	Consumer ConsumerConfig
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:      6 * time.Second,
		MaxSessionTimeout:      30 * time.Minute,
		InitialRebalanceDelay:  3 * time.Second,
		OffsetsRetention:       7 * 24 * time.Hour,
		RetentionCheckInterval: 10 * time.Minute,
		MaxMetadataBytes:       4096,
		Consumer:               DefaultConsumerConfig(),
	}
}

// Options are the coordinator's collaborators.
type Options struct {
	Logger *slog.Logger
	// LogName names the coordinator's partition in log messages;
	// empty means __consumer_offsets-0.
	LogName string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PartitionExists says whether offsets may be committed for a
	// partition; nil accepts every partition.
	PartitionExists func(topic string, partition int32) bool
	// TickInterval is how often Start's goroutine calls Tick; 0 means
	// 100ms.
	TickInterval time.Duration
	// Topics lists the broker's topics for the KIP-848 assignors; nil
	// means none.
	Topics func() []TopicInfo
	// TopicsVersion, if set, changes whenever Topics' answer does; while
	// it stays the same, a heartbeat of a group whose members and
	// subscriptions did not change skips calling Topics.
	TopicsVersion func() uint64
}

// Coordinator owns every group. All methods are safe for concurrent use.
type Coordinator struct {
	cfg    Config
	log    Log
	logger *slog.Logger
	now    func() time.Time
	exists func(string, int32) bool
	tick   time.Duration
	topics func() []TopicInfo
	// topicsVersion is Options.TopicsVersion; nil: always ask topics.
	topicsVersion func() uint64
	logName       string

	mu          sync.Mutex
	groups      map[string]*group
	closed      bool
	lastExpiry  time.Time
	unsyncedEnd int64 // log end after the last append not yet synced; 0 = none
	nextOffset  int64 // log end as far as the coordinator knows
	// pendingTxns holds offsets committed inside open transactions, by
	// producer id (txn_offsets.go); txnMarkers counts the markers written.
	pendingTxns map[int64]pendingTxn
	txnMarkers  uint64

	stop chan struct{}
	done chan struct{}
}

// New returns a coordinator writing to l. Call Load before serving
// requests, and Start to run timeouts on the real clock.
func New(cfg Config, l Log, opts Options) *Coordinator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogName == "" {
		opts.LogName = "__consumer_offsets-0"
	}
	if opts.PartitionExists == nil {
		opts.PartitionExists = func(string, int32) bool { return true }
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = 100 * time.Millisecond
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = DefaultConfig().MaxMetadataBytes
	}
	if cfg.Consumer.SessionTimeout <= 0 {
		cfg.Consumer.SessionTimeout = DefaultConsumerConfig().SessionTimeout
	}
	if cfg.Consumer.HeartbeatInterval <= 0 {
		cfg.Consumer.HeartbeatInterval = DefaultConsumerConfig().HeartbeatInterval
	}
	c := &Coordinator{
		cfg:    cfg,
		log:    l,
		logger: opts.Logger,
		now:    opts.Now,
		exists: opts.PartitionExists,
		tick:   opts.TickInterval,
		topics: opts.Topics,

		topicsVersion: opts.TopicsVersion,
		logName:       opts.LogName,
		groups:        map[string]*group{},
	}
	c.lastExpiry = c.now()
	return c
}

// Start runs Tick on the real clock until Close.
func (c *Coordinator) Start() {
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.tick)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			c.Tick()
			c.syncBackground()
		}
	}()
}

// Close stops the timer goroutine and answers every waiting Join and Sync
// with NOT_COORDINATOR, so clients look for the coordinator again. The log
// is synced; closing it is the caller's job.
func (c *Coordinator) Close() error {
	if c.stop != nil {
		close(c.stop)
		<-c.done
		c.stop = nil
	}
	c.mu.Lock()
	c.closed = true
	for _, g := range c.groups {
		for _, m := range g.members {
			m.failWaiters(errNotCoordinator)
		}
	}
	end := c.unsyncedEnd
	c.unsyncedEnd = 0
	c.mu.Unlock()
	if end > 0 {
		return c.log.Sync(end)
	}
	return nil
}

// syncBackground makes group metadata written since the last call durable.
func (c *Coordinator) syncBackground() {
	c.mu.Lock()
	end := c.unsyncedEnd
	c.unsyncedEnd = 0
	c.mu.Unlock()
	if end > 0 {
		if err := c.log.Sync(end); err != nil {
			c.logger.Error("sync of group metadata failed", "err", err)
		}
	}
}

// Tick runs every timeout that has passed: session expiry, rebalance and
// sync deadlines, expiry of pending member ids and of offsets.
func (c *Coordinator) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := c.now()
	for _, g := range c.groups {
		c.tickConsumerLocked(g, now) // KIP-848 members
		c.tickGroupLocked(g, now)
	}
	if now.Sub(c.lastExpiry) >= c.cfg.RetentionCheckInterval {
		c.lastExpiry = now
		c.expireOffsetsLocked(now)
	}
}

// newMemberID returns clientID-<uuid>, the shape Kafka uses.
func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
