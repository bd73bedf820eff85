package kafka_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// A fetch of an offset the log quarantined as damaged answers CORRUPT_MESSAGE
// for that partition; offsets around it are still served.
func TestFetchDamagedRangeIsCorruptMessage(t *testing.T) {
	dir := t.TempDir()
	start := func() (*server.Server, *rawClient) {
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.KafkaAddr = "127.0.0.1:0"
		srv, err := server.Start(cfg, slog.New(captureHandler{c: &logCapture{}}))
		if err != nil {
			t.Fatal(err)
		}
		return srv, (&testBroker{addr: srv.Addr()}).dial(t)
	}
	const topic = "damaged"
	srv, c := start()
	// One batch per segment, so that the corrupt one is sealed.
	c.mustCreate(topic, 1, map[string]string{"segment.bytes": "100"})
	for _, v := range []string{"zero", "one", "two", "three"} {
		if code, _ := c.produce(topic, 0, makeBatch(noProducer, v)); code != 0 {
			t.Fatalf("produce: error %d", code)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	// Flip a byte of offset 1's record and drop its time index: the next
	// open re-validates the segment and quarantines the batch.
	var logs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".log") && strings.Contains(filepath.Base(filepath.Dir(p)), topic) {
			logs = append(logs, p)
		}
		return nil
	})
	sort.Strings(logs)
	if len(logs) < 3 {
		t.Fatalf("want one segment per batch, found %q", logs)
	}
	seg := logs[1]
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] ^= 0xff
	os.WriteFile(seg, b, 0o644)
	os.Remove(strings.TrimSuffix(seg, ".log") + ".timeindex")

	srv, c = start()
	defer srv.Close()
	if code := c.fetchErr(topic, 0, 1); code != kerr.CorruptMessage.Code {
		t.Fatalf("fetch of the damaged offset: error %d, want CORRUPT_MESSAGE", code)
	}
	for _, off := range []int64{0, 2, 3} {
		if code := c.fetchErr(topic, 0, off); code != 0 {
			t.Fatalf("fetch at %d: error %d, want none", off, code)
		}
	}
	if code, off := c.produce(topic, 0, makeBatch(noProducer, "four")); code != 0 || off != 4 {
		t.Fatalf("produce after recovery: error %d at offset %d, want 4", code, off)
	}
}
