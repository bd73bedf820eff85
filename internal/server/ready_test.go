package server

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
)

// gateFS holds every file open of the partition logs until released, so a
// test can look at the node while it is still opening its data directory.
type gateFS struct {
	vfs.FS
	once    sync.Once
	blocked chan struct{} // closed when the first open is held
	release chan struct{}
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	g.once.Do(func() { close(g.blocked) })
	<-g.release
	return g.FS.OpenFile(name, flag, perm)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

// TestReadyzFlipsWhenOpen: while the broker is still opening its partition
// logs, /healthz answers 200 and /readyz 503 (saying why); once Open
// returns, /readyz answers 200, and 503 again from the start of Close.
func TestReadyzFlipsWhenOpen(t *testing.T) {
	gate := &gateFS{FS: vfs.Default, blocked: make(chan struct{}), release: make(chan struct{})}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogFS = gate
	s, err := Listen(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.HTTPAddr()
	opened := make(chan error, 1)
	go func() { opened <- s.Open() }()
	<-gate.blocked // the broker is opening a log now

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while opening: %d, want 200", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "recovering") {
		t.Errorf("/readyz while opening: %d %q, want 503 saying why", code, body)
	}
	if code, _ := get(t, base+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics while opening: %d, want 200", code)
	}
	close(gate.release)
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz once open: %d, want 200", code)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("HTTP listener still answers after Close")
	}
}

// TestHTTPAddrTakenFailsBeforeTheDataDir: an --http-addr another process
// holds fails start-up with the flag named, before the data directory is
// created.
func TestHTTPAddrTakenFailsBeforeTheDataDir(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = taken.Addr().String()
	srv, err := Start(cfg, nil)
	if err == nil {
		srv.Close()
		t.Fatal("started on a taken --http-addr")
	}
	if !strings.Contains(err.Error(), "--http-addr") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q does not name the taken address and the flag", err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir created before the HTTP address was checked (stat: %v)", err)
	}
}
