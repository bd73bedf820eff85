package log

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func epochOf(b []byte) int32 { return int32(binary.BigEndian.Uint32(b[offLeaderEpoch:])) }

func wantEpochs(t *testing.T, l *Log, want ...EpochEntry) {
	t.Helper()
	if got := l.LeaderEpochs(); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("leader epochs %v, want %v", got, want)
	}
}

// Append writes the log's leader epoch into each batch (bytes 12..16, outside
// the CRC) and records where each epoch begins.
func TestAppendStampsLeaderEpoch(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	mustAppend(t, l, batchN(t, 3, 1)) // makeBatch says -1
	mustAppend(t, l, batchN(t, 2, 1))
	if err := l.SetLeaderEpoch(4); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, batchN(t, 1, 1))
	batches := readBatches(t, l) // checks the CRCs too
	for i, want := range []int32{0, 0, 4} {
		if got := epochOf(batches[i]); got != want {
			t.Fatalf("batch %d has leader epoch %d, want %d", i, got, want)
		}
	}
	wantEpochs(t, l, EpochEntry{0, 0}, EpochEntry{4, 5})
	if err := l.SetLeaderEpoch(3); err == nil {
		t.Fatal("SetLeaderEpoch went backwards")
	}
	b, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "0\n2\n0 0\n4 5\n" {
		t.Fatalf("checkpoint file %q", b)
	}
}

// The checkpoint survives a reopen, and the reopened log keeps stamping its
// latest epoch.
func TestEpochCheckpointReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, batchN(t, 2, 1))
	l.SetLeaderEpoch(2)
	mustAppend(t, l, batchN(t, 2, 1))
	l.Close()
	l = openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	wantEpochs(t, l, EpochEntry{0, 0}, EpochEntry{2, 2})
	if l.LeaderEpoch() != 2 {
		t.Fatalf("leader epoch %d after reopen, want 2", l.LeaderEpoch())
	}
}

// A missing or damaged checkpoint is rebuilt from the batch headers; an
// entry past the log end (written before a batch a crash lost) is dropped.
func TestEpochCheckpointRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content *string
	}{
		{"garbage", ptr("0\n3\n0 0\n")},
		{"not increasing", ptr("0\n2\n3 4\n1 9\n")},
		{"past the end", ptr("0\n3\n0 0\n2 3\n9 100\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs logBuffer
			l := openLog(t, dir, testConfig(), logs.options())
			mustAppend(t, l, batchN(t, 3, 1))
			l.SetLeaderEpoch(2)
			mustAppend(t, l, batchN(t, 2, 1))
			crash(l)
			path := filepath.Join(dir, leaderEpochFile)
			if tc.content == nil {
				os.Remove(path)
			} else if err := os.WriteFile(path, []byte(*tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, testConfig(), logs.options())
			defer l.Close()
			wantEpochs(t, l, EpochEntry{0, 0}, EpochEntry{2, 3})
			b, _ := os.ReadFile(path)
			if string(b) != "0\n2\n0 0\n2 3\n" {
				t.Fatalf("checkpoint not rewritten: %q", b)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// An epoch whose batch is past the recovery point but missing from the
// checkpoint is found by recovery's scan of the tail.
func TestEpochCheckpointFromScannedTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, batchN(t, 2, 1))
	l.Close() // recovery point at 2
	old, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, testConfig(), Options{})
	l.SetLeaderEpoch(6)
	mustAppend(t, l, batchN(t, 2, 1))
	crash(l)
	if err := os.WriteFile(filepath.Join(dir, leaderEpochFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	wantEpochs(t, l, EpochEntry{0, 0}, EpochEntry{6, 2})
}

// EndOffsetForEpoch follows Kafka's LeaderEpochFileCache.endOffsetFor.
func TestEndOffsetForEpoch(t *testing.T) {
	l := openLog(t, t.TempDir(), testConfig(), Options{})
	defer l.Close()
	if e, o := l.EndOffsetForEpoch(0); e != 0 || o != 0 {
		t.Fatalf("empty log, epoch 0: (%d, %d), want (0, 0)", e, o)
	}
	for _, step := range []struct {
		epoch int32
		n     int
	}{{0, 10}, {2, 10}, {5, 10}} { // epoch 0: [0,10), 2: [10,20), 5: [20,30)
		l.SetLeaderEpoch(step.epoch)
		mustAppend(t, l, batchN(t, step.n, 1))
	}
	check := func(req, wantEpoch int32, wantEnd int64) {
		t.Helper()
		if e, o := l.EndOffsetForEpoch(req); e != wantEpoch || o != wantEnd {
			t.Fatalf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", req, e, o, wantEpoch, wantEnd)
		}
	}
	check(-1, -1, -1)
	check(0, 0, 10)
	check(1, 0, 10)
	check(2, 2, 20)
	check(4, 2, 20)
	check(5, 5, 30)
	check(6, -1, -1)
	// A new leader epoch counts from the log end before its first batch.
	l.SetLeaderEpoch(7)
	check(5, 5, 30)
	check(6, 5, 30)
	check(7, 7, 30)
	check(8, -1, -1)

	// A log whose first known epoch is 3: below it, Kafka answers the
	// requested epoch with the first epoch's start offset.
	f := openLog(t, t.TempDir(), testConfig(), Options{})
	defer f.Close()
	b := batchN(t, 2, 1)
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 3)
	if _, err := f.AppendAsFollower(b); err != nil {
		t.Fatal(err)
	}
	if e, o := f.EndOffsetForEpoch(1); e != 1 || o != 0 {
		t.Fatalf("below the first epoch: (%d, %d), want (1, 0)", e, o)
	}
}

// A follower copies the leader's batches byte for byte, offsets and epochs
// included, and refuses batches that do not continue its log.
func TestAppendAsFollower(t *testing.T) {
	leader := openLog(t, t.TempDir(), testConfig(), Options{})
	defer leader.Close()
	mustAppend(t, leader, batchN(t, 3, 1))
	leader.SetLeaderEpoch(2)
	mustAppend(t, leader, batchN(t, 2, 1))
	mustAppend(t, leader, batchN(t, 1, 1))
	src := readBatches(t, leader)

	f := openLog(t, t.TempDir(), testConfig(), Options{})
	defer f.Close()
	if _, err := f.AppendAsFollower(clone(src[1])); !errors.Is(err, ErrNotAtLogEnd) {
		t.Fatalf("batch at 3 into an empty log: %v, want ErrNotAtLogEnd", err)
	}
	for _, b := range src {
		res, err := f.AppendAsFollower(clone(b))
		if err != nil {
			t.Fatal(err)
		}
		if h := decodeHeader(b); res.BaseOffset != h.BaseOffset {
			t.Fatalf("appended at %d, want %d", res.BaseOffset, h.BaseOffset)
		}
	}
	got := readBatches(t, f)
	if !reflect.DeepEqual(got, src) {
		t.Fatal("follower's batches differ from the leader's")
	}
	wantEpochs(t, f, leader.LeaderEpochs()...)

	// Lower epoch, bad CRC, missing epoch.
	b := batchN(t, 1, 1)
	putBaseOffset(b, f.EndOffset())
	putLeaderEpoch(b, 1)
	if _, err := f.AppendAsFollower(b); !errors.Is(err, ErrEpochOrder) {
		t.Fatalf("lower epoch: %v, want ErrEpochOrder", err)
	}
	putLeaderEpoch(b, -1)
	if _, err := f.AppendAsFollower(b); !errors.Is(err, ErrEpochOrder) {
		t.Fatalf("no epoch: %v, want ErrEpochOrder", err)
	}
	putLeaderEpoch(b, 2)
	b[len(b)-1] ^= 1
	if _, err := f.AppendAsFollower(b); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("bad CRC: %v, want ErrCorruptBatch", err)
	}
	if f.EndOffset() != leader.EndOffset() {
		t.Fatalf("refused batches moved the end to %d", f.EndOffset())
	}
}

// Retention drops the epochs that ended before the new log start and moves
// the start of the epoch holding it, as Kafka's truncateFromStart does.
func TestEpochsAfterRetention(t *testing.T) {
	dir := t.TempDir()
	l, _ := buildEpochLog(t, dir, Options{}) // epochs 0@0, 1@8, 3@16
	cfg := truncateConfig()
	cfg.RetentionAge = -1               // the test batches are from 1970
	cfg.RetentionBytes = l.Size()/2 - 1 // 4 segments of 3 batches: keeps the last 2
	if err := l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if n, err := l.EnforceRetention(); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments: %v", n, err)
	}
	start := l.StartOffset()
	if start <= 8 || start >= 16 {
		t.Fatalf("start %d: want it inside epoch 1 for this test", start)
	}
	wantEpochs(t, l, EpochEntry{1, start}, EpochEntry{3, 16})
	l.Close()
	l = openLog(t, dir, cfg, Options{})
	defer l.Close()
	wantEpochs(t, l, EpochEntry{1, start}, EpochEntry{3, 16})
}

// A log with batches but no checkpoint was written before epochs were
// stamped: its header fields hold what producers sent (sarama 0, franz-go
// -1, anything from others), so the log counts them all as epoch 0 rather
// than adopting a producer's number as its leader epoch.
func TestEpochCheckpointMissing(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, testConfig(), Options{})
	mustAppend(t, l, batchN(t, 3, 1))
	l.SetLeaderEpoch(7) // as a producer's value in an old log
	mustAppend(t, l, batchN(t, 2, 1))
	crash(l)
	os.Remove(filepath.Join(dir, leaderEpochFile))
	l = openLog(t, dir, testConfig(), Options{})
	defer l.Close()
	wantEpochs(t, l, EpochEntry{0, 0})
	if l.LeaderEpoch() != 0 {
		t.Fatalf("leader epoch %d, want 0", l.LeaderEpoch())
	}
	if res := mustAppend(t, l, batchN(t, 1, 1)); epochOf(readBatches(t, l)[2]) != 0 || res.BaseOffset != 5 {
		t.Fatal("append after the upgrade not stamped with epoch 0")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, leaderEpochFile)); string(b) != "0\n1\n0 0\n" {
		t.Fatalf("checkpoint %q", b)
	}
}
