package broker

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// The balancer runs on every cluster node and acts only on the active
// controller. It wakes when the set of live or draining brokers changes
// (a broker joins, leaves, is decommissioned) and, once that set has been
// still for balanceSettle, runs the planner (controller.PlanBalance) on
// the newest image and the partition sizes the brokers report. It starts
// the planned moves through reassignment (ReassignEach), at most
// --balance-max-moves at a time: it waits until no partition of the
// cluster is moving, elects the preferred leaders of the partitions it
// moved, and starts the next batch. Once the plan is carried out it plans
// again (sizes changed meanwhile), until a plan is empty. A change of the
// broker set drops the rest of the plan: the next batch is planned anew,
// with a broker that joined mid-way.
//
// With --auto-balance=false only the moves that drain a broker are made.
// While a broker that is not draining is fenced (a restart, a crash) and
// still holds replicas, only drains run too: that broker comes back or
// gets decommissioned, and moving its data meanwhile would be wasted.
//
// The balancer never touches a partition that is moving (a manual
// `ferry cluster reassign` included): it waits for every move to end
// before it plans. Partitions of the internal topics (__consumer_offsets,
// __transaction_state) move like any other: their coordinators load and
// unload with the leadership.

// balanceSettle is how long the broker set must stay the same before
// the balancer plans: brokers started together join a few heartbeats
// apart, and one plan for all of them moves less.
const balanceSettle = 2 * time.Second

// balanceTick is how often the balancer looks when nothing changed: a
// move completes with a metadata change, but a failed step is retried.
const balanceTick = time.Second

// balancer is the state of the loop; only balanceLoop touches it.
type balancer struct {
	brokerSet string                   // live and draining brokers when last seen
	changedAt time.Time                // when brokerSet last changed
	pending   bool                     // the set changed or a batch ran: plan again
	plan      []controller.BalanceMove // planned moves not started yet
	batch     []PartitionRef
	started   time.Time // when this round of batches started
	moved     int64     // bytes the round's moves copy
	moves     int
}

func (b *Broker) balanceLoop() {
	defer b.wg.Done()
	t := time.NewTicker(balanceTick)
	defer t.Stop()
	var st balancer
	for {
		ch := b.meta.Changed()
		select {
		case <-b.stop:
			return
		case <-ch:
		case <-t.C:
		}
		if b.Controller() != b.cfg.NodeID {
			st = balancer{} // a new controller starts over
			continue
		}
		b.balanceStep(&st, time.Now())
	}
}

// balanceStep does what the image calls for now.
func (b *Broker) balanceStep(st *balancer, now time.Time) {
	img := b.Image()
	if set := brokerSetKey(img); set != st.brokerSet {
		st.brokerSet, st.changedAt, st.pending, st.plan = set, now, true, nil
	}
	if !st.pending || now.Sub(st.changedAt) < balanceSettle || reassigning(img) {
		return
	}
	if len(st.batch) > 0 {
		b.electPreferred(st.batch)
		st.batch = nil
	}
	if len(st.plan) == 0 {
		in, blocked := b.balanceInput(img)
		st.plan = controller.PlanBalance(in)
		if !b.cfg.Balance.Auto || blocked != "" {
			st.plan = drainsOnly(st.plan, in)
		}
		if len(st.plan) == 0 {
			if st.moves > 0 {
				b.log.Info("balancer: done", "moves", st.moves, "bytes_moved", st.moved, "took", now.Sub(st.started).Round(time.Millisecond),
					"imbalance", cmp.Or(controller.Imbalance(in), "none"))
			}
			if blocked != "" && b.cfg.Balance.Auto {
				b.log.Info("balancer: waiting", "reason", blocked)
			}
			*st = balancer{brokerSet: st.brokerSet, changedAt: st.changedAt}
			return
		}
		if st.moves == 0 {
			st.started = now
		}
		b.log.Info("balancer: planned", "moves", len(st.plan), "why", controller.Imbalance(in), "max_in_flight", b.cfg.Balance.MaxMoves)
	}
	moves := st.plan[:min(len(st.plan), b.cfg.Balance.MaxMoves)]
	st.plan = st.plan[len(moves):]
	batch := make([]Move, len(moves))
	for i, m := range moves {
		batch[i] = Move{Topic: m.Topic, Partition: m.Partition, Replicas: m.Replicas}
	}
	errs := b.ReassignEach(batch)
	for i, err := range errs {
		m := moves[i]
		if err != nil {
			b.log.Warn("balancer: move refused; planned again later", "topic", m.Topic, "partition", m.Partition, "replicas", m.Replicas, "err", err)
			continue
		}
		b.log.Info("balancer: move started", "topic", m.Topic, "partition", m.Partition, "replicas", m.Replicas, "bytes", m.Bytes)
		st.batch = append(st.batch, PartitionRef{Topic: m.Topic, Partition: m.Partition})
		st.moved += m.Bytes
		st.moves++
	}
}

// balanceInput builds the planner's input from img; blocked says why
// only drains may run (a fenced broker that is not draining holds
// replicas), or is empty.
func (b *Broker) balanceInput(img *meta.Image) (in controller.BalanceInput, blocked string) {
	sizes := b.partitionSizes(img)
	in.Draining = img.DrainingBrokers()
	for _, bi := range img.LiveBrokers() {
		in.Brokers = append(in.Brokers, bi.NodeID)
	}
	held := map[int32]bool{}
	for _, t := range img.Topics() {
		for i, p := range t.Placement {
			in.Partitions = append(in.Partitions, controller.BalancePartition{
				Topic: t.Name, Partition: int32(i), Replicas: slices.Clone(p.Replicas),
				Size: sizes[partitionKey{t.Name, int32(i)}], Moving: p.Reassigning(),
			})
			for _, r := range p.Replicas {
				held[r] = true
			}
		}
	}
	for _, bi := range img.Brokers() {
		if bi.Fenced && !img.Draining(bi.NodeID) && held[bi.NodeID] {
			return in, "broker " + strconv.Itoa(int(bi.NodeID)) + " is fenced and holds replicas: it must come back or be decommissioned"
		}
	}
	return in, ""
}

// drainsOnly keeps the moves of partitions with a replica on a draining
// broker.
func drainsOnly(moves []controller.BalanceMove, in controller.BalanceInput) []controller.BalanceMove {
	var out []controller.BalanceMove
	for _, m := range moves {
		i := slices.IndexFunc(in.Partitions, func(p controller.BalancePartition) bool {
			return p.Topic == m.Topic && p.Partition == m.Partition
		})
		if i >= 0 && slices.ContainsFunc(in.Partitions[i].Replicas, func(r int32) bool { return slices.Contains(in.Draining, r) }) {
			out = append(out, m)
		}
	}
	return out
}

// electPreferred moves the leadership of parts to their preferred
// replicas once their moves are done; the automatic preferred-leader
// balancing would too, but only at its next interval.
func (b *Broker) electPreferred(parts []PartitionRef) {
	res, err := b.ElectLeaders(ElectPreferred, parts)
	if err != nil {
		b.log.Warn("balancer: preferred leader election failed; automatic leader balancing will retry", "err", err)
		return
	}
	n := 0
	for _, err := range res {
		if err == nil {
			n++
		}
	}
	b.log.Info("balancer: preferred leaders elected", "partitions", n)
}

// reassigning reports whether any partition of img is moving.
func reassigning(img *meta.Image) bool {
	for _, t := range img.Topics() {
		for _, p := range t.Placement {
			if p.Reassigning() {
				return true
			}
		}
	}
	return false
}

// brokerSetKey names the live and the draining brokers of img.
func brokerSetKey(img *meta.Image) string {
	var sb strings.Builder
	for _, bi := range img.LiveBrokers() {
		sb.WriteString(strconv.Itoa(int(bi.NodeID)))
		sb.WriteByte(',')
	}
	sb.WriteByte('/')
	for _, n := range img.DrainingBrokers() {
		sb.WriteString(strconv.Itoa(int(n)))
		sb.WriteByte(',')
	}
	return sb.String()
}
