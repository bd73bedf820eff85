package main

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// unknownTopicAtFirst makes the first n Metadata requests naming topic
// answer UNKNOWN_TOPIC_OR_PARTITION, as a broker of a cluster does until it
// has applied a topic the controller just created.
func unknownTopicAtFirst(t *testing.T, c *kfake.Cluster, topic string, n int32) *atomic.Int32 {
	t.Helper()
	var answered atomic.Int32
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.MetadataRequest)
		if len(req.Topics) != 1 || req.Topics[0].Topic == nil || *req.Topics[0].Topic != topic || answered.Load() >= n {
			c.KeepControl()
			return nil, nil, false
		}
		answered.Add(1)
		if answered.Load() < n {
			c.KeepControl()
		}
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		for i, addr := range c.ListenAddrs() {
			host, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = int32(i), host, int32(p)
			resp.Brokers = append(resp.Brokers, b)
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &topic
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Topics = append(resp.Topics, mt)
		return resp, nil, true
	})
	return &answered
}

// TestProduceRightAfterCreateOnACluster: on a cluster, a broker learns of
// a new topic a moment after the controller, so `ferry produce` right
// after `ferry topic create` may first hear UNKNOWN_TOPIC_OR_PARTITION; it
// asks again instead of saying the topic does not exist.
func TestProduceRightAfterCreateOnACluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	answered := unknownTopicAtFirst(t, c, topic, 2)
	_, errOut, err := runCmd(t, runProduce, "a\nb\n", "--topic", topic, "--brokers", brokers)
	if err != nil {
		t.Fatalf("produce right after create: %v\nstderr: %s", err, errOut)
	}
	if answered.Load() != 2 {
		t.Fatalf("the broker answered UNKNOWN_TOPIC_OR_PARTITION %d times, want 2 (the test does not test what it says)", answered.Load())
	}
	if !strings.Contains(errOut, "produced 2 record(s)") {
		t.Fatalf("produce printed %q", errOut)
	}
}

// TestNoTopicOnOneBrokerFailsAtOnce: a single broker knows every topic it
// has, so an unknown topic there is an error at the first answer.
func TestNoTopicOnOneBrokerFailsAtOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	answered := unknownTopicAtFirst(t, c, topic, 100)
	_, _, err = runCmd(t, runProduce, "a\n", "--topic", topic, "--brokers", brokers)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("produce to a topic the only broker does not know: %v, want 'does not exist'", err)
	}
	if n := answered.Load(); n != 1 {
		t.Fatalf("asked %d times, want once", n)
	}
}
