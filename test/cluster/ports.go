package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowestPort is the bottom of the range ports are picked from: above the
// well-known and commonly configured ones.
const lowestPort = 20000

var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// freePorts returns n distinct loopback ports below the ephemeral range
// that were free a moment ago and that this process never handed out
// before.
func freePorts(n int) ([]int, error) {
	top := ephemeralLow()
	if top <= lowestPort+n {
		top = 65535 // odd range set-up: fall back to the whole space
	}
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, fmt.Errorf("cluster: no free loopback port found in [%d, %d)", lowestPort, top)
		}
		p := lowestPort + rand.IntN(top-lowestPort)
		if handedOut.ports[p] || !portFree(p) {
			continue
		}
		handedOut.ports[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// ephemeralLow is the first port Linux may assign to an outgoing
// connection (32768 when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 {
		return 32768
	}
	return n
}
