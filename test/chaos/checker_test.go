package chaos

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	flog "github.com/ferry-mq/ferry/internal/log"
)

func val(p int, s int64) Value { return Value{Producer: p, Seq: s} }

// goodHistory is a run where every guarantee held: two producers over two
// partitions, one unacknowledged record stored, two replicas per
// partition.
func goodHistory() History {
	h := History{
		Attempts: []Value{val(1, 0), val(1, 1), val(1, 2), val(2, 0), val(2, 1), val(2, 2)},
		Acks: []Ack{
			{val(1, 0), 0, 0}, {val(1, 1), 0, 1}, {val(2, 0), 0, 2},
			{val(2, 1), 1, 0}, {val(1, 2), 1, 1},
		},
		Reads: []Read{
			{1, 0, 0, val(1, 0)}, {1, 0, 1, val(1, 1)}, {1, 1, 0, val(2, 1)},
			{2, 1, 0, val(2, 1)}, {2, 1, 1, val(1, 2)},
		},
		Watermarks: []Watermark{{"c1", 0, 1, -1, time.Time{}}, {"c1", 0, 3, -1, time.Time{}}, {"lo", 1, 2, -1, time.Time{}}, {"lo", 1, 2, -1, time.Time{}}, {"lo", 1, 3, -1, time.Time{}}},
		Final: map[int32][]Entry{
			0: {{0, val(1, 0), ""}, {1, val(1, 1), ""}, {2, val(2, 0), ""}},
			1: {{0, val(2, 1), ""}, {1, val(1, 2), ""}, {2, val(2, 2), ""}}, // p2/s2 was never acked
		},
	}
	h.Replicas = map[int32]map[int32][]Batch{}
	for p, es := range h.Final {
		batches := []Batch{
			{BaseOffset: 0, LastOffset: 1, LeaderEpoch: 1, CRC: 0xaa + uint32(p), Records: slices.Clone(es[:2])},
			{BaseOffset: 2, LastOffset: 2, LeaderEpoch: 2, CRC: 0xbb + uint32(p), Records: slices.Clone(es[2:])},
		}
		h.Replicas[p] = map[int32][]Batch{1: batches, 3: slices.Clone(batches)}
	}
	return h
}

func TestCheckGoodHistory(t *testing.T) {
	r := Check(goodHistory())
	if !r.OK() {
		t.Fatalf("violations in a good history:\n%s", r.Summary(10))
	}
	if r.Acked != 5 || r.FinalRecords != 6 || r.UnackedStored != 1 || r.Reads != 5 {
		t.Fatalf("counts: %+v", r)
	}
}

// Each case breaks one guarantee and must be reported as exactly that kind.
func TestCheckFindsEachViolation(t *testing.T) {
	cases := []struct {
		name   string
		kinds  string // comma-separated
		break_ func(h *History)
	}{
		{"acked record missing", Lost, func(h *History) {
			h.Final[0] = h.Final[0][:2] // p2/s0 acked at 0/2
			h.Replicas, h.Watermarks = nil, nil
		}},
		{"acked record at another offset", Moved, func(h *History) {
			h.Acks[3].Offset = 5 // p2/s1, at 1/0
		}},
		{"record stored twice", Duplicate, func(h *History) {
			h.Final[1] = append(h.Final[1], Entry{3, val(2, 2), ""})
			h.Replicas = nil
		}},
		{"value nobody wrote", Phantom, func(h *History) {
			h.Final[1] = append(h.Final[1], Entry{Offset: 3, Raw: "junk"})
			h.Replicas = nil
		}},
		{"consumer offset went back", OffsetWentBack, func(h *History) {
			h.Reads = append(h.Reads, Read{1, 0, 0, val(1, 0)})
		}},
		{"watermark went back", WatermarkWentBack, func(h *History) {
			h.Watermarks = append(h.Watermarks, Watermark{"c1", 0, 2, -1, time.Time{}})
		}},
		{"watermark above the final end", WatermarkPastEnd, func(h *History) {
			h.Watermarks = append(h.Watermarks, Watermark{"lo", 1, 4, -1, time.Time{}})
		}},
		{"read record truncated", ReadLost, func(h *History) {
			h.Reads = append(h.Reads, Read{2, 1, 2, val(2, 1)}) // final has p2/s2 there
		}},
		{"read record beyond the final end", ReadLost, func(h *History) {
			h.Reads = append(h.Reads, Read{2, 1, 3, val(2, 2)})
		}},
		{"acks out of sequence order", OutOfOrder, func(h *History) {
			// p1's s0 and s1 swapped places in partition 0.
			h.Final[0][0].Value, h.Final[0][1].Value = val(1, 1), val(1, 0)
			h.Acks[0].Offset, h.Acks[1].Offset = 1, 0
			h.Reads = nil
			h.Replicas = nil
		}},
		{"replica batches differ", ReplicasDiverged, func(h *History) {
			h.Replicas[1][3][1].LeaderEpoch = 3
		}},
		{"replica shorter", ReplicasDiverged + "," + ReplicaNotFinal, func(h *History) {
			h.Replicas[0][3] = h.Replicas[0][3][:1]
		}},
		{"replica on disk differs from the served log", ReplicaNotFinal, func(h *History) {
			h.Replicas[0][1][1].Records = []Entry{{2, val(2, 2), ""}}
			h.Replicas[0][3][1].Records = []Entry{{2, val(2, 2), ""}}
		}},
		{"partition on no disk", ReplicaNotFinal, func(h *History) {
			delete(h.Replicas, 1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := goodHistory()
			tc.break_(&h)
			r := Check(h)
			want := strings.Split(tc.kinds, ",")
			found := map[string]bool{}
			for _, v := range r.Violations {
				found[v.Kind] = true
				if !slices.Contains(want, v.Kind) {
					t.Errorf("violation %v, want only %s", v, tc.kinds)
				}
			}
			for _, k := range want {
				if !found[k] {
					t.Errorf("no %s violation found", k)
				}
			}
			t.Logf("%s", r.Summary(5))
		})
	}
}

func TestValueRoundTrip(t *testing.T) {
	v := val(7, 123456)
	got, err := DecodeValue(v.Encode())
	if err != nil || got != v {
		t.Fatalf("DecodeValue(%q) = %v, %v", v.Encode(), got, err)
	}
	for _, bad := range []string{"", "chaos p=1", "chaos p=1 s=2 x", "chaos p=01 s=2", "other"} {
		if _, err := DecodeValue([]byte(bad)); err == nil {
			t.Errorf("DecodeValue(%q) accepted", bad)
		}
	}
}

// ReadPartitionDir reads back what internal/log wrote, across segments,
// and refuses a segment with garbage after its last batch.
func TestReadPartitionDir(t *testing.T) {
	dir := t.TempDir()
	cfg := flog.DefaultConfig()
	cfg.SegmentBytes = 300
	l, err := flog.Open(dir, cfg, flog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for i := range 12 {
		v := val(1, int64(i))
		b := flog.NewBatch([]flog.KeyValue{{Key: []byte("k"), Value: v.Encode()}}, time.Now())
		res, err := l.Append(b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, Entry{Offset: res.BaseOffset, Value: v})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) < 2 {
		t.Fatalf("want several segments, got %v", segs)
	}
	batches, err := ReadPartitionDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := flatten(batches); !slices.Equal(got, want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Close()
	if _, err := ReadPartitionDir(dir); err == nil {
		t.Fatal("garbage after the last batch was accepted")
	}
}
