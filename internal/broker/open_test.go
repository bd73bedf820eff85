package broker

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartupOpensEveryPartitionAndSaysSo: after a restart every partition
// of every topic is open with its data, and the start-up log says how many
// partitions opened and how long it took.
func TestStartupOpensEveryPartitionAndSaysSo(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "many", 40)
	createWithData(t, b, "few", 2)
	cfg := b.cfg
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	b, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for topic, n := range map[string]int32{"many": 40, "few": 2} {
		for i := range n {
			p, err := b.Partition(topic, i)
			if err != nil {
				t.Fatalf("%s-%d not open: %v", topic, i, err)
			}
			if end := p.Log().EndOffset(); end != 1 {
				t.Fatalf("%s-%d end offset %d, want 1", topic, i, end)
			}
		}
	}
	m := regexp.MustCompile(`msg="partitions opened" partitions=(\d+) .*took=\S+`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no start-up line with the partition count and time:\n%s", logs.String())
	}
	if n, _ := strconv.Atoi(m[1]); n < 42 {
		t.Fatalf("start-up log says %d partitions opened, want at least 42", n)
	}
}

// TestStartupNamesThePartitionThatFailed: a partition that cannot open
// stops the start with an error naming it, whatever else opens in parallel.
func TestStartupNamesThePartitionThatFailed(t *testing.T) {
	b := newTestBroker(t)
	createWithData(t, b, "sound", 8)
	createWithData(t, b, "broken", 8)
	cfg := b.cfg
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(cfg.DataDir, "broken-5", "00000000000000000000.log")
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(seg, 0o755); err != nil { // a segment that cannot be opened as a file
		t.Fatal(err)
	}
	b, err := New(cfg, nil)
	if err == nil {
		b.Close()
		t.Fatal("broker started with a partition that cannot open")
	}
	if !strings.Contains(err.Error(), "broken-5") {
		t.Fatalf("error does not name the partition: %v", err)
	}
	// The failed start left nothing open: a fixed dir starts.
	os.Remove(seg)
	b, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
}
