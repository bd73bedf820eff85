package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/cluster"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
)

// openStore opens the metadata store: the local file, or with
// --controller-quorum this node's member of the Raft quorum.
func openStore(cfg config.Config, logger *slog.Logger) (meta.Store, error) {
	if err := checkDataDirMode(cfg); err != nil {
		return nil, err
	}
	if cfg.ControllerQuorum == "" {
		return meta.OpenAs(filepath.Join(cfg.DataDir, metaDirName), cfg.NodeID, logger)
	}
	quorum, err := cluster.ParseQuorum(cfg.ControllerQuorum)
	if err != nil {
		return nil, err
	}
	s, err := cluster.Open(cluster.Config{NodeID: cfg.NodeID, DataDir: cfg.DataDir, ListenAddr: cfg.ControllerAddr, Quorum: quorum}, logger)
	if err != nil {
		return nil, err
	}
	return noControllerStore{s}, nil
}

// checkDataDirMode refuses a data dir written in the other mode. Its
// partitions' topics would be missing from the metadata this start reads,
// and the start-up sweep removes the directories of unknown topics.
func checkDataDirMode(cfg config.Config) error {
	raftDir := filepath.Join(cfg.DataDir, cluster.RaftDirName)
	metaLog := filepath.Join(cfg.DataDir, metaDirName, "metadata.log")
	if cfg.ControllerQuorum == "" {
		if _, err := os.Stat(raftDir); err == nil {
			return fmt.Errorf("data dir %s belongs to a cluster node (it has %s): start it with --controller-quorum (and the same --node-id) as before", cfg.DataDir, raftDir)
		}
		return nil
	}
	if _, err := os.Stat(raftDir); err == nil {
		return nil
	}
	if st, err := os.Stat(metaLog); err == nil && st.Size() > 0 {
		return fmt.Errorf("data dir %s holds a single node's metadata (%s); moving it into a cluster is not supported yet, "+
			"and its topics would be unknown to the controller quorum: start cluster nodes on fresh data dirs, or this one without --controller-quorum", cfg.DataDir, metaLog)
	}
	return nil
}

// noControllerStore gives a quorum without a leader its Kafka error code,
// NOT_CONTROLLER (retriable), so clients retry a metadata change.
type noControllerStore struct{ *cluster.Store }

func (s noControllerStore) Update(fn func(*meta.Image) ([]meta.Record, error)) (*meta.Image, error) {
	img, err := s.Store.Update(fn)
	if errors.Is(err, cluster.ErrNoController) {
		return nil, fmt.Errorf("%w: %v", kerr.NotController, err)
	}
	return img, err
}

// Clustered reports whether this node runs in a controller quorum.
func (b *Broker) Clustered() bool { return b.cfg.ControllerQuorum != "" }

// Controller returns the node id of the active controller, or -1 when the
// quorum has none; a single node is its own controller.
func (b *Broker) Controller() int32 {
	if s, ok := b.meta.(noControllerStore); ok {
		return s.Controller()
	}
	return b.cfg.NodeID
}

// Brokers returns the brokers to list in Metadata: every registered one in
// a cluster, this one alone otherwise.
func (b *Broker) Brokers() []meta.BrokerInfo {
	if !b.Clustered() {
		return []meta.BrokerInfo{{NodeID: b.cfg.NodeID, Addr: b.cfg.AdvertisedAddr}}
	}
	return b.Image().Brokers()
}

// PartitionPlacement returns where partition index of t lives. A single
// node leads every partition, whatever node id its records name (the id
// may have changed across restarts).
func (b *Broker) PartitionPlacement(t *meta.Topic, index int32) meta.Placement {
	if !b.Clustered() || int(index) >= len(t.Placement) {
		return meta.LocalPlacement(b.cfg.NodeID)
	}
	return t.Placement[index]
}

// leads reports whether this node leads partition index of t, and so holds
// its log.
func (b *Broker) leads(t *meta.Topic, index int32) bool {
	return b.PartitionPlacement(t, index).Leader == b.cfg.NodeID
}

// place returns the placement of n new partitions, starting at index
// first: round-robin over the registered brokers, replication factor 1.
func (b *Broker) place(img *meta.Image, first, n int32) []meta.Placement {
	out := make([]meta.Placement, n)
	brokers := img.Brokers()
	if !b.Clustered() || len(brokers) == 0 {
		for i := range out {
			out[i] = meta.LocalPlacement(b.cfg.NodeID)
		}
		return out
	}
	// Start where the topic count says, so one-partition topics spread
	// over the brokers too.
	start := len(img.Topics())
	rf := min(3, len(brokers)) // TEMPORARY: the controller branch brings --default-replication-factor
	for i := range out {
		var pl meta.Placement
		for k := range rf {
			pl.Replicas = append(pl.Replicas, brokers[(start+int(first)+i+k)%len(brokers)].NodeID)
		}
		pl.Leader = pl.Replicas[0]
		pl.ISR = append([]int32(nil), pl.Replicas...)
		out[i] = pl
	}
	return out
}

// register records this broker and its advertised address. The write
// always goes through the quorum, even when nothing changed: once it has
// been applied here, this node's image holds everything committed before
// it, so start-up (the data dir sweep above all) never acts on a stale
// image.
func (b *Broker) register() error {
	addr := b.cfg.AdvertisedAddr
	if addr == "" {
		addr = b.cfg.KafkaAddr // server.Start sets the real one
	}
	rec := meta.Record{Broker: &meta.BrokerRecord{NodeID: b.cfg.NodeID, Addr: addr}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := b.meta.Update(func(*meta.Image) ([]meta.Record, error) { return []meta.Record{rec}, nil })
		if err == nil {
			b.log.Info("registered with the controller quorum", "node", b.cfg.NodeID, "addr", addr)
			return nil
		}
		if !errors.Is(err, kerr.NotController) || time.Now().After(deadline) {
			return fmt.Errorf("register broker %d: %w", b.cfg.NodeID, err)
		}
		b.log.Warn("waiting for the controller quorum to elect a leader", "err", err)
	}
}

// watchMetadata opens and closes partitions as other nodes change the
// metadata: a topic created through another broker opens here if this
// node leads some of its partitions.
func (b *Broker) watchMetadata() {
	defer b.wg.Done()
	for {
		ch := b.meta.Changed()
		if _, err := b.reconcile(); err != nil {
			b.log.Error("cannot apply a metadata change to the partitions", "err", err)
		}
		select {
		case <-b.stop:
			return
		case <-ch:
		}
	}
}

// CoordinatorNode returns the broker leading partition 0 of an internal
// topic, where that topic's coordinator runs.
func (b *Broker) CoordinatorNode(topic string) (meta.BrokerInfo, bool) {
	img := b.Image()
	t, ok := img.Topic(topic)
	if !ok {
		return meta.BrokerInfo{}, false
	}
	leader := b.PartitionPlacement(t, 0).Leader
	if !b.Clustered() {
		return meta.BrokerInfo{NodeID: leader, Addr: b.cfg.AdvertisedAddr}, true
	}
	return img.Broker(leader)
}

// nonNil returns the partitions of parts this node holds; a cluster node
// keeps a nil entry at the index of each partition another node leads.
func nonNil(parts []*Partition) []*Partition {
	out := parts[:0:0]
	for _, p := range parts {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}
