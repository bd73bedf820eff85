package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure Start.
type Options struct {
	// Nodes is the number of brokers, all controller voters (default 3).
	Nodes int
	// Args are extra `ferry serve` flags for every node, after the
	// defaults (a repeated flag overrides a default).
	Args []string
}

// DefaultArgs are the `ferry serve` flags every node gets besides its
// identity: no auto-created topics, every acknowledged write fsynced.
var DefaultArgs = []string{
	"--auto-create-topics=false",
	"--topic-default", "flush.policy=always",
	"--group-initial-rebalance-delay", "0s",
	"--log-level", "info",
}

// Cluster is a set of `ferry serve` processes forming one controller
// quorum. Its methods are safe for concurrent use; node indexes are 0-based
// (node i has node id i+1).
type Cluster struct {
	Dir   string // logs and data dirs
	nodes []*Node
}

// Start builds the binary, starts opts.Nodes nodes together (each waits
// for a quorum before it serves) and registers their cleanup with tb. It
// fails tb if the cluster does not come up.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	bin, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ferry-cluster-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{Dir: dir}
	tb.Cleanup(func() { c.cleanup(tb) })
	for attempt := 1; ; attempt++ {
		err = c.tryStart(bin, opts)
		if err == nil {
			return c
		}
		c.killAll()
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			tb.Fatal(err)
		}
		tb.Logf("cluster: retrying with new ports: %v", err)
	}
}

func (c *Cluster) tryStart(bin string, opts Options) error {
	ports, err := freePorts(3 * opts.Nodes)
	if err != nil {
		return err
	}
	var quorum []string
	for i := range opts.Nodes {
		quorum = append(quorum, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[3*i+1]))
	}
	c.nodes = nil
	for i := range opts.Nodes {
		id := int32(i + 1)
		n := &Node{
			ID:             id,
			KafkaAddr:      "127.0.0.1:" + strconv.Itoa(ports[3*i]),
			ControllerAddr: "127.0.0.1:" + strconv.Itoa(ports[3*i+1]),
			HTTPAddr:       "127.0.0.1:" + strconv.Itoa(ports[3*i+2]),
			DataDir:        filepath.Join(c.Dir, fmt.Sprintf("node-%d", id)),
			LogPath:        filepath.Join(c.Dir, fmt.Sprintf("node-%d.log", id)),
			bin:            bin,
		}
		// A retry starts from empty data dirs: the quorum changed.
		if err := os.RemoveAll(n.DataDir); err != nil {
			return err
		}
		n.args = append([]string{"serve",
			"--node-id", strconv.Itoa(int(id)),
			"--data-dir", n.DataDir,
			"--kafka-addr", n.KafkaAddr,
			"--controller-addr", n.ControllerAddr,
			"--controller-quorum", strings.Join(quorum, ","),
			"--http-addr", n.HTTPAddr,
		}, append(append([]string(nil), DefaultArgs...), opts.Args...)...)
		c.nodes = append(c.nodes, n)
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.mu.Lock()
			defer n.mu.Unlock()
			errs[i] = n.startLocked()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Len is the number of nodes.
func (c *Cluster) Len() int { return len(c.nodes) }

// Node returns node i (0-based).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Bootstrap lists every node's Kafka address.
func (c *Cluster) Bootstrap() []string {
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.KafkaAddr)
	}
	return addrs
}

// Kill SIGKILLs node i and waits until it is gone.
func (c *Cluster) Kill(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return fmt.Errorf("kill node %d: not running", n.ID)
	}
	if !n.proc.running() {
		err := fmt.Errorf("kill node %d: it had exited on its own: %v", n.ID, n.proc.waitErr)
		n.proc = nil
		return err
	}
	n.killLocked()
	return nil
}

// Stop pauses node i with SIGSTOP.
func (c *Cluster) Stop(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.signalLocked(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP: %w", err)
	}
	n.paused = true
	return nil
}

// Cont resumes node i with SIGCONT.
func (c *Cluster) Cont(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.signalLocked(syscall.SIGCONT); err != nil {
		return fmt.Errorf("SIGCONT: %w", err)
	}
	n.paused = false
	return nil
}

// Restart starts node i again on the same data dir and addresses and
// waits until it serves. The node must not be running (Kill or Shutdown
// it first).
func (c *Cluster) Restart(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.proc.running() {
		return fmt.Errorf("restart node %d: still running", n.ID)
	}
	n.proc = nil
	return n.startLocked()
}

// Launch starts node i again like Restart but returns without waiting
// for it to serve: a test can Kill it while it recovers its data dir.
func (c *Cluster) Launch(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.proc.running() {
		return fmt.Errorf("launch node %d: still running", n.ID)
	}
	n.proc = nil
	_, err := n.spawnLocked()
	return err
}

// Shutdown resumes node i if paused, sends SIGTERM and waits for a clean
// exit; a node that does not exit in time is killed and an error returned.
func (c *Cluster) Shutdown(i int) error {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || !n.proc.running() {
		n.proc = nil
		return nil
	}
	p := n.proc
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM node %d: %v", n.ID, err)
	}
	select {
	case <-p.exited:
	case <-time.After(shutdownTimeout):
		n.killLocked()
		return fmt.Errorf("node %d did not exit within %v of SIGTERM", n.ID, shutdownTimeout)
	}
	n.proc, n.paused = nil, false
	if p.waitErr != nil {
		return fmt.Errorf("node %d exited with %v after SIGTERM", n.ID, p.waitErr)
	}
	return nil
}

// ShutdownAll shuts every node down cleanly, in parallel.
func (c *Cluster) ShutdownAll() error {
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Shutdown(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Died returns an error naming each node whose process exited although
// it was neither killed nor shut down (a crash of the broker itself).
func (c *Cluster) Died() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.died())
	}
	return errors.Join(errs...)
}

func (c *Cluster) killAll() {
	for _, n := range c.nodes {
		n.mu.Lock()
		n.killLocked()
		n.mu.Unlock()
	}
}

// cleanup kills every process; it keeps the directory and prints the tail
// of each log if the test failed.
func (c *Cluster) cleanup(tb testing.TB) {
	c.killAll()
	if !tb.Failed() {
		os.RemoveAll(c.Dir)
		return
	}
	for _, n := range c.nodes {
		tb.Logf("cluster: last lines of node %d (%s):\n%s", n.ID, n.LogPath, n.Tail(60))
	}
	tb.Logf("cluster: logs and data dirs kept in %s", c.Dir)
}
