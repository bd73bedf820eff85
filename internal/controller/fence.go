package controller

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
)

// Policy holds what the decisions read besides the image.
type Policy struct {
	// TopicDefaults are the broker defaults of topic configs (for
	// unclean.leader.election.enable).
	TopicDefaults map[string]string
}

// unclean reports whether t may elect a leader outside its ISR.
func (p Policy) unclean(t *meta.Topic) bool {
	tc, err := config.ParseTopicConfigs(t.Configs, p.TopicDefaults)
	return err == nil && tc.UncleanLeaderElection
}

// Registration is what a broker's heartbeat says about it.
type Registration struct {
	NodeID      int32
	Addr        string // advertised Kafka host:port
	Incarnation string // drawn by the broker process at start
}

// ErrDuplicateNode refuses a heartbeat of a second live process with a
// node id already in use.
var ErrDuplicateNode = errors.New("duplicate node id")

// Heartbeat returns the records a heartbeat of reg needs at now: none when
// the image already holds reg live; the registration of a new broker; the
// unfencing of a fenced one (with the offline partitions it can lead); or,
// for a new incarnation, the fencing of the old one first. A new
// incarnation whose predecessor's lease is still live is refused with
// ErrDuplicateNode.
func Heartbeat(img *meta.Image, reg Registration, leases *Leases, now time.Time, pol Policy) ([]meta.Record, error) {
	if reg.NodeID < 0 || reg.Addr == "" || reg.Incarnation == "" {
		return nil, fmt.Errorf("heartbeat of node %d (addr %q, incarnation %q) is incomplete", reg.NodeID, reg.Addr, reg.Incarnation)
	}
	cur, ok := img.Broker(reg.NodeID)
	if ok && !cur.Fenced && cur.Incarnation == reg.Incarnation && cur.Addr == reg.Addr {
		return nil, nil
	}
	var recs []meta.Record
	if ok && !cur.Fenced && cur.Incarnation != reg.Incarnation {
		if cur.Incarnation != "" && leases.Live(reg.NodeID, cur.Incarnation, now) {
			return nil, fmt.Errorf("%w: node %d is registered by a live process (at %s) whose lease has not run out; stop it or give this one another --node-id",
				ErrDuplicateNode, reg.NodeID, cur.Addr)
		}
		// A restart: the old process is gone, and with it whatever it
		// had not synced; its partitions change leader as after a crash.
		recs = Fence(img, reg.NodeID, pol)
		var err error
		if img, err = img.Apply(recs); err != nil {
			return nil, err
		}
	}
	recs = append(recs, meta.Record{Broker: &meta.BrokerRecord{NodeID: reg.NodeID, Addr: reg.Addr, Incarnation: reg.Incarnation}})
	return append(recs, unfencePartitions(img, reg.NodeID, pol)...), nil
}

// unfencePartitions gives node the offline partitions it may lead: those
// whose ISR holds it, and with unclean election those it is a replica of.
func unfencePartitions(img *meta.Image, node int32, pol Policy) []meta.Record {
	return electOffline(img, pol, func(r int32) bool { return r == node })
}

// ElectOffline returns the records that give each offline partition a
// leader when one may lead now: the first live replica in its ISR, or,
// where the topic allows unclean election, the first live replica. The
// active controller runs it every tick, so a partition also comes back
// when unclean.leader.election.enable is turned on while it is offline.
func ElectOffline(img *meta.Image, pol Policy) []meta.Record {
	return electOffline(img, pol, img.Live)
}

// electOffline elects leaders for offline partitions among the replicas
// for which live holds, ISR members first.
func electOffline(img *meta.Image, pol Policy, live func(int32) bool) []meta.Record {
	var recs []meta.Record
	for _, t := range img.Topics() {
		unclean := -1 // unknown until a partition needs it
		for i, p := range t.Placement {
			if p.Leader != -1 {
				continue
			}
			leader := int32(-1)
			for _, r := range p.Replicas {
				if slices.Contains(p.ISR, r) && live(r) {
					leader = r
					break
				}
			}
			next := clonePlacement(p)
			if leader == -1 {
				if unclean == -1 {
					unclean = 0
					if pol.unclean(t) {
						unclean = 1
					}
				}
				if unclean == 0 {
					continue
				}
				for _, r := range p.Replicas {
					if live(r) {
						leader = r
						next.ISR = []int32{r}
						break
					}
				}
				if leader == -1 {
					continue
				}
			}
			next.Leader = leader
			next.LeaderEpoch++
			next.PartitionEpoch++
			recs = append(recs, placementRecord(t.Name, int32(i), next))
		}
	}
	return recs
}

// Fence returns the records that fence node: its BrokerRecord with Fenced
// set, and the new placement of every partition it led or followed in
// the ISR. It returns nil when node is not registered or already fenced.
func Fence(img *meta.Image, node int32, pol Policy) []meta.Record {
	b, ok := img.Broker(node)
	if !ok || b.Fenced {
		return nil
	}
	b.Fenced = true
	recs := []meta.Record{{Broker: &meta.BrokerRecord{NodeID: b.NodeID, Addr: b.Addr, Incarnation: b.Incarnation, Fenced: true}}}
	live := func(n int32) bool { return n != node && img.Live(n) }
	for _, t := range img.Topics() {
		for i, p := range t.Placement {
			if next, changed := fencePlacement(p, node, live, pol.unclean(t)); changed {
				recs = append(recs, placementRecord(t.Name, int32(i), next))
			}
		}
	}
	return recs
}

// fencePlacement returns p without node, which is being fenced: a new
// leader when node led p, node out of the ISR when it followed.
func fencePlacement(p meta.Placement, node int32, live func(int32) bool, unclean bool) (meta.Placement, bool) {
	inISR := slices.Contains(p.ISR, node)
	if p.Leader != node && !inISR {
		return p, false
	}
	isr := slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == node })
	next := clonePlacement(p)
	next.PartitionEpoch++
	if p.Leader != node {
		if len(isr) == 0 {
			return p, false // the last member of an offline partition's ISR stays
		}
		next.ISR = isr
		return next, true
	}
	next.LeaderEpoch++
	next.Leader = -1
	for _, r := range p.Replicas {
		if slices.Contains(isr, r) && live(r) {
			next.Leader = r
			break
		}
	}
	if next.Leader == -1 && unclean {
		for _, r := range p.Replicas {
			if live(r) {
				next.Leader, isr = r, []int32{r}
				break
			}
		}
	}
	if len(isr) == 0 {
		isr = []int32{node} // offline: the ISR keeps its last member
	}
	next.ISR = isr
	return next, true
}

func clonePlacement(p meta.Placement) meta.Placement {
	p.Replicas = slices.Clone(p.Replicas)
	p.ISR = slices.Clone(p.ISR)
	p.Adding = slices.Clone(p.Adding)
	p.Removing = slices.Clone(p.Removing)
	p.From = slices.Clone(p.From)
	return p
}

func placementRecord(topic string, partition int32, p meta.Placement) meta.Record {
	return meta.Record{Placement: &meta.PlacementRecord{Topic: topic, Partition: partition, Placement: p}}
}
