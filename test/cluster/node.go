package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Generous waits: a loaded two-core machine running three brokers and a
// workload may take many seconds to start a node or finish a shutdown.
const (
	serveTimeout    = 90 * time.Second
	shutdownTimeout = 60 * time.Second
)

// errPortTaken: the node could not listen on one of its ports.
var errPortTaken = errors.New("cluster: a port was taken")

// Node is one broker of a Cluster: its fixed addresses and data dir, and
// the process currently running it, if any.
type Node struct {
	ID             int32
	KafkaAddr      string
	ControllerAddr string
	HTTPAddr       string // /metrics, /healthz, /readyz
	DataDir        string
	LogPath        string // stderr of every run, appended

	bin  string
	args []string

	mu     sync.Mutex
	proc   *process // nil when not started or reaped after Kill/Shutdown
	paused bool
	starts int
}

// process is one run of `ferry serve`.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // valid once exited is closed
	log     *os.File
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// startLocked runs the node and waits until it serves and accepts
// connections. REQUIRES: n.mu held, no process running.
func (n *Node) startLocked() error {
	w, err := n.spawnLocked()
	if err != nil {
		return err
	}
	return n.waitServingLocked(w)
}

// spawnLocked starts the node's process and returns at once; the
// watcher says when it serves. REQUIRES: n.mu held, no process running.
func (n *Node) spawnLocked() (*serveWatcher, error) {
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	n.starts++
	fmt.Fprintf(f, "=== cluster: start #%d of node %d at %s ===\n", n.starts, n.ID, time.Now().UTC().Format(time.RFC3339Nano))
	w := &serveWatcher{out: f, serving: make(chan struct{})}
	cmd := exec.Command(n.bin, n.args...)
	cmd.Env = childEnv()
	cmd.SysProcAttr = procAttr()
	cmd.Stdout = f
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start node %d: %v", n.ID, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), log: f}
	go func() {
		p.waitErr = cmd.Wait()
		fmt.Fprintf(f, "=== cluster: node %d exited: %v ===\n", n.ID, p.waitErr)
		f.Close()
		close(p.exited)
	}()
	n.proc, n.paused = p, false
	return w, nil
}

// waitServingLocked waits until the process spawnLocked started serves
// and accepts connections. REQUIRES: n.mu held.
func (n *Node) waitServingLocked(w *serveWatcher) error {
	p := n.proc
	select {
	case <-w.serving:
	case <-p.exited:
		n.proc = nil
		if w.saw("address already in use") {
			return fmt.Errorf("node %d: %w: %v", n.ID, errPortTaken, p.waitErr)
		}
		return fmt.Errorf("node %d exited before serving: %v\n%s", n.ID, p.waitErr, n.Tail(40))
	case <-time.After(serveTimeout):
		n.killLocked()
		return fmt.Errorf("node %d did not report serving within %v\n%s", n.ID, serveTimeout, n.Tail(40))
	}
	deadline := time.Now().Add(serveTimeout)
	for {
		c, err := net.DialTimeout("tcp", n.KafkaAddr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			n.killLocked()
			return fmt.Errorf("node %d at %s does not accept connections: %v", n.ID, n.KafkaAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killLocked SIGKILLs the running process (a stopped one too) and reaps
// it. REQUIRES: n.mu held.
func (n *Node) killLocked() {
	if n.proc == nil {
		return
	}
	if n.proc.running() {
		_ = n.proc.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-n.proc.exited
	n.proc, n.paused = nil, false
}

func (n *Node) signalLocked(sig syscall.Signal) error {
	if n.proc == nil || !n.proc.running() {
		return fmt.Errorf("node %d is not running", n.ID)
	}
	return n.proc.cmd.Process.Signal(sig)
}

// Running reports whether the node's process is alive (paused or not).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && n.proc.running()
}

// Paused reports whether the node was sent SIGSTOP and not yet SIGCONT.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// died returns an error if the node's process exited although nobody
// killed or shut it down.
func (n *Node) died() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.running() {
		return fmt.Errorf("node %d exited on its own: %v", n.ID, n.proc.waitErr)
	}
	return nil
}

// Tail returns the last lines of the node's log file.
func (n *Node) Tail(lines int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	for i, cut := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if cut++; cut == lines {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// childEnv is the environment without FERRY_* variables: a node's
// settings come from its flags only.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FERRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// serveWatcher copies a node's stderr to its log file and closes serving
// at the first "ferry is serving" line.
type serveWatcher struct {
	out     *os.File
	serving chan struct{}

	mu      sync.Mutex
	partial []byte
	seen    strings.Builder // lines before serving, to find a bind error
	done    bool
}

func (w *serveWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	if !w.done {
		w.partial = append(w.partial, p...)
		for {
			i := bytes.IndexByte(w.partial, '\n')
			if i < 0 {
				break
			}
			line := string(w.partial[:i])
			w.partial = w.partial[i+1:]
			w.seen.WriteString(line + "\n")
			if strings.Contains(line, `msg="ferry is serving"`) {
				w.done, w.partial = true, nil
				close(w.serving)
				break
			}
		}
	}
	w.mu.Unlock()
	return w.out.Write(p)
}

func (w *serveWatcher) saw(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.seen.String(), s)
}
