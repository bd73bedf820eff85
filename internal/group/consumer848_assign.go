package group

import (
	"maps"
	"slices"
)

// The server-side assignors of KIP-848 consumer groups. Both are
// deterministic functions of the members (by id), their subscribed topics
// and, for uniform, the previous target.

// assignRange gives each topic's subscribers contiguous ranges of its
// partitions, in member id order; the first (partitions % members) get one
// more (the classic range assignor, per topic).
func assignRange(members map[string]*cmember, subscribed map[string][]TopicInfo) map[string]map[tpID]bool {
	out := map[string]map[tpID]bool{}
	byTopic := map[[16]byte][]string{}
	infos := map[[16]byte]TopicInfo{}
	for _, id := range slices.Sorted(maps.Keys(members)) {
		out[id] = map[tpID]bool{}
		for _, t := range subscribed[id] {
			byTopic[t.ID] = append(byTopic[t.ID], id)
			infos[t.ID] = t
		}
	}
	for tid, ms := range byTopic {
		n := infos[tid].Partitions
		k := int32(len(ms))
		per, extra := n/k, n%k
		var p int32
		for i, id := range ms {
			cnt := per
			if int32(i) < extra {
				cnt++
			}
			for range cnt {
				out[id][tpID{tid, p}] = true
				p++
			}
		}
	}
	return out
}

// assignUniform spreads partitions evenly over the members subscribed to
// them and keeps each member's previous target where balance allows
// (sticky): members keep up to an even share of what they had, the rest
// goes to the least loaded eligible member, and partitions then move from
// the most to the least loaded until no eligible pair differs by two.
func assignUniform(members map[string]*cmember, subscribed map[string][]TopicInfo) map[string]map[tpID]bool {
	ids := slices.Sorted(maps.Keys(members))
	out := make(map[string]map[tpID]bool, len(ids))
	eligible := map[tpID][]string{}
	for _, id := range ids {
		out[id] = map[tpID]bool{}
		for _, t := range subscribed[id] {
			for p := range t.Partitions {
				tp := tpID{t.ID, p}
				eligible[tp] = append(eligible[tp], id)
			}
		}
	}
	all := slices.SortedFunc(maps.Keys(eligible), tpLess)
	if len(all) == 0 {
		return out
	}
	subscribers := 0
	for _, id := range ids {
		if len(subscribed[id]) > 0 {
			subscribers++
		}
	}
	quota := (len(all) + subscribers - 1) / subscribers
	owner := map[tpID]string{}
	// Keep.
	for _, id := range ids {
		prev := slices.SortedFunc(maps.Keys(members[id].target), tpLess)
		for _, tp := range prev {
			if len(out[id]) >= quota {
				break
			}
			if _, taken := owner[tp]; taken || !slices.Contains(eligible[tp], id) {
				continue
			}
			owner[tp] = id
			out[id][tp] = true
		}
	}
	leastLoaded := func(cands []string) string {
		best := ""
		for _, id := range cands {
			if best == "" || len(out[id]) < len(out[best]) {
				best = id
			}
		}
		return best
	}
	// Fill.
	for _, tp := range all {
		if _, ok := owner[tp]; ok {
			continue
		}
		id := leastLoaded(eligible[tp])
		owner[tp] = id
		out[id][tp] = true
	}
	// Balance: bounded, each move narrows a gap of two or more.
	for range len(all) {
		moved := false
		for _, tp := range all {
			from := owner[tp]
			to := leastLoaded(eligible[tp])
			if len(out[from])-len(out[to]) >= 2 {
				delete(out[from], tp)
				out[to][tp] = true
				owner[tp] = to
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return out
}
