package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func pendingCommitReq(group string, producerID int64, offset int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "tx", group, producerID, 0, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "in"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Offset = offset
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}

// fetchOne returns the offset of group's in-0 and its error code, with or
// without require_stable.
func fetchOne(t *testing.T, c *Coordinator, group string, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group, req.RequireStable = group, stable
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "in", []int32{0}
	req.Topics = append(req.Topics, rt)
	resp := c.FetchOffsets(req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch answered %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

func mustTxnCommit(t *testing.T, c *Coordinator, req *kmsg.TxnOffsetCommitRequest) {
	t.Helper()
	if err := c.TxnOffsetCommit(req, nil); err != nil {
		t.Fatalf("txn offset commit: %v", err)
	}
}

func wantOffset(t *testing.T, c *Coordinator, group string, want int64) {
	t.Helper()
	if got, code := fetchOne(t, c, group, false); got != want || code != 0 {
		t.Fatalf("offset %d (code %d), want %d", got, code, want)
	}
}

// Offsets committed in a transaction are pending in the group coordinator:
// invisible (and unstable under require_stable) until the commit marker,
// dropped by the abort marker.
func TestTxnOffsetsPendingUntilTheMarker(t *testing.T) {
	c := newTestCoordinator(&memLog{}, newFakeClock())
	mustTxnCommit(t, c, pendingCommitReq("g", 7, 10))
	wantOffset(t, c, "g", -1)
	if _, code := fetchOne(t, c, "g", true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable code %d, want UNSTABLE_OFFSET_COMMIT", code)
	}
	if err := c.CompleteTxn(7, 0, false); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, c, "g", -1)
	if _, code := fetchOne(t, c, "g", true); code != 0 {
		t.Fatalf("require_stable after abort: code %d", code)
	}

	mustTxnCommit(t, c, pendingCommitReq("g", 7, 20))
	if err := c.CompleteTxn(8, 0, true); err != nil { // another producer's marker
		t.Fatal(err)
	}
	wantOffset(t, c, "g", -1)
	if err := c.CompleteTxn(7, 0, true); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, c, "g", 20)
}

// A plain OffsetCommit written after the transaction's offsets is newer:
// the commit marker does not bring the older offset back.
func TestTxnOffsetsDoNotOverrideANewerCommit(t *testing.T) {
	c := newTestCoordinator(&memLog{}, newFakeClock())
	mustTxnCommit(t, c, pendingCommitReq("g", 7, 10))
	commit(c, "g", "", -1, "in", map[int32]int64{0: 99})
	if err := c.CompleteTxn(7, 0, true); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, c, "g", 99)
}

// Load replays transactional batches and markers to the same state: ended
// transactions applied or dropped, an open one still pending (its marker
// comes after the restart).
func TestTxnOffsetsSurviveReload(t *testing.T) {
	l := &memLog{}
	clk := newFakeClock()
	c := newTestCoordinator(l, clk)
	mustTxnCommit(t, c, pendingCommitReq("committed", 1, 11))
	mustTxnCommit(t, c, pendingCommitReq("aborted", 2, 22))
	mustTxnCommit(t, c, pendingCommitReq("open", 3, 33))
	mustTxnCommit(t, c, pendingCommitReq("newer", 4, 44))
	commit(c, "newer", "", -1, "in", map[int32]int64{0: 45})
	for _, m := range []struct {
		pid    int64
		commit bool
	}{{1, true}, {2, false}, {4, true}} {
		if err := c.CompleteTxn(m.pid, 0, m.commit); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	c2 := newTestCoordinator(l, clk)
	if err := c2.Load(); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, c2, "committed", 11)
	wantOffset(t, c2, "aborted", -1)
	wantOffset(t, c2, "newer", 45)
	wantOffset(t, c2, "open", -1)
	if _, code := fetchOne(t, c2, "open", true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("open transaction's offsets after reload: code %d, want UNSTABLE_OFFSET_COMMIT", code)
	}
	if err := c2.CompleteTxn(3, 0, true); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, c2, "open", 33)
}

// A marker written while a TxnOffsetCommit is being verified may have
// ended the very transaction verified: the commit verifies again rather
// than leave offsets pending for a transaction no marker will ever end.
func TestTxnOffsetCommitVerifiesAgainAfterAMarker(t *testing.T) {
	c := newTestCoordinator(&memLog{}, newFakeClock())
	calls := 0
	verify := func() *kerr.Error {
		calls++
		if calls == 1 {
			// The transaction is aborted (timeout) meanwhile.
			if err := c.CompleteTxn(7, 1, false); err != nil {
				t.Fatal(err)
			}
			return nil
		}
		return kerr.InvalidTxnState
	}
	if err := c.TxnOffsetCommit(pendingCommitReq("g", 7, 10), verify); err != kerr.InvalidTxnState {
		t.Fatalf("err %v, want INVALID_TXN_STATE", err)
	}
	if calls != 2 {
		t.Fatalf("verified %d times, want 2", calls)
	}
	if _, code := fetchOne(t, c, "g", true); code != 0 {
		t.Fatalf("offsets left pending (code %d)", code)
	}
}

func TestTxnOffsetCommitChecksMembership(t *testing.T) {
	c := newTestCoordinator(&memLog{}, newFakeClock())
	req := pendingCommitReq("g", 7, 10)
	req.Generation, req.MemberID = 3, "nobody"
	if err := c.TxnOffsetCommit(req, nil); err == nil {
		t.Fatal("a commit from an unknown member was taken")
	}
	if err := c.TxnOffsetCommit(pendingCommitReq("", 7, 10), nil); err != kerr.InvalidGroupID {
		t.Fatalf("empty group: %v", err)
	}
}
