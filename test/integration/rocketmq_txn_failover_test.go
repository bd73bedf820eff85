package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRocketMQHalfMessagesFollowLeadership: on a three-node cluster, the
// node leading __rmq_half-0 is SIGKILLed while a half message sent before
// the kill is still unknown; the new leader loads it, checks it back with
// a producer of the group and commits it, and new transactional sends work
// after the move.
func TestRocketMQHalfMessagesFollowLeadership(t *testing.T) {
	rlog.SetLogLevel("error")
	args := clusterArgs(t, 3)
	rockets := make([]string, 3)
	for i := range args {
		var kafka string
		kafka, rockets[i] = freeAddrPair(t)
		args[i] = append(args[i], "--kafka-addr", kafka, "--rocketmq-addr", rockets[i],
			"--rocketmq-txn-check-interval", "300ms", "--rocketmq-txn-check-max", "1000", "--log-level", "debug")
	}
	procs, _ := startClusterNodes(t, args, nil)
	adm := newAdmin(t, procs[0].addr)
	var md kadm.Metadata
	for deadline := time.Now().Add(90 * time.Second); ; {
		md = waitTopicMetadataSoft(t, adm, halfTopicName)
		if p, ok := md.Topics[halfTopicName].Partitions[0]; ok && p.Leader >= 0 && len(p.Replicas) == 3 && len(p.ISR) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created with 3 in-sync replicas: %+v", halfTopicName, md.Topics[halfTopicName])
		}
		time.Sleep(200 * time.Millisecond)
	}
	leader := md.Topics[halfTopicName].Partitions[0].Leader
	// orders-0 has the replicas of __rmq_half-0 in the same order, so both
	// elect the same new leader: a commit appends to its target partition
	// on the node of the store, and a target led elsewhere is a known limit
	// (README).
	createAssigned(t, procs[0].addr, "orders", md.Topics[halfTopicName].Partitions[0].Replicas)
	for deadline := time.Now().Add(30 * time.Second); ; {
		p, ok := waitTopicMetadataSoft(t, adm, "orders").Topics["orders"].Partitions[0]
		if ok && p.Leader == leader && len(p.ISR) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders-0 not led by node %d with 3 in-sync replicas: %+v", leader, p)
		}
		time.Sleep(200 * time.Millisecond)
	}

	first := startClusterTxnProducer(t, rockets, "pg-move", &txnListener{})
	pendingID := sendInTxnRetrying(t, first, "orders", "pending")
	first.Shutdown()

	procs[leader-1].kill()
	var live []string
	var liveRockets []string
	for i, p := range procs {
		if int32(i+1) != leader {
			live = append(live, p.addr)
			liveRockets = append(liveRockets, rockets[i])
		}
	}
	adm2 := kadm.NewClient(newClient(t, live[0], kgo.SeedBrokers(live...)))
	var moved int32 = -1
	for deadline := time.Now().Add(60 * time.Second); moved < 0 || moved == leader; {
		if time.Now().After(deadline) {
			t.Fatalf("%s-0 never got a new leader after node %d was killed", halfTopicName, leader)
		}
		time.Sleep(200 * time.Millisecond)
		if p, ok := waitTopicMetadataSoft(t, adm2, halfTopicName).Topics[halfTopicName].Partitions[0]; ok {
			moved = p.Leader
		}
	}
	t.Logf("%s-0 moved from node %d to node %d", halfTopicName, leader, moved)

	second := startClusterTxnProducer(t, liveRockets, "pg-move", &txnListener{
		exec: map[string]primitive.LocalTransactionState{"after": primitive.CommitMessageState},
		// after too: its END_TRANSACTION may meet a check-back of it (ErrBusy),
		// and then the next check-back commits it.
		check: map[string]primitive.LocalTransactionState{"pending": primitive.CommitMessageState, "after": primitive.CommitMessageState},
	})
	sendInTxnRetrying(t, second, "orders", "after")

	newLeader := procs[moved-1]
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(newLeader.log(), "\n") {
				if strings.Contains(l, "END_TRANSACTION") || strings.Contains(l, "transaction") || strings.Contains(l, "half") {
					t.Log(l)
				}
			}
		}
	})
	want := "msgId=" + pendingID + " group=pg-move fromCheck=true"
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(newLeader.log(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("node %d never had the half message sent before the kill checked back (%q):\n%s", moved, want, newLeader.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs := consumeN(t, live[0], allFrom(1, kgo.NewOffset().AtStart()), "orders", 2, kgo.SeedBrokers(live...))
	keys := map[string]bool{}
	for _, r := range recs {
		keys[string(r.Key)] = true
	}
	if !keys["pending"] || !keys["after"] {
		t.Fatalf("orders holds %v, want the committed pending and after", keys)
	}
}

// halfTopicName is the RocketMQ front's internal topic of half messages.
const halfTopicName = "__rmq_half"

// startClusterTxnProducer is startTxnProducer with every node as a name
// server, and retries left to sendInTxnRetrying.
func startClusterTxnProducer(t *testing.T, rockets []string, group string, l *txnListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver(rockets)),
		producer.WithGroupName(group),
		producer.WithInstanceName(fmt.Sprintf("move-%d", time.Now().UnixNano())),
		producer.WithSendMsgTimeout(10*time.Second),
		producer.WithRetry(2),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// sendInTxnRetrying sends a message in a transaction until a node serving
// half messages takes it: the others answer SERVICE_NOT_AVAILABLE, and the
// client's own retries may not reach the right node.
func sendInTxnRetrying(t *testing.T, p rocketmq.TransactionProducer, topic, key string) string {
	t.Helper()
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		m := primitive.NewMessage(topic, []byte("body of "+key))
		m.WithKeys([]string{key})
		res, err := p.SendMessageInTransaction(context.Background(), m)
		if err == nil && res.Status == primitive.SendOK {
			return res.MsgID
		}
		last = fmt.Errorf("%v %+v", err, res)
	}
	t.Fatalf("send %s in a transaction: no node took it: %v", key, last)
	return ""
}

// createAssigned creates a one-partition topic on the given replicas, the
// first leading.
func createAssigned(t *testing.T, addr, topic string, replicas []int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), newClient(t, addr))
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create %s on %v: %v", topic, replicas, err)
	}
}
