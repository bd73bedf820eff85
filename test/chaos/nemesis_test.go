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
// by a restart on the same data dir, or a SIGSTOP followed by a SIGCONT.
// Only one node is ever down, so a majority of the quorum stays up.
type nemesis struct {
	c   *cluster.Cluster
	rng *rand.Rand
	log func(format string, args ...any)

	mu     sync.Mutex
	events []string
	errs   []error
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
		if n.rng.IntN(2) == 0 {
			n.killAndRestart(i, d)
		} else {
			n.pause(i, d)
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

func (n *nemesis) report() (events []string, errs []error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.events, n.errs
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}
