// Package norace lets a test that drives a third-party client with data
// races of its own run without the race detector while the rest of the
// suite keeps it.
//
// rocketmq-client-go races inside itself (its consumers' rebalance against
// their own Shutdown, the orderly consumer's process queue, the pull
// consumer), so `go test -race` fails such a test whatever the broker does.
// Skipping it under -race would leave what it proves unproven in CI, which
// runs with -race; instead Rerun runs the same test again in a child
// `go test` built without the race detector, and the child's verdict is
// the test's.
package norace

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// Enabled reports whether this binary was built with -race.
const Enabled = raceEnabled

// childEnv marks the child process, which runs the test itself.
const childEnv = "FERRY_NORACE_CHILD"

// Rerun, in a binary built with -race, runs the calling top-level test in
// a child `go test` of the same package without the race detector, fails
// t if the child fails, and returns true: the caller returns at once.
// Without -race, or in the child, it returns false and the test runs here.
// why names the library's race, for the log.
func Rerun(t *testing.T, why string) bool {
	t.Helper()
	if !Enabled || os.Getenv(childEnv) != "" {
		return false
	}
	cmd := exec.Command(goTool(), "test", "-v", "-count=1", "-timeout=10m", "-run", "^"+regexp.QuoteMeta(t.Name())+"$", ".")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s without -race (%s) failed: %v\n%s", t.Name(), why, err, out)
	}
	// A pattern that matched nothing would pass silently.
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s without -race (%s): the child did not run it:\n%s", t.Name(), why, out)
	}
	t.Logf("ran in a child go test without -race (%s): %s", why, bytes.TrimSpace(lastLine(out)))
	return true
}

// goTool is the go command of the toolchain that built the test, or the
// one on PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, "\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return out
}
