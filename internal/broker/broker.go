package broker

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
	"github.com/ferry-mq/ferry/internal/metrics"
)

// Broker is one Ferry node: a cluster of one until clustering lands.
type Broker struct {
	cfg  config.Config
	log  *slog.Logger
	meta meta.Store
	lock *os.File // flock on the data dir, held while open

	reconcileMu sync.Mutex // serializes reconcile; taken before mu

	mu         sync.RWMutex
	partitions map[string][]*Partition // topic name -> partitions by index
	topicIDs   map[string][16]byte     // topic name -> id of the open partitions

	dirs     dirOps         // renames and removes partition directories (a test seam)
	removals sync.WaitGroup // background removals of deleted partitions' directories

	metrics brokerMetrics // see metrics.go

	producerIDs producerIDAllocator
	coords      coordinators       // group and transaction coordinator shards, see coordinators.go
	topicList   topicList          // topics for the KIP-848 assignors, see groups.go
	sched       schedulerHost      // the scheduler of delayed messages, see schedule.go
	schedChains scheduledChains    // order of scheduled deliveries to other leaders, see schedule_remote.go
	leaderWatch leadershipWatchers // see leadership_watch.go

	fetchMu  sync.Mutex
	fetchers map[int32]*fetcher // replica fetchers by leader node

	throttle *replicationThrottle // --replication-throttle; nil when off

	peers peerPool // connections for coordinator requests to other brokers

	stop chan struct{}
	wg   sync.WaitGroup
}

// New opens (or formats) the data directory and every partition in it.
func New(cfg config.Config, logger *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	warnFileLimit(logger, cfg.MaxPartitions)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w (is the path writable?)", cfg.DataDir, err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	store, err := openStore(cfg, logger.With("component", "meta"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	b := &Broker{
		cfg:        cfg,
		log:        logger,
		meta:       store,
		lock:       lock,
		partitions: map[string][]*Partition{},
		topicIDs:   map[string][16]byte{},
		dirs:       osDirOps(),
		stop:       make(chan struct{}),
	}
	b.producerIDs.b = b
	if cfg.Reassign.ReplicationThrottle > 0 {
		b.throttle = newReplicationThrottle(cfg.Reassign.ReplicationThrottle)
	}
	b.metrics = newBrokerMetrics(cfg.Metrics)
	if b.Clustered() {
		if err := b.register(); err != nil {
			store.Close()
			lock.Close()
			return nil, err
		}
	}
	if b.meta.Image().ClusterID == "" {
		if _, err := store.Update(func(img *meta.Image) ([]meta.Record, error) {
			if img.ClusterID != "" {
				return nil, meta.ErrNoChange // another node named the cluster first
			}
			return []meta.Record{{Cluster: &meta.ClusterRecord{ClusterID: newClusterID()}}}, nil
		}); err != nil {
			store.Close()
			lock.Close()
			return nil, err
		}
	}
	if err := b.saveClusterID(); err != nil {
		store.Close()
		lock.Close()
		return nil, err
	}
	b.sweepDataDir(b.meta.Image())
	start := time.Now()
	opened, err := b.reconcile()
	if err != nil {
		b.Close()
		return nil, err
	}
	b.log.Info("partitions opened", "partitions", opened, "topics", len(b.meta.Image().Topics()),
		"workers", openWorkers(), "took", time.Since(start).Round(time.Millisecond))
	if err := b.startCoordinators(); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.startScheduler(); err != nil {
		b.Close()
		return nil, err
	}
	b.metrics.sink.Register(metrics.SourceFunc(b.collectMetrics))
	b.wg.Add(2)
	go b.retentionLoop()
	go b.producerExpiryLoop()
	if b.Clustered() {
		b.wg.Add(2)
		go b.watchMetadata()
		go b.replicationLoop()
		b.wg.Add(1)
		go b.balanceLoop()
	}
	return b, nil
}

// Config returns the broker's configuration.
func (b *Broker) Config() config.Config { return b.cfg }

// Image returns the current metadata.
func (b *Broker) Image() *meta.Image { return b.meta.Image() }

// Close stops background work and closes every log cleanly, so the next
// start can skip recovery.
func (b *Broker) Close() error {
	select {
	case <-b.stop:
		return nil
	default:
	}
	close(b.stop)
	b.wg.Wait()
	b.stopFetchers()
	b.removals.Wait()
	var errs []error
	// Before the logs close: group coordinators answer waiting joins and
	// sync their last writes.
	b.closeCoordinators()
	b.peers.close()
	b.checkpointHighWatermarks()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, parts := range b.partitions {
		for _, p := range nonNil(parts) {
			errs = append(errs, p.log.Close())
		}
	}
	b.partitions = map[string][]*Partition{}
	errs = append(errs, b.meta.Close())
	errs = append(errs, b.lock.Close())
	return errors.Join(errs...)
}

// retentionLoop deletes expired segments and compacts in the background.
func (b *Broker) retentionLoop() {
	defer b.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.EnforceRetention()
		b.Compact()
	}
}

// Compact runs one compaction pass over every compacted partition that has
// something to clean.
func (b *Broker) Compact() {
	for _, p := range b.allPartitions() {
		if !p.log.NeedsCompaction() {
			continue
		}
		stats, err := p.log.Compact(time.Now())
		if err != nil {
			b.log.Error("compaction failed", "topic", p.Topic, "partition", p.Index, "err", err)
			continue
		}
		b.log.Debug("compacted", "topic", p.Topic, "partition", p.Index, "stats", fmt.Sprintf("%+v", stats))
	}
}

// LocalReplicas returns every partition replica this broker holds, led
// here or not.
func (b *Broker) LocalReplicas() []*Partition { return b.allPartitions() }

func (b *Broker) allPartitions() []*Partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var all []*Partition
	for _, parts := range b.partitions {
		all = append(all, nonNil(parts)...)
	}
	return all
}

// EnforceRetention runs one retention pass over every partition.
func (b *Broker) EnforceRetention() {
	for _, p := range b.allPartitions() {
		if n, err := p.log.EnforceRetention(); err != nil {
			b.log.Error("retention failed", "topic", p.Topic, "partition", p.Index, "err", err)
		} else if n > 0 {
			b.log.Info("retention deleted segments", "topic", p.Topic, "partition", p.Index, "segments", n)
			if err := p.txns.index.Prune(p.log.StartOffset()); err != nil {
				b.log.Error("txn index prune failed", "topic", p.Topic, "partition", p.Index, "err", err)
			}
		}
	}
}

func newClusterID() string {
	var id [16]byte
	rand.Read(id[:])
	return fmt.Sprintf("%x", id)
}

func newTopicID() [16]byte {
	var id [16]byte
	rand.Read(id[:])
	id[6] = (id[6] & 0x0f) | 0x40 // UUID v4, as Kafka's topic ids are
	id[8] = (id[8] & 0x3f) | 0x80
	return id
}
