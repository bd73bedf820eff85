package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Voter is one member of the controller quorum.
type Voter struct {
	NodeID int32
	Addr   string // controller host:port
}

// ParseQuorum reads --controller-quorum: id@host:port, comma-separated.
func ParseQuorum(s string) ([]Voter, error) {
	var out []Voter
	seen := map[int32]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, addr, ok := strings.Cut(part, "@")
		if !ok {
			return nil, fmt.Errorf("controller quorum entry %q is not id@host:port", part)
		}
		n, err := strconv.ParseInt(id, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("controller quorum entry %q: node id %q is not a non-negative number", part, id)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("controller quorum entry %q: %v", part, err)
		}
		if seen[int32(n)] {
			return nil, fmt.Errorf("controller quorum names node %d twice", n)
		}
		seen[int32(n)] = true
		out = append(out, Voter{NodeID: int32(n), Addr: addr})
	}
	return out, nil
}
