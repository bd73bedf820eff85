package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rocketPortDistance is the distance every node of a test cluster keeps
// between its Kafka and RocketMQ ports (routes name peers by it).
const rocketPortDistance = 1000

// freeAddrPair returns a free loopback Kafka address whose port plus
// rocketPortDistance is free too, and that RocketMQ address.
func freeAddrPair(t *testing.T) (kafka, rocket string) {
	t.Helper()
	for range 100 {
		kafka = freeAddr(t)
		_, port, _ := net.SplitHostPort(kafka)
		p, _ := strconv.Atoi(port)
		rocket = net.JoinHostPort("127.0.0.1", strconv.Itoa(p+rocketPortDistance))
		if ln, err := net.Listen("tcp", rocket); err == nil {
			ln.Close()
			return kafka, rocket
		}
	}
	t.Fatal("no free pair of loopback ports")
	return "", ""
}

// TestRocketMQClusterRoutes: on a three-node cluster the route of a topic
// lists every node leading some of its partitions as a broker, with its
// own RocketMQ address, and each broker's queue i is the i-th partition
// it leads: a real RocketMQ producer that knows only node 1 sends through
// all three nodes, and every message is the record at the partition and
// offset its send result names.
func TestRocketMQClusterRoutes(t *testing.T) {
	rlog.SetLogLevel("error")
	args := clusterArgs(t, 3)
	rockets := make([]string, 3)
	for i := range args {
		var kafka string
		kafka, rockets[i] = freeAddrPair(t)
		args[i] = append(args[i], "--kafka-addr", kafka, "--rocketmq-addr", rockets[i], "--auto-create-topics=true", "--num-partitions", "6")
	}
	procs, _ := startClusterNodes(t, args, nil)
	adm := newAdmin(t, procs[0].addr)
	topic := topicName(t)
	createTopicRetrying(t, adm, topic, 6)

	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{rockets[0]})),
		producer.WithGroupName("pg-cluster"),
		producer.WithInstanceName("cluster-routes"),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(15*time.Second),
		producer.WithQueueSelector(producer.NewRoundRobinQueueSelector()),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	const n = 60
	type where struct {
		broker string
		queue  int
		offset int64
	}
	sent := map[string]where{}
	brokers := map[string]bool{}
	for i := range n {
		body := fmt.Sprintf("m-%d", i)
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		sent[body] = where{broker: res.MessageQueue.BrokerName, queue: res.MessageQueue.QueueId, offset: res.QueueOffset}
		brokers[res.MessageQueue.BrokerName] = true
	}
	if len(brokers) != 3 {
		t.Fatalf("sends went to brokers %v; the route should list all three nodes", brokers)
	}

	// Broker ferry-<id>'s queue i is the i-th partition node id leads.
	md := waitTopicMetadata(t, adm, topic)
	led := map[string][]int32{}
	for p := range int32(6) {
		leader := md.Topics[topic].Partitions[p].Leader
		name := "ferry-" + strconv.Itoa(int(leader))
		led[name] = append(led[name], p)
	}
	// A topic nobody created: the route query creates it (auto-create is
	// on), so the very first sends go to its real leaders on every node,
	// not all to the node that answered (the clients' TBW102 fallback).
	autoBrokers := map[string]bool{}
	for i := range 12 {
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic+"-auto", []byte("x")))
		if err != nil {
			t.Fatalf("send %d to a new topic: %v", i, err)
		}
		autoBrokers[res.MessageQueue.BrokerName] = true
	}
	if len(autoBrokers) != 3 {
		t.Errorf("sends to a new topic went to brokers %v, want all three", autoBrokers)
	}

	recs := consumeN(t, procs[0].addr, allFrom(6, kgo.NewOffset().AtStart()), topic, n)
	for _, r := range recs {
		w, ok := sent[string(r.Value)]
		if !ok {
			t.Fatalf("record %q was not sent", r.Value)
		}
		if w.queue >= len(led[w.broker]) || led[w.broker][w.queue] != r.Partition || w.offset != r.Offset {
			t.Errorf("%s: send result %s queue %d offset %d, record in partition %d offset %d (%s leads %v)",
				r.Value, w.broker, w.queue, w.offset, r.Partition, r.Offset, w.broker, led[w.broker])
		}
	}
}

// createTopicRetrying creates a replication-factor-3 topic, trying again
// when the controller lost its leadership mid-commit (seen on a loaded
// machine: "it may or may not have been applied"), and waits for every
// leader as createReplicatedTopic does.
func createTopicRetrying(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), partitions, 3, nil, topic)
		if err == nil && (resp.Err == nil || errors.Is(resp.Err, kerr.TopicAlreadyExists)) {
			break
		}
		if attempt == 3 {
			t.Fatalf("create %s: %v / %v (%s)", topic, err, resp.Err, resp.ErrMessage)
		}
		t.Logf("create %s failed (%v / %v: %s); trying again", topic, err, resp.Err, resp.ErrMessage)
		time.Sleep(time.Second)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(testCtx(t, 10*time.Second), topic)
		if err == nil && ends.Error() == nil && len(ends[topic]) == int(partitions) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders of %s never answered for it: %v / %v", topic, err, ends.Error())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRocketMQClusterDelayedSends: a real RocketMQ producer's delayed
// sends (DELAY level 1) go round-robin to all three nodes; those reaching
// a node that does not run the scheduler are forwarded to the one that
// does (before: refused, so they could only go through that one node), and
// every message arrives (its timing is TestDelayedSends').
func TestRocketMQClusterDelayedSends(t *testing.T) {
	rlog.SetLogLevel("error")
	args := clusterArgs(t, 3)
	rockets := make([]string, 3)
	for i := range args {
		var kafka string
		kafka, rockets[i] = freeAddrPair(t)
		args[i] = append(args[i], "--kafka-addr", kafka, "--rocketmq-addr", rockets[i], "--auto-create-topics=true", "--num-partitions", "6")
	}
	procs, _ := startClusterNodes(t, args, nil)
	cl := newClient(t, procs[0].addr)
	scheduledLeader(t, cl) // __scheduled exists
	adm := newAdmin(t, procs[0].addr)
	topic := topicName(t)
	createTopicRetrying(t, adm, topic, 6)

	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{rockets[0]})),
		producer.WithGroupName("pg-cluster-delay"),
		producer.WithInstanceName("cluster-delay"),
		producer.WithRetry(0),
		producer.WithSendMsgTimeout(15*time.Second),
		producer.WithQueueSelector(producer.NewRoundRobinQueueSelector()),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()

	const n = 12
	sent := map[string]bool{}
	brokers := map[string]bool{}
	for i := range n {
		body := fmt.Sprintf("d-%d", i)
		msg := primitive.NewMessage(topic, []byte(body))
		msg.WithDelayTimeLevel(1) // 1s
		sent[body] = true
		res, err := p.SendSync(context.Background(), msg)
		if err != nil {
			t.Fatalf("delayed send %d: %v", i, err)
		}
		if res.Status != primitive.SendOK {
			t.Fatalf("delayed send %d: status %v", i, res.Status)
		}
		brokers[res.MessageQueue.BrokerName] = true
	}
	if len(brokers) != 3 {
		t.Fatalf("delayed sends went to brokers %v, want all three", brokers)
	}
	recs := consumeN(t, procs[0].addr, allFrom(6, kgo.NewOffset().AtStart()), topic, n)
	for _, r := range recs {
		if !sent[string(r.Value)] {
			t.Fatalf("record %q was not sent", r.Value)
		}
	}
}
