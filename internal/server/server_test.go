package server

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestBadListenAddressFailsBeforeTheDataDir: a listen address that cannot
// be bound fails before the data directory is created, with a hint that
// fits the cause — "another broker" only when the port is taken.
func TestBadListenAddressFailsBeforeTheDataDir(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		addr       string
		want       string
		wantNoHint bool // must not blame another broker
	}{
		{taken.Addr().String(), "another broker", false},
		{"127.0.0.1:99999", "not a number from 0 to 65535", true},
		{"127.0.0.1", "not host:port", true},
		{"192.0.2.1:0", "no address of this machine", true}, // TEST-NET-1, never local
	} {
		cfg := config.Default()
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.KafkaAddr = tc.addr
		srv, err := Start(cfg, nil)
		if err == nil {
			srv.Close()
			t.Errorf("--kafka-addr %s: started", tc.addr)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--kafka-addr %s: error %q does not say %q", tc.addr, err, tc.want)
		}
		if tc.wantNoHint && strings.Contains(err.Error(), "another broker") {
			t.Errorf("--kafka-addr %s: error %q blames another broker", tc.addr, err)
		}
		if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
			t.Errorf("--kafka-addr %s: data dir created before the address was checked (stat: %v)", tc.addr, err)
		}
	}
}

// TestStartServes: a good address starts and reports the bound port.
func TestStartServes(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	srv, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if strings.HasSuffix(srv.Addr(), ":0") {
		t.Fatalf("Addr() = %s, want the bound port", srv.Addr())
	}
}
