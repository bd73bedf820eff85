package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// runMain runs the ferry command line and returns its exit status, stdout
// and stderr.
func runMain(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelpGoesToStdout: -h and --help print usage to stdout and exit 0,
// so `ferry serve -h | grep` finds things; a mistake prints usage to
// stderr and exits non-zero.
func TestHelpGoesToStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "usage: ferry <command>"},
		{[]string{"--help"}, "usage: ferry <command>"},
		{[]string{"serve", "-h"}, "-kafka-addr"},
		{[]string{"serve", "--help"}, "FERRY_PPROF_ADDR"},
		{[]string{"produce", "--help"}, "-timeout"},
		{[]string{"consume", "-h"}, "-brokers"},
		{[]string{"topic", "-h"}, "usage: ferry topic"},
		{[]string{"topic", "create", "NAME", "-h"}, "-partitions"},
		{[]string{"group", "list", "--help"}, "-state"},
		{[]string{"bench", "produce", "-h"}, "-records"},
		{[]string{"cluster", "-h"}, "usage: ferry cluster"},
		{[]string{"cluster", "up", "-h"}, "-base-port"},
		{[]string{"cluster", "status", "--help"}, "-json"},
	} {
		code, out, errOut := runMain(tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
			t.Errorf("ferry %q: exit %d, stdout has %q: %v, stderr has %d bytes; want the help on stdout and exit 0", tc.args, code, tc.want, strings.Contains(out, tc.want), len(errOut))
		}
	}
	for _, args := range [][]string{{"produce", "--bogus"}, {"serve", "--bogus"}, {"topic", "bogus"}, {}} {
		code, out, errOut := runMain(args...)
		if code == 0 || out != "" || !strings.Contains(errOut, "usage:") {
			t.Errorf("ferry %q: exit %d, stdout %q, stderr %q; want usage on stderr and a non-zero exit", args, code, out, errOut)
		}
	}
}

// TestVersion: `ferry version` prints the module version and Go version.
func TestVersion(t *testing.T) {
	code, out, errOut := runMain("version")
	if code != 0 || !strings.HasPrefix(out, "ferry ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("ferry version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The spellings other tools taught newcomers answer the same.
	for _, arg := range []string{"--version", "-version"} {
		if code, got, errOut := runMain(arg); code != 0 || got != out {
			t.Errorf("ferry %s: exit %d, stdout %q (want %q), stderr %q", arg, code, got, out, errOut)
		}
	}
	v := buildVersion{Module: "v1.2.3", Revision: "0123456789abcdef0123", Time: "2026-01-02T03:04:05Z", Modified: true, Go: "go1.99"}
	if got, want := v.String(), "ferry v1.2.3 rev 0123456789ab (modified) 2026-01-02T03:04:05Z go1.99"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

// TestServeStartupLogsVersionAndUnknownEnv: serve logs its version first
// and warns about a FERRY_* variable no setting reads, naming the closest
// one; a bad address then stops it before the data dir is made.
func TestServeStartupLogsVersionAndUnknownEnv(t *testing.T) {
	t.Setenv("FERRY_DATADIR", "/tmp/typo")
	dir := filepath.Join(t.TempDir(), "data")
	code, _, errOut := runMain("serve", "--data-dir", dir, "--kafka-addr", "127.0.0.1:99999")
	if code == 0 {
		t.Fatal("serve with port 99999 exited 0")
	}
	for _, want := range []string{"ferry starting", "version=", "go=" + runtime.Version(),
		"level=WARN", "var=FERRY_DATADIR", "did_you_mean=FERRY_DATA_DIR", "not a number from 0 to 65535"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("serve's stderr lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir exists after a bad address (stat: %v)", err)
	}
}
