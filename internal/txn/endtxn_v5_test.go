package txn

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// EndTxn v5 (KIP-890 part 2) bumps the epoch on every end: the markers
// carry the new epoch, whatever the producer sent with the old one is
// fenced, and a retry of the end with the old epoch gets the new one.
func TestEndTxnV5BumpsTheEpoch(t *testing.T) {
	l := &memLog{}
	h := newHarness(t, l)
	pid, ep := mustInit(t, h, "a")
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0})
	gotPID, gotEp, err := h.c.EndTxnBumping("a", pid, ep, true)
	wantErr(t, "commit", err, nil)
	if gotPID != pid || gotEp != ep+1 {
		t.Fatalf("next producer %d/%d, want %d/%d", gotPID, gotEp, pid, ep+1)
	}
	if got, want := h.parts.take(), []marker{{"t", 0, pid, ep + 1, true}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
	// The response was lost: the producer retries with its old epoch.
	rpid, rep, err := h.c.EndTxnBumping("a", pid, ep, true)
	if err != nil || rpid != pid || rep != ep+1 {
		t.Fatalf("retried end: %d/%d %v", rpid, rep, err)
	}
	if _, _, err := h.c.EndTxnBumping("a", pid, ep, false); err != kerr.InvalidTxnState {
		t.Fatalf("abort retried after a commit: %v", err)
	}
	wantErr(t, "old epoch after the end", h.c.Verify("a", pid, ep, "t", 0), kerr.ProducerFenced)
	bad, aerr := h.c.AddPartitions("a", pid, ep, []Partition{{"t", 0}})
	if aerr != kerr.ProducerFenced || bad != nil {
		t.Fatalf("add with the old epoch: %v %v", aerr, bad)
	}

	// A restart keeps what a retry needs.
	h.c.Close()
	h2 := newHarness(t, l)
	if rpid, rep, err := h2.c.EndTxnBumping("a", pid, ep, true); err != nil || rep != ep+1 || rpid != pid {
		t.Fatalf("retried end after restart: %d/%d %v", rpid, rep, err)
	}
	// The next transaction runs at the new epoch, and ending it bumps again.
	mustAdd(t, h2, "a", pid, ep+1, Partition{"t", 1})
	if _, _, err := h2.c.EndTxnBumping("a", pid, ep, true); err != kerr.ProducerFenced {
		t.Fatalf("a retry of the previous end once a new transaction began: %v", err)
	}
	if _, e, err := h2.c.EndTxnBumping("a", pid, ep+1, false); err != nil || e != ep+2 {
		t.Fatalf("abort: epoch %d %v", e, err)
	}
	if got, want := h2.parts.take(), []marker{{"t", 1, pid, ep + 2, false}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
}

// EndTxn before v5 keeps the epoch.
func TestEndTxnV4KeepsTheEpoch(t *testing.T) {
	h := newHarness(t, &memLog{})
	pid, ep := mustInit(t, h, "a")
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0})
	wantErr(t, "commit", h.c.EndTxn("a", pid, ep, true), nil)
	if got, want := h.parts.take(), []marker{{"t", 0, pid, ep, true}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
	mustAdd(t, h, "a", pid, ep, Partition{"t", 0})
}
