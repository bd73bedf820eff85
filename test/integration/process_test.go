package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	ferryBin  string
	buildErr  error

	buildDirMu sync.Mutex
	buildDir   string // holds every binary goBuild made; TestMain removes it
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ferryBinary builds ./cmd/ferry once per test binary run.
func ferryBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { ferryBin, buildErr = goBuild("./cmd/ferry", "ferry") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ferryBin
}

// goBuild builds the main package pkg of this module (a path such as
// ./cmd/ferry) into the test run's build directory as name. It builds
// without -race whatever the tests run with.
func goBuild(pkg, name string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a module")
	}
	buildDirMu.Lock()
	if buildDir == "" {
		buildDir, err = os.MkdirTemp("", "ferry-integration-bin-")
	}
	dir := buildDir
	buildDirMu.Unlock()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// ferryProc is a `ferry serve` child process.
type ferryProc struct {
	t       testing.TB
	cmd     *exec.Cmd
	addr    string
	http    string // host:port of /metrics, /healthz, /readyz
	dataDir string
	exited  chan struct{}
	waitErr error

	mu     sync.Mutex
	stderr bytes.Buffer
}

var (
	servingRE = regexp.MustCompile(`msg="ferry is serving".* kafka=(\S+)`)
	httpRE    = regexp.MustCompile(`msg="http listening".* addr=(\S+)`)
)

// startFerry starts `ferry serve` on 127.0.0.1:0 with dataDir and waits
// until it accepts connections. Its HTTP listener is on 127.0.0.1:0 too, so
// processes started together never share a port.
func startFerry(t testing.TB, dataDir string, extra ...string) *ferryProc {
	t.Helper()
	p, err := tryStartFerry(t, dataDir, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryStartFerry is startFerry for a start that may fail: the error says
// why and holds the process's log.
func tryStartFerry(t testing.TB, dataDir string, extra ...string) (*ferryProc, error) {
	t.Helper()
	bin := ferryBinary(t)
	args := append([]string{"serve",
		"--data-dir", dataDir,
		"--kafka-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0",
		"--auto-create-topics=false",
		"--topic-default", "flush.policy=always",
		"--log-level", "info",
	}, extra...)
	p := &ferryProc{t: t, dataDir: dataDir, exited: make(chan struct{}), cmd: exec.Command(bin, args...)}
	p.cmd.Env = append(os.Environ(), "FERRY_TOPIC_DEFAULTS=")
	pr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ferry: %v", err)
	}
	// Kill only this process, by its pid, whatever happens to the test.
	t.Cleanup(p.kill)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if m := httpRE.FindStringSubmatch(line); m != nil {
				p.mu.Lock()
				p.http = strings.Trim(m[1], `"`)
				p.mu.Unlock()
			}
			if m := servingRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		return nil, fmt.Errorf("ferry exited before serving: %v\n%s", p.waitErr, p.log())
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("ferry did not report its address within 30s\n%s", p.log())
	}
	dialAddr := p.addr
	if m := tlsServingRE.FindStringSubmatch(p.log()); dialAddr == "" && m != nil {
		dialAddr = m[1] // TLS listener only (--kafka-addr "")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", dialAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("ferry at %s does not accept connections: %v\n%s", dialAddr, err, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, nil
}

// httpAddr is the process's HTTP listener address, empty if it is off.
func (p *ferryProc) httpAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.http
}

func (p *ferryProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *ferryProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the process (if still running) and waits for it.
func (p *ferryProc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *ferryProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.kill()
		p.t.Fatalf("ferry did not exit within 20s of SIGTERM\n%s", p.log())
	}
	if p.waitErr != nil {
		p.t.Fatalf("ferry exited with %v after SIGTERM\n%s", p.waitErr, p.log())
	}
}

// newestSegment returns the .log file with the highest base offset in dir.
func newestSegment(t testing.TB, dir string) string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no segment in %s (%v)", dir, err)
	}
	slices.Sort(logs) // zero-padded base offsets sort as numbers
	return logs[len(logs)-1]
}

// batchStarts returns the file positions of the record batches in a
// segment and the position after the last complete one.
func batchStarts(t testing.TB, path string) ([]int64, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var starts []int64
	pos := int64(0)
	for pos+12 <= int64(len(b)) {
		n := int64(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if n <= 0 || pos+12+n > int64(len(b)) {
			break
		}
		starts = append(starts, pos)
		pos += 12 + n
	}
	return starts, pos
}
