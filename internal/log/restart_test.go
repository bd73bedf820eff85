package log

import (
	"errors"
	"reflect"
	"testing"
)

// A new follower of a leader whose log starts past 0 (retention removed
// the head) restarts its empty log at the leader's start, appends the
// leader's batches from there, and reopens (clean or after a crash) with
// the same start and batches. A log holding records is refused. Before
// RestartEmptyAt such a follower could append nothing (ErrNotAtLogEnd) and
// a reassignment onto it never completed.
func TestRestartEmptyAtLeaderStart(t *testing.T) {
	leader := openLog(t, t.TempDir(), testConfig(), Options{})
	defer leader.Close()
	mustAppend(t, leader, batchN(t, 3, 1))
	mustAppend(t, leader, batchN(t, 2, 1))
	src := readBatches(t, leader)[1:] // as if retention removed offsets 0-2

	dir := t.TempDir()
	f := openLog(t, dir, testConfig(), Options{})
	if _, err := f.AppendAsFollower(clone(src[0])); !errors.Is(err, ErrNotAtLogEnd) {
		t.Fatalf("batch at 3 into an empty log: %v, want ErrNotAtLogEnd", err)
	}
	if err := f.RestartEmptyAt(3); err != nil {
		t.Fatal(err)
	}
	if f.StartOffset() != 3 || f.EndOffset() != 3 || f.HighWatermark() != 3 {
		t.Fatalf("restarted log: start %d end %d hw %d, want 3", f.StartOffset(), f.EndOffset(), f.HighWatermark())
	}
	if _, err := f.AppendAsFollower(clone(src[0])); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(f.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if err := f.RestartEmptyAt(100); err == nil {
		t.Fatal("a log holding records restarted")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f = openLog(t, dir, testConfig(), Options{})
	if f.StartOffset() != 3 || f.EndOffset() != 5 || !reflect.DeepEqual(readBatches(t, f), src) {
		t.Fatalf("reopened: start %d end %d", f.StartOffset(), f.EndOffset())
	}
	crash(f)
	f = openLog(t, dir, testConfig(), Options{})
	defer f.Close()
	if f.StartOffset() != 3 || f.EndOffset() != 5 {
		t.Fatalf("after a crash: start %d end %d", f.StartOffset(), f.EndOffset())
	}
}
