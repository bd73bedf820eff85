//go:build unix

package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"syscall"
	"testing"
)

func TestWarnFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur/filesPerPartition+1 > 1<<31-1 {
		t.Skip("open-file limit too high to exceed with an int32 partition cap")
	}
	var out bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	warnFileLimit(logger, int32(lim.Cur/filesPerPartition/2))
	if out.Len() != 0 {
		t.Fatalf("warned with room to spare: %s", out.String())
	}
	warnFileLimit(logger, int32(lim.Cur/filesPerPartition+1))
	if got := out.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "max_partitions=") {
		t.Fatalf("want one WARN naming max_partitions, got %q", got)
	}
}
