package group

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A batch of __consumer_offsets whose bytes are damaged is skipped with an
// ERROR, and the coordinator loads the records after it. Before Replay the
// damaged bytes were applied unchecked: the flipped offset came back as a
// committed offset, silently.
func TestLoadSkipsDamagedBatch(t *testing.T) {
	clk := newFakeClock()
	l := &memLog{}
	c := newTestCoordinator(l, clk)
	commit(c, "g", "", -1, "t", map[int32]int64{0: 10})
	commit(c, "g", "", -1, "t", map[int32]int64{0: 11}) // damaged below
	commit(c, "g", "", -1, "t", map[int32]int64{1: 20})
	commit(c, "h", "", -1, "u", map[int32]int64{0: 5})

	// Flip a byte of the committed offset in the second batch's value.
	b := l.batches[1]
	i := bytes.LastIndex(b, []byte{0, 0, 0, 0, 0, 0, 0, 11})
	if i < 0 {
		t.Fatal("offset 11 not found in its batch")
	}
	b[i+7] ^= 0x60 // 11 would read as 107

	var logs bytes.Buffer
	c2 := New(testConfig(), l, Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := c2.Load(); err != nil {
		t.Fatalf("load refused: %v", err)
	}
	// The group falls back to what survives: the commit before the damage.
	if got := fetchAll(c2, "g"); got["t"][0] != 10 || got["t"][1] != 20 {
		t.Fatalf("offsets of g after load: %v, want t/0=10 (before the damage) t/1=20", got)
	}
	if got := fetchAll(c2, "h"); got["u"][0] != 5 {
		t.Fatalf("offsets of h after load: %v", got)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "__consumer_offsets-0") || !strings.Contains(out, "from=1 to=2") {
		t.Fatalf("damage not logged at ERROR with partition and offsets:\n%s", out)
	}
}
