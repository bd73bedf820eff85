package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	ferryBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ferryBinary builds this package once per test run: `cluster up` starts
// its nodes from its own executable, so it must be the real ferry binary.
func ferryBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ferry-cli-bin-")
		if buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "ferry")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		ferryBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return ferryBin
}

// clusterUpProc is a running `ferry cluster up`.
type clusterUpProc struct {
	t         *testing.T
	cmd       *exec.Cmd
	bootstrap string
	pids      map[int]int // node id → pid, from its stderr
	exited    chan struct{}
	waitErr   error

	mu     sync.Mutex
	stderr strings.Builder
}

var nodePidRE = regexp.MustCompile(`(?m)^node (\d+): pid (\d+),`)

// startClusterUp runs `ferry cluster up` with args and waits for the
// bootstrap list; err is its exit and stderr when it ends first.
func startClusterUp(t *testing.T, args ...string) (*clusterUpProc, error) {
	t.Helper()
	p := &clusterUpProc{t: t, cmd: exec.Command(ferryBinary(t), append([]string{"cluster", "up"}, args...)...), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	lines := make(chan string, 1)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		defer readers.Done()
		b := make([]byte, 4096)
		for {
			n, err := stderr.Read(b)
			p.mu.Lock()
			p.stderr.Write(b[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		readers.Wait()
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.bootstrap = <-lines:
	case <-p.exited:
		return nil, fmt.Errorf("cluster up exited (%v) before printing the bootstrap list:\n%s", p.waitErr, p.log())
	case <-time.After(90 * time.Second):
		return nil, fmt.Errorf("no bootstrap list within 90s:\n%s", p.log())
	}
	// The pid lines were written before the nodes were ready; stderr's
	// reader may still be behind.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		p.pids = map[int]int{}
		for _, m := range nodePidRE.FindAllStringSubmatch(p.log(), -1) {
			id, _ := strconv.Atoi(m[1])
			pid, _ := strconv.Atoi(m[2])
			p.pids[id] = pid
		}
		if strings.Count(p.bootstrap, ",")+1 == len(p.pids) || time.Now().After(deadline) {
			break
		}
	}
	return p, nil
}

func (p *clusterUpProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill SIGKILLs cluster up (if still running) and every node it started
// that is still alive, by pid.
func (p *clusterUpProc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	for _, pid := range p.pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C would, and waits for cluster up to
// exit; it must exit 0 with every node gone.
func (p *clusterUpProc) interrupt() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.t.Fatalf("cluster up still running 60s after SIGINT:\n%s", p.log())
	}
	if p.waitErr != nil {
		p.t.Fatalf("cluster up exited with %v after SIGINT, want 0:\n%s", p.waitErr, p.log())
	}
	for id, pid := range p.pids {
		if alive(pid) {
			p.t.Errorf("node %d (pid %d) still running after cluster up exited", id, pid)
		}
	}
}

// alive reports whether a process with pid exists.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// startClusterUpFree starts a fresh 3-node cluster in dir on a random base
// port, trying another while the ports are in use.
func startClusterUpFree(t *testing.T, dir string, extra ...string) *clusterUpProc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		base := randomBasePort()
		p, err := startClusterUp(t, append([]string{"--nodes", "3", "--data-dir", dir, "--base-port", strconv.Itoa(base)}, extra...)...)
		if err == nil {
			return p
		}
		if !strings.Contains(err.Error(), "is in use") || attempt == 5 {
			t.Fatal(err)
		}
	}
}

// statusJSON runs `ferry cluster status --json` and returns its exit
// status and report.
func statusJSON(t *testing.T, brokers string) (int, clusterHealth) {
	t.Helper()
	code, out, errOut := runMain("cluster", "status", "--brokers", brokers, "--json", "--timeout", "10s")
	var h clusterHealth
	if code == 0 || code == exitOffline {
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatalf("status --json: %v\n%s\nstderr: %s", err, out, errOut)
		}
	}
	return code, h
}

// waitStatus runs status until ok accepts it, at most 30s.
func waitStatus(t *testing.T, brokers, what string, ok func(code int, h clusterHealth) bool) clusterHealth {
	t.Helper()
	var code int
	var h clusterHealth
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, h = statusJSON(t, brokers); ok(code, h) {
			return h
		}
	}
	t.Fatalf("cluster status never showed %s; last: exit %d %+v", what, code, h)
	return h
}

// TestClusterUpStatusRestart: `cluster up` starts three nodes and prints
// their bootstrap list; status over it shows three brokers, a controller
// and no problem; a node killed with SIGKILL is reported by cluster up,
// which keeps the others running, and status then shows its partition
// offline and exits 2; SIGINT stops every node and exits 0; a second
// `cluster up` on the same directory brings back the same cluster.
func TestClusterUpStatusRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	up := startClusterUpFree(t, dir)
	parts := strings.Split(up.bootstrap, ",")
	if len(parts) != 3 || len(up.pids) != 3 {
		t.Fatalf("bootstrap %q and pids %v: want 3 of each\n%s", up.bootstrap, up.pids, up.log())
	}
	for i, addr := range parts {
		if i > 0 && addr == parts[0] {
			t.Fatalf("bootstrap %q repeats an address", up.bootstrap)
		}
	}
	for id := 1; id <= 3; id++ {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("node-%d", id), "ferry.log")); err != nil {
			t.Errorf("node %d log: %v", id, err)
		}
	}

	topic := testTopic(t)
	mustRun(t, runTopic, "", "create", topic, "--partitions", "3", "--replication-factor", "1", "--brokers", up.bootstrap)
	healthy := func(code int, h clusterHealth) bool {
		return code == 0 && len(h.Brokers) == 3 && h.Controller > 0 && h.Offline == 0 && h.Partitions >= 3
	}
	h := waitStatus(t, up.bootstrap, "3 brokers, a controller and no offline partition", healthy)
	for _, b := range h.Brokers {
		if b.Unreachable != "" {
			t.Errorf("broker %d unreachable on a healthy cluster: %s", b.ID, b.Unreachable)
		}
	}
	code, out, _ := runMain("cluster", "status", "--brokers", up.bootstrap)
	if code != 0 || !regexp.MustCompile(`(?m)^3 brokers, \d+ partitions, 0 under-replicated, 0 under min ISR, 0 offline$`).MatchString(out) {
		t.Fatalf("status on a healthy cluster: exit %d\n%s", code, out)
	}

	// SIGKILL the node leading partition 0 of the topic.
	victim := int(topicLeaders(t, up.bootstrap, topic, 3)[0])
	pid, ok := up.pids[victim]
	if !ok {
		t.Fatalf("partition 0 led by %d, a node cluster up did not report", victim)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reported := fmt.Sprintf("node %d (pid %d) exited unexpectedly: signal: killed", victim, pid)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(up.log(), reported); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("cluster up did not report %q:\n%s", reported, up.log())
		}
	}
	h = waitStatus(t, up.bootstrap, "partition 0 offline", func(code int, h clusterHealth) bool {
		if code != exitOffline {
			return false
		}
		for _, p := range h.Problems {
			if p.Topic == topic && p.Partition == 0 && p.Offline {
				return true
			}
		}
		return false
	})
	for otherID, otherPid := range up.pids {
		if otherID != victim && !alive(otherPid) {
			t.Errorf("node %d (pid %d) is gone after node %d was killed", otherID, otherPid, victim)
		}
	}
	// The report says how to start the node again, and that command
	// brings it back into the running cluster.
	restart := restartCommand(t, up.log(), victim)
	node := exec.Command("sh", "-c", "exec "+restart)
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait() })
	waitStatus(t, up.bootstrap, "the killed node back", healthy)
	_ = node.Process.Signal(syscall.SIGTERM)
	_ = node.Wait()
	up.interrupt()

	// Again on the same directory: no flags needed, same ports, same data.
	again, err := startClusterUp(t, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.bootstrap != up.bootstrap {
		t.Fatalf("restart printed %q, first start %q", again.bootstrap, up.bootstrap)
	}
	waitStatus(t, again.bootstrap, "the restarted cluster healthy", healthy)
	topicLeaders(t, again.bootstrap, topic, 3)
	again.interrupt()
}

// TestClusterUpNodeFailsToStart: a node that exits before the cluster is
// ready stops the others, and the error names it and shows its log.
func TestClusterUpNodeFailsToStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := filepath.Join(t.TempDir(), "cluster")
	var p *clusterUpProc
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		p, err = startClusterUp(t, "--nodes", "2", "--data-dir", dir, "--base-port", strconv.Itoa(randomBasePort()), "--", "--no-such-flag")
		if err == nil || !strings.Contains(err.Error(), "is in use") {
			break
		}
	}
	if err == nil {
		p.kill()
		t.Fatal("cluster up with a bad serve flag printed a bootstrap list")
	}
	for _, want := range []string{"exited before the cluster was ready: exit status", "no-such-flag", "ferry.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	pids := map[int]int{}
	for _, m := range nodePidRE.FindAllStringSubmatch(err.Error(), -1) {
		id, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		pids[id] = pid
	}
	for id, pid := range pids {
		if alive(pid) {
			t.Errorf("node %d (pid %d) still running", id, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// testCtx is a context for one request of a test, ended with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// randomBasePort picks a base port whose three ranges (up to base+202 for
// 3 nodes) stay below Linux's ephemeral ports (32768 up), so an outgoing
// connection elsewhere cannot take one between the check and the listen.
func randomBasePort() int { return 10000 + rand.IntN(22000) }

// topicLeaders returns the leader of each of the topic's partitions once
// a broker lists all of them with a leader: a broker applies a new topic
// a moment after the controller.
func topicLeaders(t *testing.T, brokers, topic string, partitions int) []int32 {
	t.Helper()
	adm := adminClient(t, brokers)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		md, err := adm.Metadata(testCtx(t), topic)
		if err == nil && md.Topics[topic].Err == nil && len(md.Topics[topic].Partitions) == partitions {
			leaders := make([]int32, partitions)
			for _, p := range md.Topics[topic].Partitions {
				leaders[p.Partition] = p.Leader
			}
			if !slices.Contains(leaders, -1) {
				return leaders
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: no leader for each of %d partitions within 20s (last: %+v, %v)", topic, partitions, md.Topics[topic], err)
		}
	}
}

// TestClusterStopKillsAfterGrace: a node that ignores SIGTERM gets
// SIGKILL once the grace period is over, and stopAll returns only when
// every node has exited.
func TestClusterStopKillsAfterGrace(t *testing.T) {
	var stderr strings.Builder
	u := &upRun{stderr: &stderr, exits: make(chan childExit, 2), sigs: make(chan os.Signal), grace: 2 * time.Second}
	// An ignored signal stays ignored across exec; "ready" says the
	// trap is set.
	for id, script := range []string{"echo ready; exec sleep 30", "trap '' TERM; echo ready; exec sleep 30"} {
		cmd := exec.Command("sh", "-c", script)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
			t.Fatalf("child %d: read %q, %v", id+1, line, err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		n := &childNode{id: id + 1, cmd: cmd, running: true, logPath: "log"}
		u.nodes = append(u.nodes, n)
		go func() { u.exits <- childExit{n.id, cmd.Wait()} }()
	}
	u.stopAll()
	for _, n := range u.nodes {
		if n.running || alive(n.cmd.Process.Pid) {
			t.Errorf("node %d still running after stopAll", n.id)
		}
	}
	if want := fmt.Sprintf("node 2 (pid %d): SIGKILL (still running 2s after SIGTERM)", u.nodes[1].cmd.Process.Pid); !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
	if strings.Contains(stderr.String(), "node 1 (pid") {
		t.Errorf("node 1 exited on SIGTERM but was killed:\n%s", stderr.String())
	}
}

// restartCommand is the command cluster up's report of node id's exit
// gives to start it again.
func restartCommand(t *testing.T, report string, id int) string {
	t.Helper()
	m := regexp.MustCompile(fmt.Sprintf(`node %d \(pid \d+\) exited unexpectedly: .*; to start it again: (.+)`, id)).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("no command to start node %d again in:\n%s", id, report)
	}
	return m[1]
}
