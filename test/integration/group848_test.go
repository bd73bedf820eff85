package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/server"
)

// KIP-848 consumer groups end to end: franz-go members opted in with
// kgo.ServerSideBalancer against an in-process broker with a short
// consumer-group session timeout.

func start848Broker(t *testing.T) *server.Server {
	t.Helper()
	cfg := groupBrokerConfig(t.TempDir())
	cfg.GroupConsumerSessionTimeout = 3 * time.Second
	cfg.GroupConsumerHeartbeatInterval = 300 * time.Millisecond
	srv, _ := startServer(t, cfg)
	return srv
}

// describe848 returns each member's owned partitions by client id (plus
// the group state), failing the snapshot if two members own one partition.
func describe848(ctx context.Context, cl *kgo.Client, groupID string) (owned map[string][]int32, state string, overlap string, err error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{groupID}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, "", "", err
	}
	if len(resp.Groups) != 1 {
		return nil, "", "", fmt.Errorf("%d groups in response", len(resp.Groups))
	}
	g := resp.Groups[0]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		return nil, "", "", err
	}
	owned = map[string][]int32{}
	by := map[string]string{}
	for _, m := range g.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			for _, p := range tp.Partitions {
				k := fmt.Sprintf("%s/%d", tp.Topic, p)
				if o, ok := by[k]; ok {
					overlap += fmt.Sprintf("%s owned by %s and %s; ", k, o, m.ClientID)
				}
				by[k] = m.ClientID
				owned[m.ClientID] = append(owned[m.ClientID], p)
			}
		}
	}
	return owned, g.State, overlap, nil
}

// watchDisjoint polls ConsumerGroupDescribe until stop and records every
// snapshot in which a partition is owned by two members.
func watchDisjoint(t *testing.T, cl *kgo.Client, groupID string) (stop func() []string) {
	var mu sync.Mutex
	var bad []string
	snapshots := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _, overlap, err := describe848(ctx, cl, groupID)
			if err == nil {
				mu.Lock()
				snapshots++
				if overlap != "" {
					bad = append(bad, overlap)
				}
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%d ConsumerGroupDescribe snapshots checked for disjoint ownership", snapshots)
		return bad
	}
}

func wait848Assignment(t *testing.T, cl *kgo.Client, groupID string, want map[string]int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("848 assignment %v", want), func() (bool, string) {
		owned, state, _, err := describe848(testCtx(t, 5*time.Second), cl, groupID)
		if err != nil {
			return false, err.Error()
		}
		desc := fmt.Sprintf("state %s, owned %v", state, owned)
		if state != "Stable" || len(owned) != len(want) {
			return false, desc
		}
		for k, v := range want {
			if len(owned[k]) != v {
				return false, desc
			}
		}
		return true, desc
	})
}

func start848Member(t *testing.T, addr, groupID, topic, name string, p *processed) *franzMember {
	return startFranzMember(t, addr, groupID, topic, name, p,
		kgo.ServerSideBalancer(),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
	)
}

func TestGroup848FranzRebalanceAndResume(t *testing.T) {
	t.Parallel()
	srv := start848Broker(t)
	addr := srv.Addr()
	adm := newAdmin(t, addr)
	topic := topicName(t)
	const parts = 12
	createTopic(t, adm, topic, parts)
	groupID := "g848-" + topic
	producer := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	watcher := newClient(t, addr)
	stopWatch := watchDisjoint(t, watcher, groupID)
	p := newProcessed()

	produceRound(t, producer, topic, parts, 20, 1)
	a := start848Member(t, addr, groupID, topic, "a", p)
	b := start848Member(t, addr, groupID, topic, "b", p)
	c := start848Member(t, addr, groupID, topic, "c", p)
	wait848Assignment(t, watcher, groupID, map[string]int{"a": 4, "b": 4, "c": 4})
	waitProcessed(t, p, adm, topic)

	// The group is a consumer group to the admin APIs too.
	lg, err := adm.ListGroups(testCtx(t, 5*time.Second))
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	if g, ok := lg[groupID]; !ok || g.ProtocolType != "consumer" {
		t.Fatalf("ListGroups: %+v", lg[groupID])
	}
	// A classic member cannot join it.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 5
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = groupID, 3000, 3000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	jr, err := join.RequestWith(testCtx(t, 5*time.Second), watcher)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if jr.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("classic JoinGroup to a consumer group: %v", kerr.ErrorForCode(jr.ErrorCode))
	}

	// A member that leaves hands its partitions over.
	a.close()
	wait848Assignment(t, watcher, groupID, map[string]int{"b": 6, "c": 6})
	produceRound(t, producer, topic, parts, 20, 2)
	waitProcessed(t, p, adm, topic)

	// A member that vanishes loses its partitions after its session times out.
	b.kill()
	wait848Assignment(t, watcher, groupID, map[string]int{"c": 12})
	produceRound(t, producer, topic, parts, 20, 3)
	end := waitProcessed(t, p, adm, topic)

	// The last member commits as it leaves: the group's offsets are the log end.
	c.close()
	waitCommitted(t, adm, groupID, topic, end)

	// Restarted members resume from the committed offsets.
	produceRound(t, producer, topic, parts, 5, 4)
	after := newProcessed()
	for _, name := range []string{"a2", "b2", "c2"} {
		start848Member(t, addr, groupID, topic, name, after)
	}
	wait848Assignment(t, watcher, groupID, map[string]int{"a2": 4, "b2": 4, "c2": 4})
	waitResumed(t, after, adm, topic, end)
	if n := p.missing(end); n != 0 {
		t.Fatalf("%d records never processed", n)
	}
	if bad := stopWatch(); len(bad) > 0 {
		t.Fatalf("partitions owned by two members at once: %v", bad[:min(len(bad), 5)])
	}
}

// TestGroup848RegexAssignsInternalTopic: a regex subscription that names
// __consumer_offsets is assigned it, as Kafka 4 resolves regexes against
// every topic.
func TestGroup848RegexAssignsInternalTopic(t *testing.T) {
	t.Parallel()
	srv := start848Broker(t)
	cl := newClient(t, srv.Addr())
	ctx := testCtx(t, 15*time.Second)
	md := kmsg.NewPtrMetadataRequest()
	offsets := kmsg.NewMetadataRequestTopic()
	offsets.Topic = kmsg.StringPtr("__consumer_offsets")
	md.Topics = append(md.Topics, offsets)
	mdr, err := md.RequestWith(ctx, cl)
	if err != nil || len(mdr.Topics) != 1 || mdr.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata of __consumer_offsets: %v %+v", err, mdr)
	}
	id := mdr.Topics[0].TopicID

	re := `\Q__consumer_offsets\E`
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Version = 1
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis = "g848-internal", "m-internal", 5000
	hb.SubscribedTopicRegex = &re
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp, err := hb.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.Assignment == nil || len(resp.Assignment.Topics) != 1 || resp.Assignment.Topics[0].TopicID != id {
		t.Fatalf("regex %s: %v, assignment %+v", re, kerr.ErrorForCode(resp.ErrorCode), resp.Assignment)
	}
}
