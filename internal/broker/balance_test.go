package broker

import (
	"testing"

	"github.com/ferry-mq/ferry/internal/controller"
)

// With --auto-balance=false, or while a fenced broker holds replicas,
// only the moves that empty a draining broker are made.
func TestDrainsOnlyKeepsTheMovesOffDrainingBrokers(t *testing.T) {
	in := controller.BalanceInput{
		Brokers:  []int32{1, 2, 3, 4},
		Draining: []int32{4},
		Partitions: []controller.BalancePartition{
			{Topic: "t", Partition: 0, Replicas: []int32{1, 4}},
			{Topic: "t", Partition: 1, Replicas: []int32{1, 2}},
			{Topic: "u", Partition: 0, Replicas: []int32{4}},
		},
	}
	moves := []controller.BalanceMove{
		{Topic: "t", Partition: 0, Replicas: []int32{1, 3}},
		{Topic: "t", Partition: 1, Replicas: []int32{3, 2}},
		{Topic: "u", Partition: 0, Replicas: []int32{2}},
	}
	got := drainsOnly(moves, in)
	if len(got) != 2 || got[0].Topic != "t" || got[0].Partition != 0 || got[1].Topic != "u" {
		t.Fatalf("kept %+v, want the moves of t/0 and u/0", got)
	}
}
