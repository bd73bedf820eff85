package controller

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// The balance planner: a pure function from the cluster's shape (brokers,
// replica lists, partition sizes) to the moves that even it out. The
// active controller's loop (package broker, balance.go) feeds it and
// carries the moves out through reassignment.
//
// Three loads are balanced over the eligible brokers (live, not
// draining): replicas, preferred leaders (Replicas[0], where leadership
// returns after preferred-leader election) and bytes. A load is balanced
// when every broker is within 10% of the mean; for the two counts the
// bounds round outward to whole partitions (floor(0.9·mean) to
// ceil(1.1·mean)), since 4 partitions over 3 brokers cannot do better
// than 1 and 2. Bytes are balanced as far as whole partitions allow.
//
// The plan is built in four passes over a working copy of the replica
// lists, and each partition's end state is one move (so a partition is
// never moved twice at once):
//
//  1. drain: every replica on a draining broker goes to the eligible
//     broker with the fewest replicas (then bytes) that lacks one;
//  2. replicas: while a broker is outside the count bounds, the most
//     loaded gives the least loaded the replica whose size best evens
//     their bytes (small partitions win ties: fewer bytes to copy);
//  3. bytes: while a broker's bytes are outside 10%, the best single
//     move or swap between the heaviest and lightest brokers that keeps
//     counts within bounds (each step lowers the sum of squared
//     deviations, so this ends);
//  4. preferred leaders: reorder replica lists (no data moves) so each
//     broker is first in about as many as the others.
//
// A partition already moving is left alone, and so are replicas on
// brokers that are neither eligible nor draining (fenced: they come back
// or get decommissioned).

// BalanceInput is what the planner reads.
type BalanceInput struct {
	// Brokers may take replicas: live and not draining.
	Brokers []int32
	// Draining brokers give every replica away.
	Draining   []int32
	Partitions []BalancePartition
}

// BalancePartition is one partition as the planner sees it.
type BalancePartition struct {
	Topic     string
	Partition int32
	Replicas  []int32 // Replicas[0] is the preferred leader
	Size      int64   // bytes of one replica
	Moving    bool    // a reassignment runs: not to be touched
}

// BalanceMove is one partition's new replica list; Replicas[0] is its
// preferred leader. Bytes is what the move copies: Size for each added
// replica (0 for a reorder).
type BalanceMove struct {
	Topic     string
	Partition int32
	Replicas  []int32
	Bytes     int64
}

// BrokerLoad is one broker's share.
type BrokerLoad struct {
	Node     int32
	Replicas int
	Leaders  int // partitions whose preferred leader it is
	Bytes    int64
}

// PlanBalance returns the moves that balance in: drains first, then the
// moves that copy data, then reorders. It returns nil when in is balanced
// (or nothing can be improved).
func PlanBalance(in BalanceInput) []BalanceMove {
	w := newWorkspace(in)
	if len(w.eligible) == 0 {
		return nil
	}
	w.drain()
	w.balanceReplicas()
	w.balanceBytes()
	w.balanceLeaders()
	return w.moves()
}

// Loads returns each eligible broker's load in in, sorted by node.
func Loads(in BalanceInput) []BrokerLoad {
	w := newWorkspace(in)
	out := make([]BrokerLoad, 0, len(w.eligible))
	for _, n := range w.eligible {
		out = append(out, BrokerLoad{Node: n, Replicas: w.replicas[n], Leaders: w.leaders[n], Bytes: w.bytes[n]})
	}
	return out
}

// Imbalance says what is out of bounds in in, or "" when it is balanced:
// no replica on a draining broker and every load within 10% of its mean.
func Imbalance(in BalanceInput) string {
	w := newWorkspace(in)
	for i, p := range w.parts {
		for _, r := range w.cur[i] {
			if w.draining[r] {
				return fmt.Sprintf("broker %d is draining and holds %s/%d", r, p.Topic, p.Partition)
			}
		}
	}
	if len(w.eligible) == 0 {
		return ""
	}
	lo, hi := w.countBounds(w.totalReplicas())
	for _, n := range w.eligible {
		if w.replicas[n] < lo || w.replicas[n] > hi {
			return fmt.Sprintf("broker %d holds %d replicas, outside %d-%d", n, w.replicas[n], lo, hi)
		}
	}
	lo, hi = w.countBounds(w.totalLeaders())
	for _, n := range w.eligible {
		if w.leaders[n] < lo || w.leaders[n] > hi {
			return fmt.Sprintf("broker %d is the preferred leader of %d partitions, outside %d-%d", n, w.leaders[n], lo, hi)
		}
	}
	for _, n := range w.eligible {
		if !w.bytesWithin(n) {
			return fmt.Sprintf("broker %d holds %d bytes, more than 10%% from the mean %.0f", n, w.bytes[n], w.meanBytes())
		}
	}
	return ""
}

// workspace is the planner's working copy.
type workspace struct {
	parts    []BalancePartition
	cur      [][]int32 // working replica lists, by index into parts
	eligible []int32
	isElig   map[int32]bool
	draining map[int32]bool
	replicas map[int32]int
	leaders  map[int32]int
	bytes    map[int32]int64
	// onBroker lists, per eligible broker, the indexes of the partitions
	// it holds in the working copy.
	onBroker map[int32]map[int]bool
}

func newWorkspace(in BalanceInput) *workspace {
	w := &workspace{
		isElig: map[int32]bool{}, draining: map[int32]bool{},
		replicas: map[int32]int{}, leaders: map[int32]int{}, bytes: map[int32]int64{},
		onBroker: map[int32]map[int]bool{},
	}
	for _, n := range in.Draining {
		w.draining[n] = true
	}
	for _, n := range in.Brokers {
		if !w.draining[n] && !w.isElig[n] {
			w.isElig[n] = true
			w.eligible = append(w.eligible, n)
			w.onBroker[n] = map[int]bool{}
		}
	}
	slices.Sort(w.eligible)
	w.parts = slices.Clone(in.Partitions)
	slices.SortFunc(w.parts, func(a, b BalancePartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	w.cur = make([][]int32, len(w.parts))
	for i, p := range w.parts {
		w.cur[i] = slices.Clone(p.Replicas)
		for j, r := range p.Replicas {
			w.add(i, r, j == 0)
		}
	}
	return w
}

// add counts partition i's replica on r (its preferred leader if first).
func (w *workspace) add(i int, r int32, first bool) {
	if !w.isElig[r] {
		return
	}
	w.replicas[r]++
	w.bytes[r] += w.parts[i].Size
	w.onBroker[r][i] = true
	if first {
		w.leaders[r]++
	}
}

func (w *workspace) remove(i int, r int32, first bool) {
	if !w.isElig[r] {
		return
	}
	w.replicas[r]--
	w.bytes[r] -= w.parts[i].Size
	delete(w.onBroker[r], i)
	if first {
		w.leaders[r]--
	}
}

// replace moves partition i's replica from one broker to another, in
// the same position of its list.
func (w *workspace) replace(i int, from, to int32) {
	j := slices.Index(w.cur[i], from)
	w.remove(i, from, j == 0)
	w.cur[i][j] = to
	w.add(i, to, j == 0)
}

func (w *workspace) totalReplicas() int {
	n := 0
	for _, b := range w.eligible {
		n += w.replicas[b]
	}
	return n
}

func (w *workspace) totalLeaders() int {
	n := 0
	for _, b := range w.eligible {
		n += w.leaders[b]
	}
	return n
}

// countBounds returns the bounds of a count whose total is spread over
// the eligible brokers: within 10% of the mean, rounded outward.
func (w *workspace) countBounds(total int) (lo, hi int) {
	mean := float64(total) / float64(len(w.eligible))
	return int(math.Floor(mean * 0.9)), int(math.Ceil(mean * 1.1))
}

func (w *workspace) meanBytes() float64 {
	var total int64
	for _, b := range w.eligible {
		total += w.bytes[b]
	}
	return float64(total) / float64(len(w.eligible))
}

func (w *workspace) bytesWithin(n int32) bool {
	m := w.meanBytes()
	return math.Abs(float64(w.bytes[n])-m) <= 0.1*m
}

// movable reports whether partition i may change.
func (w *workspace) movable(i int) bool { return !w.parts[i].Moving }

// drain moves every replica off the draining brokers.
func (w *workspace) drain() {
	for i := range w.parts {
		if !w.movable(i) {
			continue
		}
		for _, r := range slices.Clone(w.cur[i]) {
			if !w.draining[r] {
				continue
			}
			to, ok := w.leastLoaded(func(n int32) bool { return !slices.Contains(w.cur[i], n) })
			if !ok {
				break // fewer eligible brokers than replicas: it stays
			}
			w.replace(i, r, to)
		}
	}
}

// leastLoaded returns the eligible broker ok accepts with the fewest
// replicas, then bytes, then the lowest id.
func (w *workspace) leastLoaded(ok func(int32) bool) (int32, bool) {
	best, found := int32(-1), false
	for _, n := range w.eligible {
		if !ok(n) {
			continue
		}
		if !found || w.replicas[n] < w.replicas[best] || (w.replicas[n] == w.replicas[best] && w.bytes[n] < w.bytes[best]) {
			best, found = n, true
		}
	}
	return best, found
}

// byLoad returns the eligible brokers sorted by key, ascending (ties by
// node id).
func (w *workspace) byLoad(key func(int32) int64) []int32 {
	out := slices.Clone(w.eligible)
	slices.SortStableFunc(out, func(a, b int32) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// balanceReplicas evens the replica counts.
func (w *workspace) balanceReplicas() {
	lo, hi := w.countBounds(w.totalReplicas())
	for range 4 * (len(w.parts) + 1) * len(w.eligible) {
		order := w.byLoad(func(n int32) int64 { return int64(w.replicas[n])<<40 + w.bytes[n] })
		least, most := order[0], order[len(order)-1]
		if (w.replicas[most] <= hi && w.replicas[least] >= lo) || w.replicas[most]-w.replicas[least] < 2 {
			return
		}
		i, ok := w.bestReplicaToMove(most, least)
		if !ok {
			return
		}
		w.replace(i, most, least)
	}
}

// bestReplicaToMove picks the partition on from to move to to: the one
// that leaves the two brokers' bytes closest to the mean, the smaller on a
// tie.
func (w *workspace) bestReplicaToMove(from, to int32) (int, bool) {
	m := w.meanBytes()
	best, bestCost := -1, math.Inf(1)
	for _, i := range sortedKeys(w.onBroker[from]) {
		if !w.movable(i) || slices.Contains(w.cur[i], to) {
			continue
		}
		s := float64(w.parts[i].Size)
		cost := math.Abs(float64(w.bytes[from])-s-m) + math.Abs(float64(w.bytes[to])+s-m)
		if cost < bestCost || (cost == bestCost && w.parts[i].Size < w.parts[best].Size) {
			best, bestCost = i, cost
		}
	}
	return best, best >= 0
}

// balanceBytes evens the bytes with moves and swaps that keep the
// replica counts within bounds.
func (w *workspace) balanceBytes() {
	lo, hi := w.countBounds(w.totalReplicas())
	for range 4 * (len(w.parts) + 1) {
		if w.bytesBalanced() {
			return
		}
		if !w.improveBytes(lo, hi) {
			return
		}
	}
}

func (w *workspace) bytesBalanced() bool {
	for _, n := range w.eligible {
		if !w.bytesWithin(n) {
			return false
		}
	}
	return true
}

// improveBytes makes the best move or swap between a heavy and a light
// broker, trying the heaviest and lightest first; false when none lowers
// the deviation.
func (w *workspace) improveBytes(lo, hi int) bool {
	order := w.byLoad(func(n int32) int64 { return w.bytes[n] })
	for a := len(order) - 1; a > 0; a-- {
		for b := 0; b < a; b++ {
			heavy, light := order[a], order[b]
			gap := w.bytes[heavy] - w.bytes[light]
			if gap <= 0 {
				break
			}
			if w.bestBytesStep(heavy, light, gap, lo, hi) {
				return true
			}
		}
	}
	return false
}

// bestBytesStep carries out the move of one replica from heavy to light,
// or the swap of one of each, that brings their difference nearest zero;
// any step that moves a net size strictly between 0 and gap lowers the
// sum of squared deviations.
func (w *workspace) bestBytesStep(heavy, light int32, gap int64, lo, hi int) bool {
	type step struct {
		give, take int // partition indexes; take -1: a move, not a swap
		net        int64
	}
	best, found := step{}, false
	better := func(s step) bool {
		if s.net <= 0 || s.net >= gap {
			return false
		}
		if !found {
			return true
		}
		d, bd := abs64(gap-2*s.net), abs64(gap-2*best.net)
		return d < bd || (d == bd && s.take < 0 && best.take >= 0) // a move copies less than a swap
	}
	var gives, takes []int
	for _, i := range sortedKeys(w.onBroker[heavy]) {
		if w.movable(i) && !slices.Contains(w.cur[i], light) {
			gives = append(gives, i)
		}
	}
	for _, i := range sortedKeys(w.onBroker[light]) {
		if w.movable(i) && !slices.Contains(w.cur[i], heavy) {
			takes = append(takes, i)
		}
	}
	if w.replicas[heavy]-1 >= lo && w.replicas[light]+1 <= hi {
		for _, i := range gives {
			if s := (step{i, -1, w.parts[i].Size}); better(s) {
				best, found = s, true
			}
		}
	}
	// Swaps: for each give, the take whose size brings the net closest
	// to gap/2, found by binary search over takes sorted by size.
	slices.SortStableFunc(takes, func(a, b int) int { return cmp.Compare(w.parts[a].Size, w.parts[b].Size) })
	for _, i := range gives {
		want := w.parts[i].Size - gap/2
		k, _ := slices.BinarySearchFunc(takes, want, func(t int, v int64) int { return cmp.Compare(w.parts[t].Size, v) })
		for _, j := range []int{k - 1, k} {
			if j < 0 || j >= len(takes) {
				continue
			}
			if s := (step{i, takes[j], w.parts[i].Size - w.parts[takes[j]].Size}); better(s) {
				best, found = s, true
			}
		}
	}
	if !found {
		return false
	}
	w.replace(best.give, heavy, light)
	if best.take >= 0 {
		w.replace(best.take, light, heavy)
	}
	return true
}

// balanceLeaders evens the preferred leaders by reordering replica lists.
func (w *workspace) balanceLeaders() {
	lo, hi := w.countBounds(w.totalLeaders())
	for range 4 * (len(w.parts) + 1) {
		order := w.byLoad(func(n int32) int64 { return int64(w.leaders[n]) })
		least, most := order[0], order[len(order)-1]
		if (w.leaders[most] <= hi && w.leaders[least] >= lo) || w.leaders[most]-w.leaders[least] < 2 {
			return
		}
		if !w.shiftLeader(most, least) && !w.shiftLeader(most, -1) && !w.pullLeader(least) {
			return
		}
	}
}

// shiftLeader makes another replica the preferred leader of a partition
// most leads: to when given, else the replica with the fewest leaders
// if it has at least two fewer than most.
func (w *workspace) shiftLeader(most, to int32) bool {
	for _, i := range sortedKeys(w.onBroker[most]) {
		if !w.movable(i) || w.cur[i][0] != most {
			continue
		}
		target := -1
		for j, r := range w.cur[i][1:] {
			if !w.isElig[r] || w.leaders[r] > w.leaders[most]-2 {
				continue
			}
			if r == to || (to == -1 && (target == -1 || w.leaders[r] < w.leaders[w.cur[i][target]])) {
				target = j + 1
			}
		}
		if target > 0 {
			w.promote(i, target)
			return true
		}
	}
	return false
}

// pullLeader makes least the preferred leader of a partition it follows
// whose preferred leader has at least two more.
func (w *workspace) pullLeader(least int32) bool {
	for _, i := range sortedKeys(w.onBroker[least]) {
		if !w.movable(i) || w.cur[i][0] == least {
			continue
		}
		first := w.cur[i][0]
		if w.isElig[first] && w.leaders[first] >= w.leaders[least]+2 {
			w.promote(i, slices.Index(w.cur[i], least))
			return true
		}
	}
	return false
}

// promote swaps partition i's replica at j to the front.
func (w *workspace) promote(i, j int) {
	first, next := w.cur[i][0], w.cur[i][j]
	if w.isElig[first] {
		w.leaders[first]--
	}
	if w.isElig[next] {
		w.leaders[next]++
	}
	w.cur[i][0], w.cur[i][j] = next, first
}

// moves returns the partitions whose working list differs from their
// current one: drains first, then data moves, then reorders.
func (w *workspace) moves() []BalanceMove {
	var drains, copies, reorders []BalanceMove
	for i, p := range w.parts {
		if slices.Equal(w.cur[i], p.Replicas) {
			continue
		}
		m := BalanceMove{Topic: p.Topic, Partition: p.Partition, Replicas: slices.Clone(w.cur[i])}
		drained := false
		for _, r := range w.cur[i] {
			if !slices.Contains(p.Replicas, r) {
				m.Bytes += p.Size
			}
		}
		for _, r := range p.Replicas {
			drained = drained || w.draining[r]
		}
		switch {
		case drained:
			drains = append(drains, m)
		case m.Bytes > 0 || !sameSet(w.cur[i], p.Replicas):
			copies = append(copies, m)
		default:
			reorders = append(reorders, m)
		}
	}
	return slices.Concat(drains, copies, reorders)
}

func sameSet(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
