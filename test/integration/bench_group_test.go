package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkGroupRebalance measures how long a classic consumer group takes
// to take in a third member: from the creation of its client until the
// broker describes the group as Stable with 3 members owning 4 of the 12
// partitions each. Two members stay in the group throughout; between
// iterations (untimed) the third one leaves and the group settles back to
// 2 members with 6 partitions each. The members heartbeat every 100ms, the
// group's initial rebalance delay is the test broker's (groupBrokerConfig),
// and the group state is polled every 5ms, which bounds the resolution.
// With franz-go's default cooperative-sticky balancer the time is about two
// heartbeat intervals (the stable members learn of the rebalance from a
// heartbeat, revoke, and the partitions are handed out in a second round)
// plus the broker's own work: about 200ms here, 600ms with a 300ms
// heartbeat.
//
// Run with: go test -run '^$' -bench GroupRebalance ./test/integration/
func BenchmarkGroupRebalance(b *testing.B) {
	srv, _ := startGroupBroker(b, b.TempDir())
	addr := srv.Addr()
	adm := newAdmin(b, addr)
	topic := topicName(b)
	createTopic(b, adm, topic, 12)
	group := topic + "-g"

	member := func(name string) (*kgo.Client, context.CancelFunc) {
		cl := newClient(b, addr,
			kgo.ClientID(name),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.SessionTimeout(groupSession),
			kgo.HeartbeatInterval(100*time.Millisecond),
			kgo.RebalanceTimeout(10*time.Second),
			kgo.FetchMaxWait(200*time.Millisecond),
		)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for ctx.Err() == nil {
				cl.PollFetches(ctx)
			}
		}()
		return cl, cancel
	}
	// waitStable polls until the group is Stable with n members owning
	// per partitions each.
	waitStable := func(n, per int) {
		deadline := time.Now().Add(30 * time.Second)
		last := ""
		for time.Now().Before(deadline) {
			var ok bool
			if ok, last = groupIs(adm, group, n, per); ok {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.Fatalf("group %s not Stable with %d members of %d partitions within 30s (last: %s)", group, n, per, last)
	}

	for i := range 2 {
		_, cancel := member(fmt.Sprintf("stable-%d", i))
		b.Cleanup(cancel)
	}
	waitStable(2, 6)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cl, cancel := member(fmt.Sprintf("third-%d", i))
		waitStable(3, 4)
		b.StopTimer()
		cancel()
		cl.Close() // leaves the group
		waitStable(2, 6)
		b.StartTimer()
	}
}

// groupIs reports whether group is Stable with n members that own per
// partitions each, and a description of what it is otherwise.
func groupIs(adm *kadm.Client, group string, n, per int) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return false, err.Error()
	}
	g := dg[group]
	if g.Err != nil {
		return false, g.Err.Error()
	}
	if g.State != "Stable" || len(g.Members) != n {
		return false, fmt.Sprintf("%s with %d members", g.State, len(g.Members))
	}
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			return false, "assignment is not a consumer assignment"
		}
		got := 0
		for _, t := range ca.Topics {
			got += len(t.Partitions)
		}
		if got != per {
			return false, fmt.Sprintf("%s owns %d partitions", m.ClientID, got)
		}
	}
	return true, "ok"
}
