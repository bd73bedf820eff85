package controller

import (
	"fmt"

	"github.com/ferry-mq/ferry/internal/meta"
)

// Place returns the placement of n new partitions over the live brokers,
// rf replicas each. Partition i is led by live[(start+i) mod len(live)]
// and followed by the brokers after it in that order, so the leaders of a
// topic are spread evenly and each broker follows as many partitions as it
// leads; start lets one-partition topics spread too. The leader is
// Replicas[0], the preferred leader, and every replica starts in the ISR.
func Place(live []int32, start int, n int32, rf int) ([]meta.Placement, error) {
	if rf < 1 || rf > len(live) {
		return nil, fmt.Errorf("replication factor %d needs as many live brokers; %d are live", rf, len(live))
	}
	if start < 0 {
		start = -start
	}
	out := make([]meta.Placement, n)
	for i := range out {
		first := (start + i) % len(live)
		replicas := make([]int32, rf)
		for j := range replicas {
			replicas[j] = live[(first+j)%len(live)]
		}
		out[i] = meta.Placement{Replicas: replicas, Leader: replicas[0], ISR: append([]int32(nil), replicas...)}
	}
	return out, nil
}
