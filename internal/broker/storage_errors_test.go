package broker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
	"github.com/ferry-mq/ferry/internal/vfs/errorfs"
)

// logCapture keeps every ERROR record logged through its handlers, as
// "message k=v k=v ...".
type logCapture struct {
	mu     sync.Mutex
	errors []string
}

// captureHandler is a slog.Handler recording into a logCapture.
type captureHandler struct {
	c     *logCapture
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) WithGroup(string) slog.Handler            { return h }
func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{h.c, append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.c.mu.Lock()
	h.c.errors = append(h.c.errors, b.String())
	h.c.mu.Unlock()
	return nil
}

func (c *logCapture) errorLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errors...)
}

// TestStorageFailureIsLoggedRateLimitedAndRecovers: appends that fail in
// the file system give producers KAFKA_STORAGE_ERROR and the operator one
// ERROR line per partition per storageErrorInterval, naming the partition
// and the OS error and counting the failures held back; once writes work
// again the partition takes appends without a restart.
func TestStorageFailureIsLoggedRateLimitedAndRecovers(t *testing.T) {
	logs := &logCapture{}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	efs := errorfs.New(vfs.Default)
	cfg.LogFS = efs
	b, err := New(cfg, slog.New(captureHandler{c: logs}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := b.CreateTopic("full", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Partition("full", 0)
	if _, err := p.Append(testBatch(t)); err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_000_000, 0)
	p.storageErrs.now = func() time.Time { return clock }

	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ENOSPC})
	restore := efs.Reset
	const failures = 5
	for i := 0; i < failures; i++ {
		_, err := p.Append(testBatch(t))
		if !errors.Is(err, kerr.KafkaStorageError) {
			restore()
			t.Fatalf("append %d with writes failing: err = %v, want KAFKA_STORAGE_ERROR", i, err)
		}
		clock = clock.Add(time.Second)
	}
	clock = clock.Add(storageErrorInterval)
	_, err = p.Append(testBatch(t))
	restore()
	if !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("last append with writes failing: err = %v", err)
	}

	lines := logs.errorLines()
	if len(lines) != 2 {
		t.Fatalf("want 2 ERROR lines for %d failures over %v, got %d:\n%s", failures+1, storageErrorInterval, len(lines), strings.Join(lines, "\n"))
	}
	for i, want := range []string{"suppressed_since_last=0", "suppressed_since_last=4"} {
		for _, part := range []string{want, "topic=full", "partition=0", "no space left on device", "op=append"} {
			if !strings.Contains(lines[i], part) {
				t.Errorf("ERROR line %d lacks %q: %s", i, part, lines[i])
			}
		}
	}

	res, err := p.Append(testBatch(t))
	if err != nil {
		t.Fatalf("append after writes work again: %v", err)
	}
	if err := p.Sync(res.LastOffset + 1); err != nil {
		t.Fatalf("sync after writes work again: %v", err)
	}
	if res.BaseOffset != 1 {
		t.Fatalf("recovered append landed at offset %d, want 1 (right after the last good one)", res.BaseOffset)
	}
}
