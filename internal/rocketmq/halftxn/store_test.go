package halftxn

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

func mustPrepare(t *testing.T, s *Store, h Half) int64 {
	t.Helper()
	id, err := s.Prepare(h)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return id
}

func TestCommitDeliversAndForgets(t *testing.T) {
	h := newHarness()
	s := h.open()
	id := mustPrepare(t, s, sampleHalf("u1"))
	if got := s.Pending(); len(got) != 1 || got[0].ID != id || got[0].Topic != "orders" || string(got[0].Batch) != "batch-u1" {
		t.Fatalf("pending after Prepare = %+v", got)
	}
	if len(h.delivered) != 0 {
		t.Fatal("a half message was delivered before its commit")
	}
	if err := s.End(id, Commit, "u1"); err != nil {
		t.Fatalf("End commit: %v", err)
	}
	if len(h.delivered) != 1 || h.delivered[0].Topic != "orders" || h.delivered[0].Partition != 2 || string(h.delivered[0].Batch) != "batch-u1" {
		t.Fatalf("delivered = %+v", h.delivered)
	}
	if n := len(s.Pending()); n != 0 {
		t.Fatalf("%d pending after commit", n)
	}
	if err := s.End(id, Commit, "u1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second commit: %v, want ErrNotFound", err)
	}
	if n := len(h.open().Pending()); n != 0 {
		t.Fatalf("%d pending after restart", n)
	}
}

func TestRollbackDropsWithoutDelivering(t *testing.T) {
	h := newHarness()
	s := h.open()
	id := mustPrepare(t, s, sampleHalf("u1"))
	if err := s.End(id, Rollback, ""); err != nil {
		t.Fatalf("End rollback: %v", err)
	}
	if len(h.delivered) != 0 || len(s.Pending()) != 0 {
		t.Fatalf("delivered %d, pending %d", len(h.delivered), len(s.Pending()))
	}
	if n := len(h.open().Pending()); n != 0 {
		t.Fatalf("%d pending after restart", n)
	}
}

func TestPendingSurvivesRestart(t *testing.T) {
	h := newHarness()
	s := h.open()
	a := mustPrepare(t, s, sampleHalf("a"))
	b := mustPrepare(t, s, sampleHalf("b"))
	c := mustPrepare(t, s, sampleHalf("c"))
	if err := s.End(b, Rollback, "b"); err != nil {
		t.Fatal(err)
	}
	h.clock.advance(testInterval)
	s.CheckOnce() // a and c checked once

	s2 := h.open()
	got := s2.Pending()
	if len(got) != 2 || got[0].ID != a || got[1].ID != c {
		t.Fatalf("pending after restart = %+v, want ids %d and %d", got, a, c)
	}
	want := sampleHalf("a")
	if got[0].Topic != want.Topic || got[0].Partition != want.Partition || got[0].Group != want.Group ||
		got[0].UniqKey != "a" || string(got[0].Batch) != "batch-a" || got[0].Checks != 1 ||
		!got[0].LastCheck.Equal(h.clock.now) {
		t.Fatalf("half a after restart = %+v", got[0])
	}
	if err := s2.End(c, Commit, "c"); err != nil {
		t.Fatal(err)
	}
	if len(h.delivered) != 1 || h.delivered[0].UniqKey != "c" {
		t.Fatalf("delivered after restart = %+v", h.delivered)
	}
}

func TestEndChecksIDAndMessage(t *testing.T) {
	h := newHarness()
	s := h.open()
	id := mustPrepare(t, s, sampleHalf("u1"))
	if err := s.End(id+100, Commit, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.End(id, Commit, "someone-else"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("wrong message id: %v", err)
	}
	if err := s.End(id, Unknown, "u1"); err != nil {
		t.Fatalf("unknown state: %v", err)
	}
	if len(s.Pending()) != 1 || len(h.delivered) != 0 {
		t.Fatal("a refused or unknown End changed the half message")
	}
}

func TestFailedDeliveryKeepsItPending(t *testing.T) {
	h := newHarness()
	s := h.open()
	id := mustPrepare(t, s, sampleHalf("u1"))
	h.deliverErr = errDisk
	if err := s.End(id, Commit, "u1"); !errors.Is(err, errDisk) {
		t.Fatalf("commit with a failing topic: %v", err)
	}
	if len(s.Pending()) != 1 {
		t.Fatal("half message lost by a failed commit")
	}
	h.deliverErr = nil
	if err := s.End(id, Commit, "u1"); err != nil {
		t.Fatalf("commit retried: %v", err)
	}
	if len(h.delivered) != 1 {
		t.Fatalf("delivered %d", len(h.delivered))
	}
}

func TestFailedStoreIsNotPending(t *testing.T) {
	h := newHarness()
	s := h.open()
	h.log.failAppend = errDisk
	if _, err := s.Prepare(sampleHalf("u1")); !errors.Is(err, errDisk) {
		t.Fatalf("Prepare on a failing log: %v", err)
	}
	if len(s.Pending()) != 0 {
		t.Fatal("a half message that was not stored is pending")
	}
}

func TestCheckBackAfterIntervalThenCommitAnswer(t *testing.T) {
	h := newHarness()
	s := h.open()
	id := mustPrepare(t, s, sampleHalf("u1"))
	h.clock.advance(testInterval - time.Second)
	s.CheckOnce()
	if len(h.checked) != 0 {
		t.Fatal("checked back before the interval")
	}
	h.clock.advance(time.Second)
	s.CheckOnce()
	if len(h.checked) != 1 || h.checked[0].ID != id || h.checked[0].Group != "pg" || h.checked[0].Checks != 1 {
		t.Fatalf("checked = %+v", h.checked)
	}
	s.CheckOnce() // same instant: not due again
	if len(h.checked) != 1 {
		t.Fatalf("checked %d times within one interval", len(h.checked))
	}
	if err := s.End(id, Commit, "u1"); err != nil {
		t.Fatal(err)
	}
	h.clock.advance(10 * testInterval)
	s.CheckOnce()
	if len(h.checked) != 1 || len(h.delivered) != 1 {
		t.Fatalf("checked %d, delivered %d", len(h.checked), len(h.delivered))
	}
}

func TestUnansweredChecksRollBackAtTheLimit(t *testing.T) {
	for _, noProducer := range []bool{false, true} {
		h := newHarness()
		if noProducer {
			h.checkErr = ErrNoProducer
		}
		s := h.open()
		id := mustPrepare(t, s, sampleHalf("u1"))
		for i := 0; i < 3; i++ {
			h.clock.advance(testInterval)
			s.CheckOnce()
			if i == 1 {
				s = h.open() // the count survives a restart
			}
		}
		if got, ok := s.Get(id); !ok || got.Checks != 3 {
			t.Fatalf("noProducer=%v: after 3 checks: %+v %v", noProducer, got, ok)
		}
		h.clock.advance(testInterval)
		s.CheckOnce()
		if len(s.Pending()) != 0 || len(h.delivered) != 0 {
			t.Fatalf("noProducer=%v: not rolled back at the limit", noProducer)
		}
		logs := h.logs.String()
		if !strings.Contains(logs, "half message rolled back") {
			t.Fatalf("rollback not logged:\n%s", logs)
		}
		if noProducer != strings.Contains(logs, "no live producer") {
			t.Fatalf("noProducer=%v, logs:\n%s", noProducer, logs)
		}
		if n := len(h.open().Pending()); n != 0 {
			t.Fatalf("%d pending after restart", n)
		}
	}
}

func TestMalformedRecordIsSkipped(t *testing.T) {
	h := newHarness()
	s := h.open()
	mustPrepare(t, s, sampleHalf("a"))
	h.log.Append(log.NewBatch([]log.KeyValue{{Key: []byte("junk"), Value: []byte("x")}}, h.clock.now))
	var tok token
	h.log.Append(log.NewBatch([]log.KeyValue{{Key: recordKey(kindHalf, tok), Value: []byte{1, 0}}}, h.clock.now))
	mustPrepare(t, s, sampleHalf("b"))
	if n := len(h.open().Pending()); n != 2 {
		t.Fatalf("%d pending, want the 2 good ones", n)
	}
	if !strings.Contains(h.logs.String(), "half-message record skipped") {
		t.Fatal("skipped record not logged")
	}
}

func TestHalfCodecRoundTrip(t *testing.T) {
	in := sampleHalf("u1")
	v, err := encodeHalf(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeHalf(v)
	if err != nil {
		t.Fatal(err)
	}
	if out.Topic != in.Topic || out.Partition != in.Partition || out.Group != in.Group || out.UniqKey != in.UniqKey || string(out.Batch) != string(in.Batch) {
		t.Fatalf("round trip: %+v", out)
	}
	for i := range v {
		if _, err := decodeHalf(v[:i]); err == nil {
			t.Fatalf("truncated to %d bytes decoded", i)
		}
	}
}

func FuzzDecodeHalf(f *testing.F) {
	v, _ := encodeHalf(sampleHalf("u1"))
	f.Add(v)
	f.Add(encodeChecks(3, 1000))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := decodeHalf(b); err == nil {
			again, err := encodeHalf(h)
			if err != nil || string(again) != string(b) {
				t.Fatalf("decoded %q but re-encodes to %q (%v)", b, again, err)
			}
		}
		decodeChecks(b)
	})
}

func TestCheckerPassCostsOneSyncPerChunk(t *testing.T) {
	h := newHarness()
	s := h.open()
	const n = 1000
	for i := 0; i < n; i++ {
		mustPrepare(t, s, sampleHalf("u"+strconv.Itoa(i)))
	}
	h.clock.advance(testInterval)
	before := h.log.syncs
	s.CheckOnce()
	if got := h.log.syncs - before; got != 1 {
		t.Fatalf("a pass checking %d half messages made %d fsyncs, want 1", n, got)
	}
	if len(h.checked) != n {
		t.Fatalf("checked %d of %d", len(h.checked), n)
	}
	for i := 0; i < 2; i++ { // checks 2 and 3 of MaxChecks=3
		h.clock.advance(testInterval)
		s.CheckOnce()
	}
	before = h.log.syncs
	s.CheckOnce() // nothing due yet
	h.clock.advance(testInterval)
	s.CheckOnce() // all n at the limit: rolled back together
	if got := h.log.syncs - before; got != 1 || len(s.Pending()) != 0 {
		t.Fatalf("rolling back %d half messages made %d fsyncs, %d left", n, got, len(s.Pending()))
	}
}
