package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

func TestLogVerify(t *testing.T) {
	data := t.TempDir()
	write := func(topic string, n int) string {
		dir := filepath.Join(data, topic)
		l, err := log.Open(dir, log.DefaultConfig(), log.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			b := log.NewBatch([]log.KeyValue{{Value: []byte{byte(i)}}}, time.Now())
			if _, err := l.Append(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	write("good-0", 3)
	bad := write("bad-0", 3)
	gone := write("gone-0.0123456789abcdef0123456789abcdef-delete", 1)
	os.WriteFile(filepath.Join(gone, "00000000000000000000.log"), []byte("garbage"), 0o644)

	out := mustRun(t, runLog, "", "verify", "--data-dir", data)
	if out != "bad-0: ok\ngood-0: ok\n" {
		t.Fatalf("verify of good logs printed %q", out)
	}
	seg := filepath.Join(bad, "00000000000000000000.log")
	b, _ := os.ReadFile(seg)
	b[len(b)-1] ^= 1
	os.WriteFile(seg, b, 0o644)

	out, _, err := runCmd(t, runLog, "", "verify", "--data-dir", data)
	if err == nil || !strings.Contains(err.Error(), "1 damaged range") {
		t.Fatalf("verify of a damaged log: %v", err)
	}
	if !strings.Contains(out, "bad-0: 1 damaged range(s)\n  00000000000000000000.log bytes [") || !strings.Contains(out, "good-0: ok") {
		t.Fatalf("verify printed %q", out)
	}
	if out := mustRun(t, runLog, "", "verify", "--data-dir", data, "--topic", "good"); out != "good-0: ok\n" {
		t.Fatalf("verify --topic good printed %q", out)
	}
}
