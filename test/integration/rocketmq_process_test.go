package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	frmq "github.com/ferry-mq/ferry/internal/rocketmq"
)

// The tests in this file drive rocketmq-client-go's orderly push consumer
// and pull consumer in child processes (test/rmqclient, built without
// -race): the library races in both, so they cannot run inside a -race
// test binary. The broker is a real `ferry serve --rocketmq-addr` process.

var (
	rmqclientOnce sync.Once
	rmqclientBin  string
	rmqclientErr  error
)

// rmqClient is a running test/rmqclient process.
type rmqClient struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	more   chan struct{}

	mu      sync.Mutex
	lines   []rmqLine
	stderr  bytes.Buffer
	waitErr error // set before exited is closed
}

// rmqLine is one JSON line of rmqclient's output (see its doc).
type rmqLine struct {
	Queue  int    `json:"queue"`
	Offset int64  `json:"offset"`
	Body   string `json:"body"`
	Tags   string `json:"tags"`
	Keys   string `json:"keys"`
	Status string `json:"status"`
	Next   int64  `json:"next"`
	Max    int64  `json:"max"`
	Done   bool   `json:"done"`
}

// startRMQClient builds test/rmqclient once and starts it with args; the
// test's cleanup SIGKILLs it by pid if it is still running.
func startRMQClient(t *testing.T, name string, args ...string) *rmqClient {
	t.Helper()
	rmqclientOnce.Do(func() { rmqclientBin, rmqclientErr = goBuild("./test/rmqclient", "rmqclient") })
	if rmqclientErr != nil {
		t.Fatal(rmqclientErr)
	}
	c := &rmqClient{t: t, name: name, exited: make(chan struct{}), more: make(chan struct{}, 1),
		cmd: exec.Command(rmqclientBin, append(args, "-instance", name)...)}
	c.cmd.Stderr = &lockedWriter{mu: &c.mu, w: &c.stderr}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l rmqLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = rmqLine{Status: "bad line: " + sc.Text()}
			}
			c.mu.Lock()
			c.lines = append(c.lines, l)
			c.mu.Unlock()
			select {
			case c.more <- struct{}{}:
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		err := c.cmd.Wait()
		c.mu.Lock()
		c.waitErr = err
		c.mu.Unlock()
		close(c.exited)
	}()
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (c *rmqClient) output() ([]rmqLine, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rmqLine(nil), c.lines...), c.stderr.String()
}

// waitFor waits up to two minutes until cond holds for the lines so far,
// failing the test if the process exits first.
func (c *rmqClient) waitFor(what string, cond func([]rmqLine) bool) []rmqLine {
	c.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		lines, stderr := c.output()
		if cond(lines) {
			return lines
		}
		select {
		case <-c.more:
		case <-time.After(200 * time.Millisecond): // cond may look at other clients too
		case <-c.exited:
			if lines, _ := c.output(); cond(lines) {
				return lines
			}
			c.t.Fatalf("%s exited (%v) before %s; stderr:\n%s", c.name, c.waitErr, what, stderr)
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s at %s (%d lines); stderr:\n%s", what, c.name, len(lines), stderr)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (c *rmqClient) stop() {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s did not exit within 30 s of SIGTERM", c.name)
	}
	if _, stderr := c.output(); c.waitErr != nil {
		c.t.Fatalf("%s exited with %v; stderr:\n%s", c.name, c.waitErr, stderr)
	}
}

func (c *rmqClient) kill() {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
	}
}

// startRocketFerry starts a ferry process with its RocketMQ listener and
// returns it with the listener's address.
func startRocketFerry(t *testing.T, extra ...string) (*ferryProc, string) {
	t.Helper()
	rlog.SetLogLevel("fatal")
	p := startFerry(t, t.TempDir(), append([]string{"--rocketmq-addr", "127.0.0.1:0"}, extra...)...)
	return p, rocketAddr(t, p)
}

// newRocketProducer is a real (in-process; its producer does not race)
// RocketMQ producer.
func newRocketProducer(t *testing.T, ns, group string, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	p, err := rocketmq.NewProducer(append([]producer.Option{
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns})),
		producer.WithGroupName(group), producer.WithInstanceName(group), producer.WithRetry(2),
		producer.WithSendMsgTimeout(10 * time.Second),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// lockQueues sends LOCK_BATCH_MQ for clientID over a raw remoting
// connection and returns the queue ids the broker says it now holds.
func lockQueues(t *testing.T, addr, group, clientID, topic string, queues int) []int {
	t.Helper()
	type mq struct {
		Topic      string `json:"topic"`
		BrokerName string `json:"brokerName"`
		QueueID    int    `json:"queueId"`
	}
	body := struct {
		Group    string `json:"consumerGroup"`
		ClientID string `json:"clientId"`
		MQs      []mq   `json:"mqSet"`
	}{Group: group, ClientID: clientID}
	for q := range queues {
		body.MQs = append(body.MQs, mq{topic, "ferry-0", q})
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := frmq.AppendFrame(nil, &frmq.Command{Code: 41, Language: 9, Version: 473, Opaque: 1, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	resp, err := frmq.ReadFrame(bufio.NewReader(nc), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		MQs []mq `json:"lockOKMQSet"`
	}
	if resp.Code != 0 || json.Unmarshal(resp.Body, &got) != nil {
		t.Fatalf("LOCK_BATCH_MQ: code %d remark %q body %s", resp.Code, resp.Remark, resp.Body)
	}
	var ids []int
	for _, m := range got.MQs {
		ids = append(ids, m.QueueID)
	}
	sort.Ints(ids)
	return ids
}

// TestRocketMQOrderlyConsumerProcesses: messages sent by sharding key
// (MessageQueueSelector) are consumed in send order per key by two
// orderly consumer processes of one group that share the queues, and
// while they run their queue locks keep a third client from locking any
// queue; once they have shut down (unlocking), it can.
func TestRocketMQOrderlyConsumerProcesses(t *testing.T) {
	const topic, group, queues, keys = "orders", "oc", 3, 6
	// rocketmq-client-go does not unlock the queues a rebalance takes
	// from an orderly consumer: their new owner waits for the lock to
	// lapse, so locks live 3 s and the consumers renew them every second.
	proc, ns := startRocketFerry(t, "--rocketmq-queue-lock-ttl", "3s")
	createTopic(t, newAdmin(t, proc.addr), topic, queues)
	p := newRocketProducer(t, ns, "po", producer.WithQueueSelector(producer.NewHashQueueSelector()))
	keyQueue := map[string]int{}
	send := func(round int) {
		for k := range keys {
			key := fmt.Sprintf("k%d", k)
			msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%03d", key, round)))
			msg.WithShardingKey(key)
			msg.WithKeys([]string{key})
			res, err := p.SendSync(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if q, ok := keyQueue[key]; ok && q != res.MessageQueue.QueueId {
				t.Fatalf("key %s went to queue %d, then %d", key, q, res.MessageQueue.QueueId)
			}
			keyQueue[key] = res.MessageQueue.QueueId
		}
	}
	args := []string{"-mode", "orderly", "-ns", ns, "-group", group, "-topic", topic, "-lock-interval", "1s"}
	a := startRMQClient(t, "orderly-a", args...)
	clients := []*rmqClient{a}
	// has reports whether the clients together got every message of rounds.
	has := func(rounds int) func([]rmqLine) bool {
		return func([]rmqLine) bool {
			got := map[string]bool{}
			for _, c := range clients {
				lines, _ := c.output()
				for _, l := range lines {
					got[l.Body] = true
				}
			}
			for r := range rounds {
				for k := range keys {
					if !got[fmt.Sprintf("k%d-%03d", k, r)] {
						return false
					}
				}
			}
			return true
		}
	}
	send(0)
	a.waitFor("round 0 at the first consumer", has(1))

	// A second member joins: send a round at a time until both consumers
	// get messages of one round, i.e. they have split the queues.
	b := startRMQClient(t, "orderly-b", args...)
	clients = append(clients, b)
	rounds := 1
	for split := false; !split; rounds++ {
		if rounds > 60 {
			t.Fatal("the two orderly consumers never split the queues")
		}
		send(rounds)
		a.waitFor(fmt.Sprintf("round %d", rounds), has(rounds+1))
		suffix := fmt.Sprintf("-%03d", rounds)
		split = true
		for _, c := range clients {
			lines, _ := c.output()
			split = split && containsFunc(lines, func(l rmqLine) bool { return strings.HasSuffix(l.Body, suffix) })
		}
		if !split {
			time.Sleep(500 * time.Millisecond) // no busy loop of sends while the rebalance settles
		}
	}
	// A burst with many messages per queue in flight at once.
	for range 10 {
		send(rounds)
		rounds++
	}
	a.waitFor("every message", has(rounds))
	t.Logf("%d rounds of %d keys over queues %v", rounds, keys, keyQueue)

	for _, c := range clients {
		lines, _ := c.output()
		last := map[string]string{}
		for _, l := range lines {
			key, seq, _ := strings.Cut(l.Body, "-")
			if l.Keys != key || l.Queue != keyQueue[key] {
				t.Errorf("%s: message %q with keys %q from queue %d; sent with key %s to queue %d", c.name, l.Body, l.Keys, l.Queue, key, keyQueue[key])
			}
			if prev, ok := last[key]; ok && seq < prev {
				t.Errorf("%s got %s after %s-%s: out of send order", c.name, l.Body, key, prev)
			}
			last[key] = seq
		}
	}

	if held := lockQueues(t, ns, group, "intruder", topic, queues); len(held) != 0 {
		t.Errorf("a third client locked queues %v that the group's live orderly consumers hold", held)
	}
	a.stop()
	b.stop()
	if held := lockQueues(t, ns, group, "intruder", topic, queues); len(held) != queues {
		t.Errorf("after both consumers shut down a third client locked queues %v, want all %d", held, queues)
	}
}

func containsFunc(lines []rmqLine, f func(rmqLine) bool) bool {
	for _, l := range lines {
		if f(l) {
			return true
		}
	}
	return false
}

// TestRocketMQPullConsumerProcess: the client's pull consumer reads every
// queue of the topic to its end, with its subscription's tag filter: it
// gets exactly the messages tagged A.
func TestRocketMQPullConsumerProcess(t *testing.T) {
	const topic, queues, perQueue = "pullme", 3, 8
	proc, ns := startRocketFerry(t)
	createTopic(t, newAdmin(t, proc.addr), topic, queues)
	p := newRocketProducer(t, ns, "pp", producer.WithQueueSelector(producer.NewManualQueueSelector()))
	want := map[string]int{} // body → queue, of the tag A messages
	for q := range queues {
		for i := range perQueue {
			body := fmt.Sprintf("q%d-%d", q, i)
			tag := []string{"A", "B", "C"}[(i+q)%3]
			msg := primitive.NewMessage(topic, []byte(body)).WithTag(tag)
			msg.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: "ferry-0", QueueId: q}
			res, err := p.SendSync(context.Background(), msg)
			if err != nil {
				t.Fatal(err)
			}
			if res.MessageQueue.QueueId != q {
				t.Fatalf("sent %s to queue %d, it went to %d", body, q, res.MessageQueue.QueueId)
			}
			if tag == "A" {
				want[body] = q
			}
		}
	}

	c := startRMQClient(t, "pull", "-mode", "pull", "-ns", ns, "-group", "pc", "-topic", topic, "-tags", "A")
	lines := c.waitFor("the end of every queue", func(ls []rmqLine) bool { return containsFunc(ls, func(l rmqLine) bool { return l.Done }) })
	got := map[string]int{}
	ends := map[int]rmqLine{}
	for _, l := range lines {
		switch {
		case l.Done:
		case l.Status != "":
			ends[l.Queue] = l
		default:
			if l.Tags != "A" {
				t.Errorf("pulled %q tagged %q: the subscription is tag A", l.Body, l.Tags)
			}
			got[l.Body] = l.Queue
		}
	}
	for body, q := range want {
		if gq, ok := got[body]; !ok || gq != q {
			t.Errorf("message %s of queue %d: pulled %v (from queue %d)", body, q, ok, gq)
		}
	}
	if len(got) != len(want) {
		t.Errorf("pulled %d messages, want the %d tagged A", len(got), len(want))
	}
	for q := range queues {
		if e, ok := ends[q]; !ok || e.Next != perQueue || e.Max != perQueue {
			t.Errorf("queue %d: end %+v (reported %v), want next and max offset %d", q, e, ok, perQueue)
		}
	}
}
