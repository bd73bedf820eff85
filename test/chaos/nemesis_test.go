package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ferry-mq/ferry/test/cluster"
)

// Nemesis timing: a fault every 1-5 s, each lasting 0.5-4 s.
const (
	minCalm  = time.Second
	maxCalm  = 5 * time.Second
	minFault = 500 * time.Millisecond
	maxFault = 4 * time.Second
)

// nemesis injects one fault at a time into a cluster: a SIGKILL followed
// by a restart on the same data dir, a SIGSTOP followed by a SIGCONT, or
// a SIGKILL of a node that is starting again after one.
// Only one node is ever down, so a majority of the quorum stays up.
type nemesis struct {
	c   *cluster.Cluster
	rng *rand.Rand
	log func(format string, args ...any)

	mu     sync.Mutex
	events []string
	errs   []error
	faults map[string]int // how many faults of each kind
}

func (n *nemesis) count(kind string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.faults == nil {
		n.faults = map[string]int{}
	}
	n.faults[kind]++
}

func (n *nemesis) event(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.events = append(n.events, time.Now().UTC().Format("15:04:05.000")+" "+s)
	n.mu.Unlock()
	n.log("nemesis: %s", s)
}

func (n *nemesis) fail(err error) {
	n.mu.Lock()
	n.errs = append(n.errs, err)
	n.mu.Unlock()
	n.log("nemesis: %v", err)
}

// run injects faults until ctx is done; every fault is healed before it
// returns.
func (n *nemesis) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(between(n.rng, minCalm, maxCalm)):
		}
		i := n.rng.IntN(n.c.Len())
		d := between(n.rng, minFault, maxFault)
		switch k := n.rng.IntN(5); {
		case k < 2:
			n.count("kill+restart")
			n.killAndRestart(i, d)
		case k < 4:
			n.count("stop+cont")
			n.pause(i, d)
		default:
			n.count("kill during start-up")
			n.crashInRecovery(i, d, between(n.rng, 20*time.Millisecond, 1500*time.Millisecond))
		}
	}
}

func (n *nemesis) killAndRestart(i int, down time.Duration) {
	id := n.c.Node(i).ID
	if err := n.c.Kill(i); err != nil {
		n.fail(err)
		return
	}
	n.event("SIGKILL node %d; restart in %v", id, down.Round(time.Millisecond))
	time.Sleep(down)
	n.restart(i)
}

// crashInRecovery kills node i, starts it again after down and kills it
// again after into (while it recovers its logs or joins the quorum, if
// the machine is not too fast), then restarts it.
func (n *nemesis) crashInRecovery(i int, down, into time.Duration) {
	id := n.c.Node(i).ID
	if err := n.c.Kill(i); err != nil {
		n.fail(err)
		return
	}
	n.event("SIGKILL node %d; start in %v, SIGKILL again %v into the start", id, down.Round(time.Millisecond), into.Round(time.Millisecond))
	time.Sleep(down)
	if err := n.c.Launch(i); err != nil {
		n.fail(err)
		return
	}
	time.Sleep(into)
	if err := n.c.Kill(i); err != nil {
		n.fail(err) // it exited on its own: a crash of the broker
	}
	time.Sleep(down / 2)
	n.restart(i)
}

// restart brings node i back.
func (n *nemesis) restart(i int) {
	id := n.c.Node(i).ID
	// A restart that fails (a port taken meanwhile, a broker that refuses
	// its own data dir) is retried; the run fails if it never comes back.
	for attempt := 1; ; attempt++ {
		err := n.c.Restart(i)
		if err == nil {
			n.event("node %d restarted", id)
			return
		}
		if attempt == 3 {
			n.fail(fmt.Errorf("restart node %d: %w", id, err))
			return
		}
		n.log("nemesis: restart node %d failed, retrying: %v", id, err)
		time.Sleep(time.Second)
	}
}

func (n *nemesis) pause(i int, paused time.Duration) {
	id := n.c.Node(i).ID
	if err := n.c.Stop(i); err != nil {
		n.fail(err)
		return
	}
	// Resume whatever happens: a paused broker must never outlive its fault.
	defer func() {
		if err := n.c.Cont(i); err != nil {
			n.fail(err)
			return
		}
		n.event("SIGCONT node %d", id)
	}()
	n.event("SIGSTOP node %d for %v", id, paused.Round(time.Millisecond))
	time.Sleep(paused)
}

func (n *nemesis) report() (events []string, faults map[string]int, errs []error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.events, n.faults, n.errs
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
