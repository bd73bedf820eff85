package schedule

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Log is the partition of __scheduled a Scheduler owns.
type Log interface {
	// Append appends one batch and returns the offset after it.
	Append(batch []byte) (next int64, err error)
	// Sync waits until every offset below upTo is durable and, on a
	// replicated partition, in the ISR (as an acks=all produce waits).
	Sync(upTo int64) error
	// Read returns whole batches from the one holding offset, about
	// maxBytes of them but at least one, all below the high watermark;
	// nothing at the end of the log.
	Read(offset int64, maxBytes int) ([]byte, error)
	StartOffset() int64
	HighWatermark() int64
}

// Deliver appends batch to a target partition and returns wait, which
// blocks until the batch is durable and replicated (as an acks=all produce
// waits); wait is called on another goroutine. An error wrapping
// ErrTargetGone drops the messages; any other error, from Deliver or from
// wait, is retried after Config.RetryBackoff.
type Deliver func(topic string, partition int32, batch []byte) (wait func() error, err error)

// maxInflightRounds bounds the delivery rounds waiting for their fsyncs.
const maxInflightRounds = 4

// ErrTargetGone says a target topic or partition does not exist.
var ErrTargetGone = errors.New("schedule: target partition does not exist")

// ErrClosed is returned by Schedule and Cancel after Close.
var ErrClosed = errors.New("schedule: scheduler closed")

// Config tunes a Scheduler.
type Config struct {
	Dir                string        // the bucket index (see doc.go)
	BucketWidth        time.Duration // messages per index file span this much time
	CoarseWidth        time.Duration // ... or this much, for those due after tomorrow
	RetryBackoff       time.Duration // wait after a failed delivery
	CheckpointInterval time.Duration // how often the index is made durable
	CancelPruneEvery   time.Duration // how often cancels that can match nothing more are forgotten
	MaxDeliverBatch    int           // messages read and delivered per round
}

// DefaultConfig returns the production settings for dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:                dir,
		BucketWidth:        time.Minute,
		CoarseWidth:        24 * time.Hour,
		RetryBackoff:       time.Second,
		CheckpointInterval: 10 * time.Second,
		CancelPruneEvery:   time.Hour,
		MaxDeliverBatch:    1000,
	}
}

// Options are the Scheduler's collaborators.
type Options struct {
	Log     Log
	Deliver Deliver
	Logger  *slog.Logger
	Now     func() time.Time // nil: time.Now
	// Wake is signalled when Log's high watermark advances (new records
	// to index). Nil in tests that drive the scheduler by hand.
	Wake <-chan struct{}
	// OnDelivered, if set, is told how late each delivered message was
	// acknowledged by its target (from any goroutine).
	OnDelivered func(late time.Duration)
}

// Stats are counters for metrics, tests and benchmarks.
type Stats struct {
	Loaded    int   // messages in memory (due within the look-ahead)
	Buckets   int   // index buckets on disk
	Delivered int64 // messages appended to their targets
	Cancelled int64 // messages dropped by a cancel
	Dropped   int64 // messages whose target is gone or that could not be read
}

// Scheduler delivers the messages of one __scheduled partition. Schedule
// and Cancel may be called from any goroutine; everything else is owned by
// the goroutine Start runs (or by the test calling step).
type Scheduler struct {
	cfg     Config
	log     Log
	deliver Deliver
	logger  *slog.Logger
	now     func() time.Time
	wake    <-chan struct{}
	onLate  func(time.Duration)
	width   int64 // BucketWidth in ms
	coarse  int64 // CoarseWidth in ms

	stop    chan struct{}
	stopped chan struct{}
	syncReq chan int64    // tombstones to fsync, up to this offset (nil until Start)
	synced  chan struct{} // closed when the syncer ends
	// completions brings back delivery rounds once durable (nil until
	// Start: tests that drive step by hand deliver synchronously).
	completions chan *round
	roundsWG    sync.WaitGroup
	closeMu     sync.Mutex
	closed      bool
	started     bool
	statsMu     sync.Mutex
	stats       Stats
	stepErrs    int

	// Owned by the run goroutine.
	ix             *index
	indexedTo      int64                         // __scheduled offsets below it are indexed
	loadedUpTo     int64                         // buckets starting below it are in memory
	loaded         map[int64]map[uint64]struct{} // bucket start -> ids of its pending messages
	due            dueHeap
	cancels        map[string]int64 // cancelMatch -> offset of the latest cancel
	lastCheckpoint time.Time
	lastPrune      time.Time
	dirty          bool // indexed since the last checkpoint
	cache          batchCache
	inflight       int                  // rounds appended and not yet completed
	retryLogged    map[target]time.Time // when a failing target was last logged
}

// New opens (or rebuilds) the index in cfg.Dir. Start begins delivering.
func New(cfg Config, opts Options) (*Scheduler, error) {
	if cfg.BucketWidth < time.Millisecond || cfg.MaxDeliverBatch < 1 {
		return nil, fmt.Errorf("schedule: bucket width %v and batch %d must be positive", cfg.BucketWidth, cfg.MaxDeliverBatch)
	}
	if cfg.CoarseWidth < cfg.BucketWidth || cfg.CoarseWidth.Milliseconds()%cfg.BucketWidth.Milliseconds() != 0 {
		return nil, fmt.Errorf("schedule: coarse width %v must be a multiple of the bucket width %v", cfg.CoarseWidth, cfg.BucketWidth)
	}
	s := &Scheduler{
		cfg:     cfg,
		log:     opts.Log,
		deliver: opts.Deliver,
		logger:  opts.Logger,
		now:     opts.Now,
		wake:    opts.Wake,
		onLate:  opts.OnDelivered,
		width:   cfg.BucketWidth.Milliseconds(),
		coarse:  cfg.CoarseWidth.Milliseconds(),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open reads the index, or starts a new one when it cannot be trusted or
// does not match the log (a log truncated below what was indexed).
func (s *Scheduler) open() error {
	s.resetMemory()
	ix, indexedTo, err := openIndex(s.cfg.Dir, s.width, s.coarse, s.splitHorizon(s.now()))
	if err == nil {
		s.ix, s.indexedTo = ix, indexedTo
		s.cancels, err = ix.loadCancels()
	}
	if err == nil && indexedTo > s.log.HighWatermark() {
		err = fmt.Errorf("%w: indexed to %d but the log ends at %d", errCorruptIndex, indexedTo, s.log.HighWatermark())
	}
	if err == nil {
		return nil
	}
	if !errors.Is(err, errCorruptIndex) {
		return err
	}
	s.logger.Warn("scheduler index discarded; rebuilding it from the log", "dir", s.cfg.Dir, "err", err)
	if ix == nil {
		return err
	}
	s.ix = ix
	return s.rebuild()
}

func (s *Scheduler) resetMemory() {
	s.loadedUpTo = math.MinInt64
	s.loaded = map[int64]map[uint64]struct{}{}
	s.due = nil
	s.cancels = map[string]int64{}
	s.cache = batchCache{}
}

// rebuild discards the index and indexes the log again from its start.
func (s *Scheduler) rebuild() error {
	s.resetMemory()
	if err := s.ix.wipe(); err != nil {
		return err
	}
	s.ix.splitUpTo = s.splitHorizon(s.now())
	s.indexedTo = s.log.StartOffset()
	return nil
}

// Start runs the scheduler until Close.
func (s *Scheduler) Start() {
	s.closeMu.Lock()
	s.started = true
	s.closeMu.Unlock()
	s.syncReq = make(chan int64, 1)
	s.synced = make(chan struct{})
	s.completions = make(chan *round, maxInflightRounds)
	go s.syncer(s.synced)
	go s.run()
}

// Close stops delivering and checkpoints the index.
func (s *Scheduler) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.closeMu.Unlock()
	close(s.stop)
	if started {
		<-s.stopped
		s.roundsWG.Wait() // undone deliveries are redone after the restart
		close(s.syncReq)
		<-s.synced
	}
	return s.ix.checkpoint(s.indexedTo)
}

func (s *Scheduler) isClosed() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.closed
}

// Schedule stores msgs in __scheduled; on a nil return they are durable
// and will be delivered (at least once) at their DeliverAt.
func (s *Scheduler) Schedule(msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.write(msgs, nil)
}

// Cancel drops every message for topic with this key scheduled before the
// call and not delivered yet. Durable on a nil return.
func (s *Scheduler) Cancel(topic string, key []byte) error {
	return s.write(nil, []Cancel{{Topic: topic, Key: key}})
}

func (s *Scheduler) write(msgs []Message, cancels []Cancel) error {
	_, wait, err := s.Store(msgs, cancels)
	if err != nil {
		return err
	}
	return wait()
}

// Store is Schedule and Cancel in one step for a protocol front: it
// appends msgs and cancels to __scheduled on the caller's goroutine (so a
// connection's requests keep their order) and returns the offset of the
// first record and wait, which blocks until they are durable (call it off
// the connection's read goroutine).
func (s *Scheduler) Store(msgs []Message, cancels []Cancel) (first int64, wait func() error, err error) {
	if s.isClosed() {
		return 0, nil, ErrClosed
	}
	batch, err := EncodeBatch(msgs, cancels, s.now())
	if err != nil {
		return 0, nil, err
	}
	next, err := s.log.Append(batch)
	if err != nil {
		return 0, nil, err
	}
	return next - int64(len(msgs)+len(cancels)), func() error { return s.log.Sync(next) }, nil
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	return s.stats
}

func (s *Scheduler) count(f func(*Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.stats.Loaded = len(s.due)
	s.stats.Buckets = len(s.ix.buckets) + len(s.ix.days)
	s.statsMu.Unlock()
}

func (s *Scheduler) run() {
	defer close(s.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.step()
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-timer.C:
		case r := <-s.completions:
			s.inflight--
			if err := s.complete(r); err != nil {
				s.logger.Warn("delivery round not recorded; its messages will be delivered again after a restart", "err", err)
			}
		}
	}
}

// step indexes new records, loads the buckets coming due, delivers what is
// due and checkpoints when it is time; it returns how long to sleep.
func (s *Scheduler) step() time.Duration {
	if err := s.work(); err != nil {
		s.stepErrs++
		if errors.Is(err, errCorruptIndex) {
			s.logger.Error("scheduler index damaged; rebuilding it from the log", "err", err)
			if err := s.rebuild(); err != nil {
				s.logger.Error("cannot rebuild the scheduler index", "err", err)
			}
		} else if s.stepErrs == 1 || s.stepErrs%60 == 0 {
			s.logger.Error("scheduler step failed; retrying", "err", err, "failures", s.stepErrs)
		}
		return s.cfg.RetryBackoff
	}
	s.stepErrs = 0
	return s.untilNextWork()
}

func (s *Scheduler) work() error {
	if err := s.indexNew(); err != nil {
		return err
	}
	now := s.now()
	if err := s.split(now); err != nil {
		return err
	}
	if err := s.loadUpTo(s.ix.bucketOf(now.UnixMilli()) + 2*s.width); err != nil {
		return err
	}
	if err := s.deliverDue(); err != nil {
		return err
	}
	if len(s.cancels) > 0 && now.Sub(s.lastPrune) >= s.cfg.CancelPruneEvery {
		if err := s.pruneCancels(); err != nil {
			return err
		}
		s.lastPrune = now
	}
	if s.dirty && now.Sub(s.lastCheckpoint) >= s.cfg.CheckpointInterval {
		if err := s.ix.checkpoint(s.indexedTo); err != nil {
			return err
		}
		s.dirty, s.lastCheckpoint = false, now
	}
	s.count(func(*Stats) {})
	return nil
}

// pruneCancels forgets the cancels that can match nothing more: a cancel
// applies to messages at lower offsets, so once every pending message is
// past it, it is done. (Its record stays in __scheduled, compacted to the
// latest per key; after a rebuild it is pruned again.)
func (s *Scheduler) pruneCancels() error {
	if err := s.ix.flush(); err != nil {
		return err
	}
	lowest, found, err := s.ix.minPendingOffset()
	if err != nil {
		return err
	}
	before := len(s.cancels)
	for match, off := range s.cancels {
		if !found || off <= lowest {
			delete(s.cancels, match)
		}
	}
	if len(s.cancels) == before {
		return nil
	}
	s.logger.Debug("cancels pruned", "before", before, "after", len(s.cancels))
	return s.ix.rewriteCancels(s.cancels)
}

// splitHorizon is where fine buckets end: the end of tomorrow.
func (s *Scheduler) splitHorizon(now time.Time) int64 {
	return floorTo(now.UnixMilli(), s.coarse) + 2*s.coarse
}

// split moves the coarse buckets coming within the horizon into fine ones,
// then checkpoints (the index records where it split) and removes them.
func (s *Scheduler) split(now time.Time) error {
	to := s.splitHorizon(now)
	if to <= s.ix.splitUpTo {
		return nil
	}
	moved, err := s.ix.split(to)
	if err != nil {
		return err
	}
	if err := s.ix.checkpoint(s.indexedTo); err != nil {
		return err
	}
	s.dirty, s.lastCheckpoint = false, now
	return s.ix.dropDays(moved)
}

// untilNextWork is the time to the next due message, the next bucket load
// or the next checkpoint, whichever comes first.
func (s *Scheduler) untilNextWork() time.Duration {
	now := s.now().UnixMilli()
	next := min(s.loadedUpTo-s.width, s.ix.splitUpTo-s.coarse)
	if p, ok := s.due.peek(); ok && s.inflight < maxInflightRounds {
		next = min(next, p.due)
	}
	if s.dirty {
		next = min(next, s.lastCheckpoint.Add(s.cfg.CheckpointInterval).UnixMilli())
	}
	if next <= now {
		return 0
	}
	return time.Duration(next-now) * time.Millisecond
}
