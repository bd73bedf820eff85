package txn

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A damaged batch of __transaction_state is skipped with an ERROR and the
// records after it still load. Before Replay the damaged bytes were applied
// unchecked: here a transactional id "Y" that no client ever used.
func TestLoadSkipsDamagedBatch(t *testing.T) {
	l := &memLog{}
	h := newHarness(t, l)
	for _, id := range []string{"x", "y", "z"} {
		mustInit(t, h, id)
	}
	var victim []byte
	for _, b := range l.batches {
		if bytes.Contains(b, []byte("\x00\x01y")) {
			victim = b
		}
	}
	if victim == nil {
		t.Fatal("no batch holds transactional id y")
	}
	i := bytes.Index(victim, []byte("\x00\x01y"))
	victim[i+2] ^= 0x20 // "y" would read as "Y"

	var logs bytes.Buffer
	h2 := &harness{log: l, parts: &fakeParts{}, offsets: &fakeOffsets{}, now: h.now, nextPID: 200}
	h2.c = New(Config{MaxTimeout: h.c.cfg.MaxTimeout, IDExpiration: h.c.cfg.IDExpiration}, l, Options{
		Now:           func() time.Time { return h2.now },
		NewProducerID: func() (int64, error) { h2.nextPID++; return h2.nextPID, nil },
		Partitions:    h2.parts,
		LegacyOffsets: h2.offsets,
		OffsetsTopic:  "__consumer_offsets",
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err := h2.c.Load(); err != nil {
		t.Fatalf("load refused: %v", err)
	}
	for id, want := range map[string]string{"x": "Empty", "z": "Empty", "y": "unknown", "Y": "unknown"} {
		if got := state(h2, id); got != want {
			t.Errorf("transactional id %q: %s, want %s", id, got, want)
		}
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "__transaction_state-0") {
		t.Fatalf("damage not logged at ERROR with the partition:\n%s", out)
	}
}
