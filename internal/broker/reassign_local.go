package broker

import (
	"github.com/ferry-mq/ferry/internal/meta"
)

// moveLocalReplicas opens the replicas a reassignment adds to this node and
// retires the ones it removes, for partitions already known here (new
// partitions open through reconcile's jobs). A retired replica stops
// fetching, gives up its role (waking what waits on it) and has its log
// deleted: the metadata no longer names this node, so nothing will read it.
// REQUIRES: b.reconcileMu held.
func (b *Broker) moveLocalReplicas(img *meta.Image) {
	if !b.Clustered() {
		return
	}
	var arriving []openJob
	var leaving []*Partition
	var leavingPl []meta.Placement
	b.mu.Lock()
	for name, parts := range b.partitions {
		t, ok := img.Topic(name)
		if !ok || t.ID != b.topicIDs[name] {
			continue
		}
		for i, p := range parts {
			hosts := b.hostsReplica(t, int32(i))
			switch {
			case p == nil && hosts:
				arriving = append(arriving, openJob{topic: t, index: int32(i), tc: b.TopicConfig(t)})
			case p != nil && !hosts:
				leaving = append(leaving, p)
				leavingPl = append(leavingPl, b.PartitionPlacement(t, int32(i)))
				parts[i] = nil
			}
		}
	}
	b.mu.Unlock()

	if len(leaving) > 0 {
		b.dropFromFetchers(leaving)
		for i, p := range leaving {
			// The new placement does not name this node: it stops
			// leading (the same record moved leadership), and parked
			// produce requests answer now.
			p.applyPlacement(leavingPl[i], b.cfg.NodeID)
			p.logger.Info("replica moved off this broker: deleting its log")
		}
		// A coordinator shard on a leaving internal partition unloads
		// before its log closes.
		b.syncCoordinators()
		b.notifyLeadershipWatchers()
		b.deletePartitions(leaving)
	}
	if len(arriving) == 0 {
		return
	}
	results := b.openPartitions(arriving)
	created := false
	for _, r := range results {
		created = created || r.created
	}
	if created {
		if err := syncDir(b.cfg.DataDir); err != nil {
			b.log.Error("cannot make new replica directories durable; they open at the next metadata change", "err", err)
			for _, r := range results {
				if r.p != nil {
					r.p.log.Close()
				}
			}
			return
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range results {
		j := arriving[i]
		if r.err != nil {
			b.log.Error("cannot open a replica moved to this broker; retried at the next metadata change", "topic", j.topic.Name, "partition", j.index, "err", r.err)
			continue
		}
		parts := b.partitions[j.topic.Name]
		if b.topicIDs[j.topic.Name] != j.topic.ID || int(j.index) >= len(parts) || parts[j.index] != nil {
			r.p.log.Close() // the topic changed meanwhile (reconcileMu makes this unlikely)
			continue
		}
		parts[j.index] = r.p
		r.p.logger.Info("replica moved to this broker: fetching from the leader")
	}
}
