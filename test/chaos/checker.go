package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Kinds of Violation.
const (
	// Lost: an acknowledged record is not in the final log at its offset
	// nor anywhere else.
	Lost = "lost-ack"
	// Moved: an acknowledged record is in the final log, but not at the
	// offset it was acknowledged at.
	Moved = "moved-ack"
	// Duplicate: a value is in the final logs more than once.
	Duplicate = "duplicate"
	// Phantom: the final log holds a record no producer wrote.
	Phantom = "phantom"
	// OffsetWentBack: a consumer saw an offset of a partition at or below
	// one it had seen before.
	OffsetWentBack = "offset-went-back"
	// WatermarkWentBack: an observer saw a partition's high watermark
	// decrease.
	WatermarkWentBack = "hw-went-back"
	// WatermarkPastEnd: a high watermark was observed above the final log
	// end: it covered records that were later truncated.
	WatermarkPastEnd = "hw-past-final-end"
	// ReadLost: a record a consumer saw is not at that offset in the final
	// log (it was exposed, then truncated or replaced).
	ReadLost = "read-lost"
	// OutOfOrder: a producer's acknowledged records in one partition are
	// not in its sequence order.
	OutOfOrder = "out-of-order"
	// ReplicasDiverged: two replicas of a partition hold different
	// batches.
	ReplicasDiverged = "replicas-diverged"
	// ReplicaNotFinal: a replica's records on disk differ from the final
	// log the leader served (or no replica holds a partition at all).
	ReplicaNotFinal = "replica-not-final"
)

// Violation is one broken guarantee.
type Violation struct {
	Kind      string
	Partition int32
	Offset    int64 // -1 when not about one offset
	Value     string
	Detail    string
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s: partition %d", v.Kind, v.Partition)
	if v.Offset >= 0 {
		s += fmt.Sprintf(" offset %d", v.Offset)
	}
	if v.Value != "" {
		s += " value " + v.Value
	}
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	return s
}

// Report is Check's verdict and the counts behind it.
type Report struct {
	Attempted     int // values producers tried to write
	Acked         int // acknowledged records
	Reads         int // records consumers saw (with repeats across consumers)
	Watermarks    int // high watermark observations
	FinalRecords  int // records in the final logs
	UnackedStored int // final records whose produce was never acknowledged
	Violations    []Violation
}

// OK reports whether no guarantee was broken.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Summary prints the counts, then at most max violations of each kind.
func (r Report) Summary(max int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "attempted %d, acked %d, consumer reads %d, hw observations %d, final records %d (%d unacknowledged), violations %d\n",
		r.Attempted, r.Acked, r.Reads, r.Watermarks, r.FinalRecords, r.UnackedStored, len(r.Violations))
	perKind := map[string]int{}
	for _, v := range r.Violations {
		if perKind[v.Kind]++; perKind[v.Kind] <= max {
			fmt.Fprintf(&b, "  %s\n", v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(perKind)) {
		if n := perKind[k]; n > max {
			fmt.Fprintf(&b, "  ... %d more %s\n", n-max, k)
		}
	}
	return b.String()
}

// place is where a value sits in a final log.
type place struct {
	partition int32
	offset    int64
}

// Check verifies a chaos run's history. It is a pure function: the same
// history always yields the same report, violations in a stable order.
func Check(h History) Report {
	r := Report{Attempted: len(h.Attempts), Acked: len(h.Acks), Reads: len(h.Reads), Watermarks: len(h.Watermarks)}
	add := func(v Violation) { r.Violations = append(r.Violations, v) }

	attempted := map[Value]bool{}
	for _, v := range h.Attempts {
		attempted[v] = true
	}
	acked := map[Value]bool{}
	for _, a := range h.Acks {
		acked[a.Value] = true
	}

	// The final logs: what is where, and every value's places.
	at := map[int32]map[int64]Entry{}
	places := map[Value][]place{}
	end := map[int32]int64{}
	for _, p := range sortedKeys(h.Final) {
		at[p] = map[int64]Entry{}
		for _, e := range h.Final[p] {
			r.FinalRecords++
			at[p][e.Offset] = e
			end[p] = max(end[p], e.Offset+1)
			if e.Raw != "" || !attempted[e.Value] {
				add(Violation{Phantom, p, e.Offset, entryValue(e), "no producer wrote it"})
				continue
			}
			places[e.Value] = append(places[e.Value], place{p, e.Offset})
			if !acked[e.Value] {
				r.UnackedStored++
			}
		}
	}
	// (a) at most once, and every acknowledged record exactly once where
	// it was acknowledged.
	for _, v := range sortedValues(places) {
		if ps := places[v]; len(ps) > 1 {
			add(Violation{Duplicate, ps[0].partition, ps[0].offset, v.String(), fmt.Sprintf("%d copies, at %v", len(ps), ps)})
		}
	}
	for _, a := range h.Acks {
		if e, ok := at[a.Partition][a.Offset]; ok && e.Raw == "" && e.Value == a.Value {
			continue
		}
		if ps := places[a.Value]; len(ps) > 0 {
			add(Violation{Moved, a.Partition, a.Offset, a.Value.String(), fmt.Sprintf("acknowledged here, found at %v", ps)})
		} else {
			add(Violation{Lost, a.Partition, a.Offset, a.Value.String(), "acknowledged, not in the final log"})
		}
	}
	// (b) consumers' offsets only go forward; watermarks never go back
	// and never exceed what survived.
	type cp struct {
		consumer  int
		partition int32
	}
	last := map[cp]int64{}
	for _, rd := range h.Reads {
		k := cp{rd.Consumer, rd.Partition}
		if prev, ok := last[k]; ok && rd.Offset <= prev {
			add(Violation{OffsetWentBack, rd.Partition, rd.Offset, rd.Value.String(), fmt.Sprintf("consumer %d read offset %d after %d", rd.Consumer, rd.Offset, prev)})
		}
		last[k] = rd.Offset
	}
	type op struct {
		observer  string
		partition int32
	}
	lastHW := map[op]Watermark{}
	pastEnd := map[int32]bool{}
	for _, w := range h.Watermarks {
		k := op{w.Observer, w.Partition}
		if prev, ok := lastHW[k]; ok && w.HW < prev.HW {
			add(Violation{WatermarkWentBack, w.Partition, -1, "", fmt.Sprintf("%s saw high watermark %d (%s) after %d (%s)", w.Observer, w.HW, w.when(), prev.HW, prev.when())})
		}
		lastHW[k] = w
		if _, known := h.Final[w.Partition]; known && w.HW > end[w.Partition] && !pastEnd[w.Partition] {
			pastEnd[w.Partition] = true
			add(Violation{WatermarkPastEnd, w.Partition, -1, "", fmt.Sprintf("%s saw high watermark %d (%s), final log ends at %d", w.Observer, w.HW, w.when(), end[w.Partition])})
		}
	}
	// (c) what a consumer saw stays where it saw it.
	for _, rd := range h.Reads {
		e, ok := at[rd.Partition][rd.Offset]
		switch {
		case !ok:
			add(Violation{ReadLost, rd.Partition, rd.Offset, rd.Value.String(), fmt.Sprintf("consumer %d saw it; the final log has no record there", rd.Consumer)})
		case e.Raw != "" || e.Value != rd.Value:
			add(Violation{ReadLost, rd.Partition, rd.Offset, rd.Value.String(), fmt.Sprintf("consumer %d saw it; the final log has %s there", rd.Consumer, entryValue(e))})
		}
	}
	// (d) per producer and partition, acknowledged offsets follow the
	// sequence numbers.
	type pp struct {
		producer  int
		partition int32
	}
	byPP := map[pp][]Ack{}
	for _, a := range h.Acks {
		k := pp{a.Value.Producer, a.Partition}
		byPP[k] = append(byPP[k], a)
	}
	for _, k := range slices.SortedFunc(maps.Keys(byPP), func(a, b pp) int {
		return cmp.Or(cmp.Compare(a.producer, b.producer), cmp.Compare(a.partition, b.partition))
	}) {
		as := byPP[k]
		slices.SortFunc(as, func(a, b Ack) int { return cmp.Compare(a.Value.Seq, b.Value.Seq) })
		for i := 1; i < len(as); i++ {
			if as[i].Offset <= as[i-1].Offset {
				add(Violation{OutOfOrder, k.partition, as[i].Offset, as[i].Value.String(),
					fmt.Sprintf("acknowledged at or below %s's offset %d", as[i-1].Value, as[i-1].Offset)})
			}
		}
	}
	// (e) replicas hold identical logs, equal to what the leader served.
	if h.Replicas != nil {
		checkReplicas(h, add)
	}
	return r
}

func checkReplicas(h History, add func(Violation)) {
	parts := map[int32]bool{}
	for p := range h.Final {
		parts[p] = true
	}
	for p := range h.Replicas {
		parts[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		nodes := h.Replicas[p]
		if len(nodes) == 0 {
			add(Violation{ReplicaNotFinal, p, -1, "", "no node holds this partition on disk"})
			continue
		}
		ids := slices.Sorted(maps.Keys(nodes))
		ref := ids[0]
		for _, id := range ids[1:] {
			if d := diffBatches(nodes[ref], nodes[id]); d != nil {
				add(Violation{ReplicasDiverged, p, d.offset, "", fmt.Sprintf("node %d vs node %d: %s", ref, id, d.what)})
			}
		}
		for _, id := range ids {
			if d := diffRecords(flatten(nodes[id]), h.Final[p]); d != nil {
				add(Violation{ReplicaNotFinal, p, d.offset, "", fmt.Sprintf("node %d on disk vs final read: %s", id, d.what)})
			}
		}
	}
}

type difference struct {
	offset int64
	what   string
}

// diffBatches returns the first difference between two replicas' batches.
func diffBatches(a, b []Batch) *difference {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		if x.BaseOffset != y.BaseOffset || x.LastOffset != y.LastOffset || x.LeaderEpoch != y.LeaderEpoch || x.CRC != y.CRC {
			return &difference{min(x.BaseOffset, y.BaseOffset), fmt.Sprintf("batch %d is [%d, %d] epoch %d crc %08x vs [%d, %d] epoch %d crc %08x",
				i, x.BaseOffset, x.LastOffset, x.LeaderEpoch, x.CRC, y.BaseOffset, y.LastOffset, y.LeaderEpoch, y.CRC)}
		}
	}
	if len(a) != len(b) {
		return &difference{-1, fmt.Sprintf("%d batches vs %d", len(a), len(b))}
	}
	return nil
}

func flatten(bs []Batch) []Entry {
	var es []Entry
	for _, b := range bs {
		es = append(es, b.Records...)
	}
	return es
}

// diffRecords returns the first difference between two record lists.
func diffRecords(a, b []Entry) *difference {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return &difference{min(a[i].Offset, b[i].Offset), fmt.Sprintf("record %d is %s at %d vs %s at %d", i, entryValue(a[i]), a[i].Offset, entryValue(b[i]), b[i].Offset)}
		}
	}
	if len(a) != len(b) {
		return &difference{-1, fmt.Sprintf("%d records vs %d", len(a), len(b))}
	}
	return nil
}

// when describes the leader epoch and time of an observation.
func (w Watermark) when() string {
	s := "epoch ?"
	if w.Epoch >= 0 {
		s = fmt.Sprintf("epoch %d", w.Epoch)
	}
	if !w.At.IsZero() {
		s += " at " + w.At.UTC().Format("15:04:05.000")
	}
	return s
}

func entryValue(e Entry) string {
	if e.Raw != "" {
		return fmt.Sprintf("%q", e.Raw)
	}
	return e.Value.String()
}

func sortedKeys[V any](m map[int32]V) []int32 { return slices.Sorted(maps.Keys(m)) }

func sortedValues(m map[Value][]place) []Value {
	return slices.SortedFunc(maps.Keys(m), func(a, b Value) int {
		return cmp.Or(cmp.Compare(a.Producer, b.Producer), cmp.Compare(a.Seq, b.Seq))
	})
}
