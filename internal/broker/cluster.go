package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/cluster"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/controller"
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
	serverTLS, clientTLS, err := controllerTLS(cfg)
	if err != nil {
		return nil, err
	}
	s, err := cluster.Open(cluster.Config{NodeID: cfg.NodeID, DataDir: cfg.DataDir, ListenAddr: cfg.ControllerAddr, Quorum: quorum,
		Dial: cfg.Dialer(), HeartbeatInterval: cfg.BrokerHeartbeatInterval, SessionTimeout: cfg.BrokerSessionTimeout,
		TopicDefaults: cfg.TopicDefaults, ServerTLS: serverTLS, ClientTLS: clientTLS,
		LeaderRebalanceInterval: leaderRebalanceInterval(cfg), LeaderImbalancePct: cfg.Reassign.LeaderImbalancePerBrokerPct}, logger)
	if err != nil {
		return nil, err
	}
	return noControllerStore{s}, nil
}

// leaderRebalanceInterval is how often the active controller moves
// leadership back to preferred replicas; 0 when it does not.
func leaderRebalanceInterval(cfg config.Config) time.Duration {
	if !cfg.Reassign.AutoLeaderRebalance {
		return 0
	}
	return cfg.Reassign.LeaderImbalanceCheckInterval
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

// Brokers returns the brokers to list in Metadata: every registered,
// unfenced one in a cluster, this one alone otherwise.
func (b *Broker) Brokers() []meta.BrokerInfo {
	if !b.Clustered() {
		return []meta.BrokerInfo{{NodeID: b.cfg.NodeID, Addr: b.cfg.AdvertisedAddr}}
	}
	return b.Image().LiveBrokers()
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

// liveBrokers returns the node ids new replicas may go to: the unfenced
// brokers in a cluster that are not draining (meta.DrainRecord), this
// node alone otherwise.
func (b *Broker) liveBrokers(img *meta.Image) []int32 {
	if !b.Clustered() {
		return []int32{b.cfg.NodeID}
	}
	var out []int32
	for _, bi := range img.LiveBrokers() {
		if !img.Draining(bi.NodeID) {
			out = append(out, bi.NodeID)
		}
	}
	return out
}

// defaultReplicationFactor is --default-replication-factor, or when it is
// 0, min(3, live brokers).
func (b *Broker) defaultReplicationFactor(img *meta.Image) int16 {
	if b.cfg.DefaultReplicationFactor > 0 {
		return int16(min(b.cfg.DefaultReplicationFactor, 1<<15-1))
	}
	return int16(max(1, min(3, len(b.liveBrokers(img)))))
}

// place returns the placement of n new partitions, starting at index
// first, with rf replicas each over the live brokers (see
// controller.Place). It fails with INVALID_REPLICATION_FACTOR when fewer
// brokers are live.
func (b *Broker) place(img *meta.Image, first, n int32, rf int16) ([]meta.Placement, error) {
	if !b.Clustered() {
		if rf != 1 {
			return nil, fmt.Errorf("%w: replication factor %d is larger than the 1 broker available", kerr.InvalidReplicationFactor, rf)
		}
		out := make([]meta.Placement, n)
		for i := range out {
			out[i] = meta.LocalPlacement(b.cfg.NodeID)
		}
		return out, nil
	}
	// Start where the topic count says, so one-partition topics spread
	// over the brokers too.
	out, err := controller.Place(b.liveBrokers(img), len(img.Topics())+int(first), n, int(rf))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", kerr.InvalidReplicationFactor, err)
	}
	return out, nil
}

// placeAssigned returns the placement of partitions whose replicas the
// client chose: each list names distinct live brokers, all lists are as
// long, and the first replica leads.
func (b *Broker) placeAssigned(img *meta.Image, assignment [][]int32) ([]meta.Placement, error) {
	live := b.liveBrokers(img)
	out := make([]meta.Placement, len(assignment))
	for i, replicas := range assignment {
		if len(replicas) == 0 || len(replicas) != len(assignment[0]) {
			return nil, fmt.Errorf("%w: partition %d has %d replicas; every partition needs the same number, at least 1", kerr.InvalidReplicaAssignment, i, len(replicas))
		}
		for j, r := range replicas {
			if !slices.Contains(live, r) {
				return nil, fmt.Errorf("%w: partition %d names broker %d, which is not a live broker or is draining (live: %v)", kerr.InvalidReplicaAssignment, i, r, live)
			}
			if slices.Contains(replicas[:j], r) {
				return nil, fmt.Errorf("%w: partition %d names broker %d twice", kerr.InvalidReplicaAssignment, i, r)
			}
		}
		out[i] = meta.Placement{Replicas: slices.Clone(replicas), Leader: replicas[0], ISR: slices.Clone(replicas)}
	}
	return out, nil
}

// register registers this broker with the active controller at its
// advertised address (cluster.Store.Register), which then keeps it alive
// with heartbeats. Registration is a write through the quorum: once this
// node's image shows it, the image holds everything committed before it,
// so start-up (the data dir sweep above all) never acts on a stale image.
func (b *Broker) register() error {
	addr := b.cfg.AdvertisedAddr
	if addr == "" {
		addr = b.cfg.KafkaAddr // server.Start sets the real one
	}
	s := b.meta.(noControllerStore)
	if err := s.Register(addr, 2*time.Minute); err != nil {
		return fmt.Errorf("register broker %d: %w", b.cfg.NodeID, err)
	}
	b.log.Info("registered with the controller quorum", "node", b.cfg.NodeID, "addr", addr)
	return nil
}

// saveClusterID records the cluster's id in the data dir the first time
// this node joins, and refuses a data dir of another cluster.
func (b *Broker) saveClusterID() error {
	if s, ok := b.meta.(noControllerStore); ok {
		return s.SaveClusterID(b.meta.Image().ClusterID)
	}
	return nil
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
