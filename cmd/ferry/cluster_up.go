package main

// ferry cluster up: N `ferry serve` child processes of this same binary
// forming one cluster on loopback (layout and ports: cluster_layout.go).
// One goroutine, clusterUp's loop, owns the children's state; each child
// has a goroutine that only waits for it and reports its exit.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const clusterUpSynopsis = "ferry cluster up --nodes N --data-dir D [--base-port P] [-- serve flags...]"

// childNode is one running `ferry serve`.
type childNode struct {
	id      int
	addrs   nodeAddrs
	logPath string
	cmd     *exec.Cmd
	running bool
}

// childExit is a child's end, sent by its waiting goroutine.
type childExit struct {
	id  int
	err error // from exec.Cmd.Wait: nil for status 0
}

func clusterUp(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster up", clusterUpSynopsis, stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: %s

Starts N nodes of this binary (ferry serve) as child processes forming one
cluster on 127.0.0.1, waits until every node answers Metadata, prints the
bootstrap list on stdout and runs until Ctrl-C (SIGINT or SIGTERM), which
stops every node (SIGTERM, SIGKILL after --stop-grace). Node i listens for
Kafka on base+i-1, for its controller on base+100+i-1 and for HTTP
(metrics, console) on base+200+i-1; its data dir is D/node-i and its
output goes to D/node-i/ferry.log. Running it again on the same D restarts
the same cluster (D/cluster.json keeps --nodes and --base-port). Flags after
"--" go to every node's ferry serve.

flags:
`, clusterUpSynopsis)
		fs.PrintDefaults()
	}
	nodes := fs.Int("nodes", 3, "number of nodes, all controller voters and brokers")
	dir := fs.String("data-dir", "", "the cluster's directory (required): node i uses D/node-i")
	basePort := fs.Int("base-port", 9092, "Kafka port of node 1; node i uses base+i-1, its controller base+100+i-1")
	readyTimeout := fs.Duration("ready-timeout", 60*time.Second, "give up (and stop the nodes) when they do not all answer within this")
	stopGrace := fs.Duration("stop-grace", 15*time.Second, "on Ctrl-C, SIGKILL nodes still running this long after SIGTERM")
	extra, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *dir == "" {
		fs.Usage()
		return errors.New("--data-dir is required")
	}
	if err := checkExtraServeFlags(extra); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	layout, fresh, err := resolveLayout(*dir, clusterLayout{Nodes: *nodes, BasePort: *basePort}, given["nodes"], given["base-port"])
	if err != nil {
		return err
	}
	withHTTP := serveHasFlag("http-addr")
	if err := layout.checkPortsFree(withHTTP); err != nil {
		return err
	}
	if fresh {
		if err := saveLayout(*dir, layout); err != nil {
			return err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this binary to start the nodes: %w", err)
	}

	// Subscribe before the first child starts, so a Ctrl-C never kills
	// this process while children run.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	u := &upRun{layout: layout, dir: *dir, stderr: stderr, exits: make(chan childExit, layout.Nodes), sigs: sigs, grace: *stopGrace}
	for id := 1; id <= layout.Nodes; id++ {
		if err := u.start(exe, id, withHTTP, extra); err != nil {
			u.stopAll()
			return err
		}
	}
	started := time.Now()
	if stopped, err := u.waitReady(*readyTimeout); stopped || err != nil {
		return err
	}
	fmt.Fprintln(stdout, layout.bootstrap())
	rocket := "; RocketMQ name servers " + layout.nameServers()
	if rocketMQOff(extra) {
		rocket = "; no RocketMQ listener beside Kafka security"
	}
	fmt.Fprintf(stderr, "cluster of %d nodes ready in %v (bootstrap list above%s); Ctrl-C stops it\n", layout.Nodes, time.Since(started).Round(time.Millisecond), rocket)
	return u.serve()
}

// upRun is the state of one `cluster up`; only clusterUp's goroutine
// touches it.
type upRun struct {
	layout clusterLayout
	dir    string
	stderr io.Writer
	nodes  []*childNode
	exits  chan childExit
	sigs   chan os.Signal
	grace  time.Duration
}

// start starts node id with its output appended to its log.
func (u *upRun) start(exe string, id int, withHTTP bool, extra []string) error {
	nd := nodeDir(u.dir, id)
	if err := os.MkdirAll(nd, 0o755); err != nil {
		return err
	}
	n := &childNode{id: id, addrs: u.layout.addrs(id), logPath: filepath.Join(nd, nodeLog)}
	logf, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("node %d log: %w", id, err)
	}
	// The child writes to its own copy of the descriptor.
	defer logf.Close()
	fmt.Fprintf(logf, "=== ferry cluster up: starting node %d at %s\n", id, time.Now().UTC().Format(time.RFC3339))
	n.cmd = exec.Command(exe, u.layout.serveArgs(u.dir, id, withHTTP, extra)...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.Env = nodeEnv(os.Environ())
	n.cmd.SysProcAttr = childProcAttr()
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("starting node %d: %w", id, err)
	}
	n.running = true
	u.nodes = append(u.nodes, n)
	go func() { u.exits <- childExit{id, n.cmd.Wait()} }()
	http := ""
	if withHTTP {
		http = ", http " + n.addrs.http
	}
	if !rocketMQOff(extra) {
		http += ", rocketmq " + n.addrs.rocketmq
	}
	fmt.Fprintf(u.stderr, "node %d: pid %d, kafka %s, controller %s%s, log %s\n", id, n.cmd.Process.Pid, n.addrs.kafka, n.addrs.controller, http, n.logPath)
	return nil
}

func (u *upRun) node(id int) *childNode { return u.nodes[id-1] }

func (u *upRun) live() int {
	k := 0
	for _, n := range u.nodes {
		if n.running {
			k++
		}
	}
	return k
}

// waitReady waits until every node answers Metadata listing all the
// nodes. A node that exits first, the timeout, or a signal stops the
// others; stopped says it was a signal (not an error).
func (u *upRun) waitReady(timeout time.Duration) (stopped bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ready := make(chan int, u.layout.Nodes)
	for _, n := range u.nodes {
		go func() {
			if waitNodeAnswers(ctx, n.addrs.kafka, u.layout.Nodes) == nil {
				ready <- n.id
			}
		}()
	}
	for left := u.layout.Nodes; left > 0; {
		select {
		case <-ready:
			left--
		case e := <-u.exits:
			u.node(e.id).running = false
			err := fmt.Errorf("node %d exited before the cluster was ready: %s; its log %s ends:\n%s", e.id, exitText(e.err), u.node(e.id).logPath, logTail(u.node(e.id).logPath, 15))
			u.stopAll()
			return false, err
		case <-u.sigs:
			u.stopAll()
			return true, nil
		case <-ctx.Done():
			u.stopAll()
			return false, fmt.Errorf("the nodes did not all answer within --ready-timeout %v: see their logs, %s", timeout, filepath.Join(u.dir, "node-*", nodeLog))
		}
	}
	return false, nil
}

// serve reports children that exit until a signal stops them all.
func (u *upRun) serve() error {
	for {
		select {
		case e := <-u.exits:
			n := u.node(e.id)
			n.running = false
			fmt.Fprintf(u.stderr, "node %d (pid %d) exited unexpectedly: %s; its log: %s; %d node(s) still running; to start it again: %s\n",
				e.id, n.cmd.Process.Pid, exitText(e.err), n.logPath, u.live(), restartLine(n))
			if u.live() == 0 {
				return errors.New("every node has exited")
			}
		case <-u.sigs:
			u.stopAll()
			return nil
		}
	}
}

// restartLine is a shell command that starts n again by hand, from any
// directory, appending to its log: cluster up does not restart a node
// itself (a node that crashes should be looked at), and without it the
// only way back was to stop every node and run cluster up again.
func restartLine(n *childNode) string {
	args := slices.Clone(n.cmd.Args)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--data-dir" {
			if abs, err := filepath.Abs(args[i+1]); err == nil {
				args[i+1] = abs
			}
		}
	}
	logPath := n.logPath
	if abs, err := filepath.Abs(logPath); err == nil {
		logPath = abs
	}
	return shellJoin(args) + " >> " + shellQuote(logPath) + " 2>&1"
}

// shellJoin quotes args for sh.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// shellQuote single-quotes s unless it is made of characters sh leaves alone.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stopAll sends SIGTERM to every running child and waits for them; those
// still running after the grace period, or when a second signal comes,
// get SIGKILL.
func (u *upRun) stopAll() {
	if u.live() == 0 {
		return
	}
	fmt.Fprintf(u.stderr, "stopping %d node(s)\n", u.live())
	for _, n := range u.nodes {
		if n.running {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.NewTimer(u.grace)
	defer grace.Stop()
	killed := false
	killAll := func(why string) {
		if killed {
			return
		}
		killed = true
		for _, n := range u.nodes {
			if n.running {
				fmt.Fprintf(u.stderr, "node %d (pid %d): SIGKILL (%s)\n", n.id, n.cmd.Process.Pid, why)
				_ = n.cmd.Process.Signal(syscall.SIGKILL)
			}
		}
	}
	for u.live() > 0 {
		select {
		case e := <-u.exits:
			n := u.node(e.id)
			n.running = false
			if e.err != nil && !killed {
				fmt.Fprintf(u.stderr, "node %d stopped with %s; its log: %s\n", e.id, exitText(e.err), n.logPath)
			}
		case <-u.sigs:
			killAll("second interrupt")
		case <-grace.C:
			killAll(fmt.Sprintf("still running %v after SIGTERM", u.grace))
		}
	}
	fmt.Fprintln(u.stderr, "every node has stopped")
}

// waitNodeAnswers polls the node at addr until it answers a Metadata
// request listing at least brokers brokers, or ctx ends.
func waitNodeAnswers(ctx context.Context, addr string, brokers int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	seed := cl.SeedBrokers()[0]
	for {
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := seed.Request(rctx, req)
		cancel()
		if err == nil && len(resp.(*kmsg.MetadataResponse).Brokers) >= brokers {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// exitText describes how a child ended ("exit status 1", "signal: killed").
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// logTail returns the last n lines of the file at path, indented.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (unreadable: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, "  "+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
