package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
)

// reopen closes b and opens a new broker on the same data dir, as a restart.
func reopen(t *testing.T, b *Broker) *Broker {
	t.Helper()
	cfg := b.cfg
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	nb, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	return nb
}

// createWithData creates topic with parts partitions and one record in each.
func createWithData(t *testing.T, b *Broker, topic string, parts int32) {
	t.Helper()
	if _, err := b.CreateTopic(topic, parts, nil, false); err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		p, err := b.Partition(topic, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Append(testBatch(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkEmpty fails if any partition of topic that is open holds a record.
func checkEmpty(t *testing.T, b *Broker, topic string, parts int32) {
	t.Helper()
	for i := range parts {
		p, err := b.Partition(topic, i)
		if err != nil {
			continue
		}
		if end := p.Log().EndOffset(); end != 0 {
			t.Fatalf("partition %s-%d of the new topic serves the deleted topic's data (end offset %d)", topic, i, end)
		}
	}
}

// pinDir makes the partition directory dir impossible to remove with
// os.RemoveAll while it can still be renamed: a read-only directory stops an
// unprivileged process from unlinking the segment files, and for root (whom
// permissions do not stop) the segment files are made immutable
// (chattr +i). It returns false if neither works here. The pin is undone at
// cleanup, wherever dir was moved.
func pinDir(t *testing.T, dir string) bool {
	t.Helper()
	dataDir := filepath.Dir(dir)
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			return false
		}
		t.Cleanup(func() {
			filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(path, 0o755)
				}
				return nil
			})
		})
		return true
	}
	segments, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segments) == 0 {
		t.Fatalf("no segment in %s", dir)
	}
	t.Cleanup(func() {
		filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".log") {
				exec.Command("chattr", "-i", path).Run()
			}
			return nil
		})
	})
	for _, seg := range segments {
		if out, err := exec.Command("chattr", "+i", seg).CombinedOutput(); err != nil {
			t.Logf("chattr +i: %v %s", err, out)
			return false
		}
	}
	return true
}

// TestRecreatedTopicIgnoresDataThatCouldNotBeRemoved: when a deleted
// topic's directory cannot be removed, a topic created again under the
// same name, without a restart, still starts empty.
func TestRecreatedTopicIgnoresDataThatCouldNotBeRemoved(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "stuck", 2)
	for i := range int32(2) {
		p, _ := b.Partition("stuck", i)
		if err := p.Sync(1); err != nil {
			t.Fatal(err)
		}
	}
	if !pinDir(t, filepath.Join(b.cfg.DataDir, "stuck-0")) {
		t.Log("cannot pin a directory here; making removals fail through the seam instead")
		b.dirs.removeAll = func(string) error { return errors.New("injected: remove fails") }
	}
	b.DeleteTopic("stuck") // the removal fails; the delete stands
	if _, err := b.CreateTopic("stuck", 2, nil, false); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, b, "stuck", 2)
	for i := range int32(2) {
		if _, err := b.Partition("stuck", i); err != nil {
			t.Fatalf("partition %d of the new topic is not open: %v", i, err)
		}
	}
}

// TestRecreatedTopicNeverOpensAnAppendOnlyDirectory: a deleted topic's
// directory that can be neither removed nor renamed (append-only, chattr
// +a, which stops root too) is never opened by a topic created again under
// the same name: the create fails for it instead.
func TestRecreatedTopicNeverOpensAnAppendOnlyDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chattr +a needs root; TestRecreatedTopicNeverOpensDirectoryItCannotMoveAway covers this through the seam")
	}
	b := newTestBroker(t)
	createWithData(t, b, "sealed", 1)
	p, _ := b.Partition("sealed", 0)
	if err := p.Sync(1); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(b.cfg.DataDir, "sealed-0")
	if out, err := exec.Command("chattr", "+a", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +a: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-a", dir).Run() })
	b.DeleteTopic("sealed") // neither the rename nor the removal can happen
	_, err := b.CreateTopic("sealed", 1, nil, false)
	checkEmpty(t, b, "sealed", 1)
	if err == nil {
		t.Fatal("create succeeded although the old directory is still in place")
	}
}

// TestRecreatedTopicNeverOpensDirectoryItCannotMoveAway: when neither the
// delete nor the create can rename the old directory away, the create
// fails for that partition rather than open the old data; after the fault
// clears, a restart moves the old directory away and the partition opens
// empty.
func TestRecreatedTopicNeverOpensDirectoryItCannotMoveAway(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "fenced", 1)
	b.dirs.rename = func(string, string) error { return errors.New("injected: rename fails") }
	b.dirs.removeAll = func(string) error { return errors.New("injected: remove fails") }
	if err := b.DeleteTopic("fenced"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateTopic("fenced", 1, nil, false); err == nil {
		t.Fatal("create succeeded although the old directory is still in place")
	} else if !strings.Contains(err.Error(), "fenced-0") {
		t.Fatalf("create error does not name the partition: %v", err)
	}
	checkEmpty(t, b, "fenced", 1)

	b = reopen(t, b) // the fault is gone with the old broker
	if _, err := b.Partition("fenced", 0); err != nil {
		t.Fatalf("partition not open after restart: %v", err)
	}
	checkEmpty(t, b, "fenced", 1)
	b.removals.Wait()
	if left, _ := filepath.Glob(filepath.Join(b.cfg.DataDir, "fenced-0.*"+deleteSuffix)); len(left) != 0 {
		t.Fatalf("old directory not removed after restart: %v", left)
	}
}

// TestStartupSetsAsideDataOfAnInterruptedDelete: a delete interrupted after
// its metadata record (the directories keep their names) leaves data no
// topic will open: start-up moves it to quarantine (it cannot tell this from
// lost metadata, so it deletes nothing), removes "-delete" leftovers, and the
// name can be reused with no old data.
func TestStartupSetsAsideDataOfAnInterruptedDelete(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "gone", 3)
	b.dirs.rename = func(string, string) error { return errors.New("injected: rename fails") }
	if err := b.DeleteTopic("gone"); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(b.cfg.DataDir, "gone.0123456789abcdef0123456789abcdef"+deleteSuffix)
	if err := os.Mkdir(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b)
	b.removals.Wait()
	entries, _ := os.ReadDir(b.cfg.DataDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "gone") {
			t.Fatalf("data of the deleted topic left in place after start-up: %s", e.Name())
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := os.Stat(filepath.Join(b.cfg.DataDir, quarantineDir, partitionDirName("gone", int32(i)), "00000000000000000000.log")); err != nil {
			t.Fatalf("partition %d not set aside in quarantine: %v", i, err)
		}
	}
	if _, err := b.CreateTopic("gone", 3, nil, false); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, b, "gone", 3)
}

// TestStartupNeverDeletesDataWhenMetadataIsLost: partition directories whose
// topic ids the metadata does not know (here the metadata log is gone, as
// after an operator's mistake) are quarantined, never removed: the sweep once
// removed every one of them.
func TestStartupNeverDeletesDataWhenMetadataIsLost(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "precious", 2)
	cfg := b.cfg
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, metaDirName)); err != nil {
		t.Fatal(err)
	}
	nb, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	nb.removals.Wait()
	for i := 0; i < 2; i++ {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, quarantineDir, partitionDirName("precious", int32(i)), "00000000000000000000.log")); err != nil {
			t.Fatalf("partition %d of a topic the metadata lost is gone: %v", i, err)
		}
	}
}

// TestStartupAdoptsPartitionDirsWithoutID: data written before partition
// directories carried a topic id keeps working; the id is recorded.
func TestStartupAdoptsPartitionDirsWithoutID(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "legacy", 2)
	topic, _ := b.Image().Topic("legacy")
	dataDir := b.cfg.DataDir
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range int32(2) {
		removeTopicIDFile(t, filepath.Join(dataDir, partitionDirName("legacy", i)))
	}
	cfg := config.Default()
	cfg.DataDir = dataDir
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range int32(2) {
		p, err := b.Partition("legacy", i)
		if err != nil {
			t.Fatal(err)
		}
		if end := p.Log().EndOffset(); end != 1 {
			t.Fatalf("adopted partition %d has end offset %d, want 1", i, end)
		}
		id, err := readPartitionID(filepath.Join(dataDir, partitionDirName("legacy", i)))
		if err != nil || id != topic.ID {
			t.Fatalf("partition %d: recorded id %x (%v), want %x", i, id, err, topic.ID)
		}
	}
}

// TestStartupQuarantinesUnknownPartitionDirs: a partition directory with
// no id that belongs to no live topic is moved aside, not opened by a
// later create, and not deleted.
func TestStartupQuarantinesUnknownPartitionDirs(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "ghost", 1)
	removeTopicIDFile(t, filepath.Join(b.cfg.DataDir, "ghost-0"))
	// Forget the topic without touching its directory, as a broker from
	// before topic ids did when it stopped halfway through a delete.
	b.dirs.rename = func(string, string) error { return errors.New("injected: rename fails") }
	if err := b.DeleteTopic("ghost"); err != nil {
		t.Fatal(err)
	}
	b = reopen(t, b)
	if _, err := os.Stat(filepath.Join(b.cfg.DataDir, quarantineDir, "ghost-0", "00000000000000000000.log")); err != nil {
		t.Fatalf("directory not quarantined: %v", err)
	}
	if _, err := b.CreateTopic("ghost", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	checkEmpty(t, b, "ghost", 1)
}

// TestCreateMovesAwayDirectoryItDidNotWrite: a directory that appears
// under a new partition's name while the broker runs is never opened as
// the new partition, whether it carries another topic's id or none.
func TestCreateMovesAwayDirectoryItDidNotWrite(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "src", 1)
	p, _ := b.Partition("src", 0)
	p.Log().Sync(1)
	src := filepath.Join(b.cfg.DataDir, "src-0")
	copyDir(t, src, filepath.Join(b.cfg.DataDir, "foreign-0"))
	copyDir(t, src, filepath.Join(b.cfg.DataDir, "noid-0"))
	removeTopicIDFile(t, filepath.Join(b.cfg.DataDir, "noid-0"))
	for _, name := range []string{"foreign", "noid"} {
		if _, err := b.CreateTopic(name, 1, nil, false); err != nil {
			t.Fatal(err)
		}
		checkEmpty(t, b, name, 1)
	}
	if _, err := os.Stat(filepath.Join(b.cfg.DataDir, quarantineDir, "noid-0")); err != nil {
		t.Fatalf("id-less directory not quarantined: %v", err)
	}
}

func removeTopicIDFile(t *testing.T, dir string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, topicIDFilePrefix+"*"))
	if len(names) != 1 {
		t.Fatalf("%s holds topic-id files %v, want one", dir, names)
	}
	if err := os.Remove(names[0]); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies a live partition directory. A file that vanishes between
// the listing and its copy (the log's background recovery-point write, a
// temp file renamed into place) is skipped, as a copy taken a moment later
// would not have it.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestParsePartitionDirName(t *testing.T) {
	for _, c := range []struct {
		name  string
		topic string
		index int32
		ok    bool
	}{
		{"a-0", "a", 0, true},
		{"my-topic-12", "my-topic", 12, true},
		{"a.b_c-3", "a.b_c", 3, true},
		{"a-01", "", 0, false},
		{"a-", "", 0, false},
		{"-1", "", 0, false},
		{"a-+1", "", 0, false},
		{"a-1.0123456789abcdef0123456789abcdef-delete", "", 0, false},
		{"__meta", "", 0, false},
		{"a-99999999999", "", 0, false},
	} {
		topic, index, ok := parsePartitionDirName(c.name)
		if ok != c.ok || topic != c.topic || index != c.index {
			t.Errorf("parsePartitionDirName(%q) = %q, %d, %v; want %q, %d, %v", c.name, topic, index, ok, c.topic, c.index, c.ok)
		}
	}
}

func TestPartitionIDRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := readPartitionID(dir); !errors.Is(err, errNoPartitionID) {
		t.Fatalf("missing file: err = %v", err)
	}
	id := newTopicID()
	if err := writePartitionID(dir, id); err != nil {
		t.Fatal(err)
	}
	got, err := readPartitionID(dir)
	if err != nil || got != id {
		t.Fatalf("read %x, %v; want %x", got, err, id)
	}
	if err := writePartitionID(dir, newTopicID()); err != nil {
		t.Fatal(err)
	}
	if _, err := readPartitionID(dir); err == nil || errors.Is(err, errNoPartitionID) {
		t.Fatalf("two ids: err = %v", err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, topicIDFilePrefix+"nope"), nil, 0o644)
	if _, err := readPartitionID(dir); err == nil || errors.Is(err, errNoPartitionID) {
		t.Fatalf("malformed name: err = %v", err)
	}
}

// TestStartupSummarizesDeleteLeftovers: many "-delete" leftovers give one
// WARN line with their count, not one line each (800 after an 800-partition
// delete cut short).
func TestStartupSummarizesDeleteLeftovers(t *testing.T) {
	b := newTestBroker(t)
	cfg := b.cfg
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		name := partitionDirName("old", int32(i)) + ".0123456789abcdef0123456789abcdef" + deleteSuffix
		if err := os.Mkdir(filepath.Join(cfg.DataDir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	nb, err := New(cfg, slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	nb.removals.Wait()
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "deleted topic") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "directories=20") {
		t.Fatalf("want one WARN counting 20 leftovers, got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}
