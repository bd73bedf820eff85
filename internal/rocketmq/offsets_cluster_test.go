package rocketmq_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// rocketPortDistance is how far above its Kafka port each test cluster
// node listens for RocketMQ: every node keeps the same distance (doc.go).
const rocketPortDistance = 1000

// freePortPair returns a free loopback port p whose p+rocketPortDistance is
// free too.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+rocketPortDistance))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// startClusterInProcess runs an n-node cluster in this process, every node
// with a RocketMQ listener.
func startClusterInProcess(t *testing.T, n int) []*server.Server {
	t.Helper()
	quorum := ""
	ctrl := make([]string, n)
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctrl[i] = l.Addr().String()
		l.Close()
		if i > 0 {
			quorum += ","
		}
		quorum += fmt.Sprintf("%d@%s", i+1, ctrl[i])
	}
	nodes := make([]*server.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		port := freePortPair(t)
		cfg := config.Default()
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.HTTPAddr = ""
		cfg.NodeID = int32(i + 1)
		cfg.ControllerAddr, cfg.ControllerQuorum = ctrl[i], quorum
		cfg.KafkaAddr = "127.0.0.1:" + strconv.Itoa(port)
		cfg.AdvertisedAddr = cfg.KafkaAddr
		cfg.RocketMQ.Addr = "127.0.0.1:" + strconv.Itoa(port+rocketPortDistance)
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = server.Start(cfg, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() {
		for _, s := range nodes {
			s.Close()
		}
	})
	return nodes
}

// TestOffsetsOnACluster: on a cluster each node takes the offset requests
// of the queues it leads, whichever node coordinates the group: the others
// forward them to it, so every queue's offset lands in the group's
// coordinator (the Kafka API shows them all) and reads back through any
// node.
func TestOffsetsOnACluster(t *testing.T) {
	nodes := startClusterInProcess(t, 3)
	cl := kafkaClient(t, nodes[0])
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(context.Background(), 6, 1, nil, "spread")
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	// Which node leads which partition: queue i of a node is the i-th
	// partition it leads.
	led := map[int32][]int32{}
	waitUntil(t, "every partition led", func() bool {
		md, err := adm.Metadata(context.Background(), "spread")
		if err != nil {
			return false
		}
		clear(led)
		n := 0
		for p, pd := range md.Topics["spread"].Partitions {
			if pd.Leader >= 1 {
				led[pd.Leader] = append(led[pd.Leader], p)
				n++
			}
		}
		return n == 6
	})
	const group = "cluster-g"
	want := map[int32]int64{}
	for node, parts := range led {
		slices.Sort(parts)
		c := dialRemoting(t, nodes[node-1].RocketMQAddr())
		for q, p := range parts {
			want[p] = int64(100 + p)
			fields := map[string]string{"consumerGroup": group, "topic": "spread", "queueId": strconv.Itoa(q), "commitOffset": strconv.FormatInt(want[p], 10)}
			resp := c.call(codeUpdateOff, fields, nil)
			for start := time.Now(); resp.Code != resSuccess && time.Since(start) < 30*time.Second; {
				time.Sleep(200 * time.Millisecond) // the coordinators may still be loading
				resp = c.call(codeUpdateOff, fields, nil)
			}
			if resp.Code != resSuccess {
				t.Fatalf("node %d queue %d: code %d %s", node, q, resp.Code, resp.Remark)
			}
		}
	}
	if len(led) < 2 {
		t.Logf("partitions all on one node: %v", led)
	}
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range want {
		if got, ok := offs.Lookup("spread", p); !ok || got.At != o {
			t.Errorf("partition %d: committed %v, want %d", p, got.At, o)
		}
	}
	for node, parts := range led {
		c := dialRemoting(t, nodes[node-1].RocketMQAddr())
		for q, p := range parts {
			resp := c.call(codeQueryOffset, map[string]string{"consumerGroup": group, "topic": "spread", "queueId": strconv.Itoa(q)}, nil)
			if resp.Code != resSuccess || resp.Field("offset") != strconv.FormatInt(want[p], 10) {
				t.Errorf("node %d queue %d (partition %d): code %d offset %q %s", node, q, p, resp.Code, resp.Field("offset"), resp.Remark)
			}
		}
	}
}
