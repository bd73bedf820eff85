package schedule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

func TestDeliversAtDueTimeInOrder(t *testing.T) {
	h := newHarness(t)
	h.schedule("b", "at-3s", 3*time.Second)
	h.schedule("a", "at-1s", time.Second)
	h.schedule("c", "at-90m", 90*time.Minute) // in a bucket far from the loaded ones
	h.schedule("d", "now", 0)
	h.s.step()
	h.expect("now")
	h.advance(999*time.Millisecond, time.Millisecond)
	h.expect("now")
	h.advance(time.Millisecond, time.Millisecond)
	h.expect("now", "at-1s")
	h.advance(3*time.Second, 100*time.Millisecond)
	h.expect("now", "at-1s", "at-3s")
	if st := h.s.Stats(); st.Loaded != 0 {
		t.Fatalf("%d messages in memory; the 90m one must stay on disk", st.Loaded)
	}
	h.advance(90*time.Minute, time.Second)
	h.expect("now", "at-1s", "at-3s", "at-90m")
	for _, d := range h.tg.got {
		if d.topic != "orders" || d.partition != 0 {
			t.Fatalf("delivered to %s-%d", d.topic, d.partition)
		}
	}
	// Every message is done: no bucket file is left.
	h.s.step()
	if files := bucketFiles(t, h.dir); len(files) != 0 {
		t.Fatalf("bucket files left after everything was delivered: %v", files)
	}
}

func TestNeverDeliversBeforeDue(t *testing.T) {
	h := newHarness(t)
	for i := range 200 {
		h.schedule("", fmt.Sprint(i), time.Duration(i*37%5000)*time.Millisecond)
	}
	h.advance(6*time.Second, 7*time.Millisecond)
	if len(h.tg.got) != 200 {
		t.Fatalf("delivered %d of 200", len(h.tg.got))
	}
	for _, d := range h.tg.got {
		var i int
		fmt.Sscan(d.value, &i)
		due := epoch.Add(time.Duration(i*37%5000) * time.Millisecond)
		if d.at.Before(due) {
			t.Fatalf("message %d delivered at %v, before its due time %v", i, d.at, due)
		}
		if late := d.at.Sub(due); late > 7*time.Millisecond {
			t.Fatalf("message %d late by %v with the clock stepping 7ms", i, late)
		}
	}
}

func TestCancelDropsEarlierMessagesWithTheKey(t *testing.T) {
	h := newHarness(t)
	h.schedule("k1", "first", 10*time.Second)
	h.schedule("k2", "other key", 10*time.Second)
	if err := h.s.Cancel("orders", []byte("k1")); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cancel("elsewhere", []byte("k2")); err != nil { // another topic: no effect
		t.Fatal(err)
	}
	h.schedule("k1", "after the cancel", 10*time.Second)
	h.advance(11*time.Second, time.Second)
	h.expect("other key", "after the cancel")
	if st := h.s.Stats(); st.Cancelled != 1 || st.Delivered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCancelSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.schedule("k", "cancelled", 5*time.Minute)
	if err := h.s.Cancel("orders", []byte("k")); err != nil {
		t.Fatal(err)
	}
	h.s.step()
	h.restart()
	h.advance(6*time.Minute, time.Second)
	h.expect()
}

func TestCancelNeedsAKey(t *testing.T) {
	h := newHarness(t)
	if err := h.s.Cancel("orders", nil); err == nil {
		t.Fatal("cancel without a key accepted")
	}
}

func TestRestartDeliversPendingOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(h *harness)
	}{
		{"clean", (*harness).restart},
		{"crash", (*harness).crash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.schedule("a", "1s", time.Second)
			h.schedule("b", "2h", 2*time.Hour)
			h.s.step()
			h.advance(time.Second, time.Second)
			h.expect("1s")
			h.schedule("c", "3h", 3*time.Hour) // never indexed before the stop
			tc.stop(h)
			h.advance(3*time.Hour, time.Minute)
			h.expect("1s", "2h", "3h")
		})
	}
}

func TestUnrecordedDeliveryIsRepeatedAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.schedule("a", "x", time.Second)
	h.s.step()
	h.log.failAt = 1 // the tombstone append fails: a crash before it was durable
	h.advance(time.Second, time.Second)
	h.expect("x")
	h.crash()
	h.s.step()
	h.expect("x", "x") // at-least-once: delivered again, never lost
	h.crash()
	h.s.step()
	h.expect("x", "x")
}

func TestFailedDeliveryIsRetried(t *testing.T) {
	h := newHarness(t)
	h.tg.fail = []error{errors.New("no leader"), errors.New("no leader")}
	h.schedule("a", "x", 0)
	h.s.step()
	h.expect()
	h.advance(time.Second, 500*time.Millisecond)
	h.expect()
	h.advance(time.Second, 500*time.Millisecond)
	h.expect("x")
}

func TestGoneTargetDropsMessages(t *testing.T) {
	h := newHarness(t)
	h.tg.fail = []error{fmt.Errorf("orders-0: %w", ErrTargetGone)}
	h.schedule("a", "x", 0)
	h.schedule("b", "y", time.Second)
	h.s.step()
	h.advance(2*time.Second, time.Second)
	h.expect("y")
	if st := h.s.Stats(); st.Dropped != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFarFutureMessagesStayOnDisk(t *testing.T) {
	h := newHarness(t)
	const n = 5000
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Topic: "orders", Value: []byte(fmt.Sprint(i)), DeliverAt: epoch.Add(24*time.Hour + time.Duration(i)*time.Second)}
	}
	if err := h.s.Schedule(msgs...); err != nil {
		t.Fatal(err)
	}
	h.s.step()
	if st := h.s.Stats(); st.Loaded != 0 || st.Buckets == 0 {
		t.Fatalf("stats %+v: far messages must be in bucket files, not memory", st)
	}
	h.restart()
	h.advance(24*time.Hour+n*time.Second, 30*time.Second)
	if got := len(h.tg.values()); got != n {
		t.Fatalf("delivered %d of %d", got, n)
	}
}

func TestDamagedIndexIsRebuilt(t *testing.T) {
	h := newHarness(t)
	h.schedule("a", "far", time.Hour)
	h.schedule("b", "farther", 2*time.Hour)
	h.s.step()
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	files := bucketFiles(t, h.dir)
	if len(files) != 2 {
		t.Fatalf("bucket files %v", files)
	}
	// Flip a byte in the middle of the first entry of a bucket file, and
	// append another entry so that it is not a torn tail.
	path := filepath.Join(h.dir, files[0])
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, data...)
	data[5] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h.open()
	h.advance(2*time.Hour, time.Minute)
	h.expect("far", "farther")
}

func TestTornIndexTailIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.schedule("a", "far", time.Hour)
	h.s.step()
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.dir, bucketFiles(t, h.dir)[0])
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3})
	f.Close()
	h.open()
	h.advance(time.Hour, time.Minute)
	h.expect("far")
}

func TestMessageRoundTrip(t *testing.T) {
	in := Message{Topic: "t", Partition: 7, Key: []byte("k"), Value: nil,
		Timestamp: time.UnixMilli(1234)}
	in.Headers = append(in.Headers, hdr("a", "1"), hdr("b", ""))
	out, err := decodeMessage(encodeMessage(&in))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Fatalf("round trip: %+v, want %+v", out, in)
	}
}

func TestDelayLevels(t *testing.T) {
	for level, want := range map[int]time.Duration{1: time.Second, 3: 10 * time.Second, 5: time.Minute, 18: 2 * time.Hour, 40: 2 * time.Hour} {
		if got, ok := DelayLevel(level); !ok || got != want {
			t.Errorf("level %d: %v %v, want %v", level, got, ok, want)
		}
	}
	if _, ok := DelayLevel(0); ok {
		t.Error("level 0 is no delay")
	}
}

func bucketFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		_, fine := parseBucketName(de.Name(), bucketPrefix)
		if _, coarse := parseBucketName(de.Name(), dayPrefix); fine || coarse {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestStartedSchedulerPipelinesRounds: with Start (rounds wait for their
// fsyncs off the scheduler's goroutine), each message is delivered once,
// and a round whose wait fails is delivered again.
func TestStartedSchedulerPipelinesRounds(t *testing.T) {
	ml := &memLog{}
	var mu sync.Mutex
	var got []string
	failOnce := true
	deliver := func(topic string, partition int32, batch []byte) (func() error, error) {
		_, recs, err := log.DecodeRecords(batch)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		fail := failOnce && len(got) > 0
		if fail {
			failOnce = false
		}
		for _, r := range recs {
			if !fail {
				got = append(got, string(r.Value))
			}
		}
		return func() error {
			time.Sleep(5 * time.Millisecond) // an fsync
			if fail {
				return errors.New("injected fsync failure")
			}
			return nil
		}, nil
	}
	wake := make(chan struct{}, 1)
	cfg := DefaultConfig(t.TempDir())
	cfg.RetryBackoff = 10 * time.Millisecond
	s, err := New(cfg, Options{Log: ml, Deliver: deliver, Wake: wake})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	base := time.Now().Add(50 * time.Millisecond)
	const n = 300
	for i := range n {
		if err := s.Schedule(Message{Topic: "t", Value: []byte(fmt.Sprint(i)), DeliverAt: base.Add(time.Duration(i) * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().Delivered < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything extra would show now
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	for _, v := range got {
		seen[v]++
	}
	for i := range n {
		if c := seen[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("message %d delivered %d times (%d deliveries)", i, c, len(got))
		}
	}
	if st := s.Stats(); st.Delivered != n {
		t.Fatalf("stats %+v", st)
	}
}

// TestFarHorizonUsesDayBuckets: messages weeks and a year ahead go to one
// index file per day, are moved into minute buckets when their day comes
// within the horizon (across a restart too), and are delivered on time.
func TestFarHorizonUsesDayBuckets(t *testing.T) {
	h := newHarness(t)
	year := 365 * 24 * time.Hour
	for i := range 50 {
		h.schedule("", fmt.Sprint("year-", i), year+time.Duration(i)*time.Minute)
	}
	h.schedule("", "40d", 40*24*time.Hour)
	h.schedule("", "3d", 3*24*time.Hour)
	h.s.step()
	var days, minutes int
	for _, f := range bucketFiles(t, h.dir) {
		if _, ok := parseBucketName(f, dayPrefix); ok {
			days++
		} else {
			minutes++
		}
	}
	if days != 3 || minutes != 0 {
		t.Fatalf("%d day files and %d minute files, want 3 and 0", days, minutes)
	}
	h.advance(3*24*time.Hour-time.Minute, time.Hour)
	h.expect()
	h.advance(2*time.Minute, time.Second)
	h.expect("3d")
	h.restart()
	h.advance(37*24*time.Hour-2*time.Minute, time.Hour)
	h.expect("3d")
	h.advance(4*time.Minute, time.Second)
	h.expect("3d", "40d")
	h.crash()
	h.advance(year-40*24*time.Hour-4*time.Minute, 6*time.Hour)
	h.expect("3d", "40d")
	h.advance(60*time.Minute, 10*time.Second)
	if got := len(h.tg.values()); got != 52 {
		t.Fatalf("delivered %d of 52", got)
	}
	for _, d := range h.tg.got {
		var i int
		if _, err := fmt.Sscanf(d.value, "year-%d", &i); err == nil {
			if due := epoch.Add(year + time.Duration(i)*time.Minute); d.at.Before(due) || d.at.Sub(due) > 10*time.Second {
				t.Fatalf("%s delivered at %v, due %v", d.value, d.at, due)
			}
		}
	}
	h.s.step()
	if files := bucketFiles(t, h.dir); len(files) != 0 {
		t.Fatalf("index files left: %v", files)
	}
}

// TestCancelsArePrunedOnceNothingOlderIsPending: a cancel is kept while a
// message scheduled before it is pending (even one with another key: the
// scheduler cannot know which keys are pending without an index by key),
// and forgotten once none is, across a restart too.
func TestCancelsArePrunedOnceNothingOlderIsPending(t *testing.T) {
	h := newHarness(t)
	h.cfg.CancelPruneEvery = time.Minute
	h.open()
	h.schedule("k", "cancelled", time.Minute)
	h.schedule("other", "later", time.Hour)
	if err := h.s.Cancel("orders", []byte("k")); err != nil {
		t.Fatal(err)
	}
	h.advance(30*time.Minute, time.Minute)
	if n := len(h.s.cancels); n != 1 {
		t.Fatalf("%d cancels kept while an older message is pending, want 1", n)
	}
	h.schedule("k", "after the cancel", 2*time.Hour) // newer than the cancel: does not keep it
	h.advance(31*time.Minute, time.Minute)
	h.expect("later")
	h.advance(2*time.Minute, time.Minute)
	if n := len(h.s.cancels); n != 0 {
		t.Fatalf("%d cancels kept with nothing older pending, want 0", n)
	}
	h.restart()
	if n := len(h.s.cancels); n != 0 {
		t.Fatalf("%d cancels after a restart, want 0 (the file is rewritten)", n)
	}
	h.advance(2*time.Hour, time.Minute)
	h.expect("later", "after the cancel")
}
