package rocketmq_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	ferryrmq "github.com/ferry-mq/ferry/internal/rocketmq"
	"github.com/ferry-mq/ferry/internal/server"
)

// syncBuffer is a log sink tests read while the node writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// txnNode is a node that can be stopped and started again on the same
// data dir and addresses, with a short check-back interval.
type txnNode struct {
	t    *testing.T
	cfg  config.Config
	logs *syncBuffer
	s    *server.Server
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newTxnNode(t *testing.T, interval time.Duration, maxChecks int) *txnNode {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = freeAddr(t)
	cfg.HTTPAddr = ""
	cfg.RocketMQ.Addr = freeAddr(t)
	cfg.RocketMQ.TxnCheckInterval = interval
	cfg.RocketMQ.TxnCheckMax = maxChecks
	n := &txnNode{t: t, cfg: cfg, logs: &syncBuffer{}}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *txnNode) start() {
	n.t.Helper()
	logger := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.Start(n.cfg, logger)
	if err != nil {
		n.t.Fatal(err)
	}
	n.s = s
}

func (n *txnNode) stop() {
	if n.s != nil {
		n.s.Close()
		n.s = nil
	}
}

func (n *txnNode) restart() {
	n.t.Helper()
	n.stop()
	n.start()
}

// listener answers the local transaction with exec and check-backs with
// check, by message keys; it records the check-backs it got.
type listener struct {
	exec  func(*primitive.Message) primitive.LocalTransactionState
	check map[string]primitive.LocalTransactionState

	mu      sync.Mutex
	checked []string
}

func (l *listener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	return l.exec(m)
}

func (l *listener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checked = append(l.checked, m.GetKeys())
	l.mu.Unlock()
	if st, ok := l.check[m.GetKeys()]; ok {
		return st
	}
	return primitive.UnkonwnState
}

func (l *listener) checks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.checked...)
}

func newTxnProducer(t *testing.T, s *server.Server, group string, l *listener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{s.RocketMQAddr()})),
		producer.WithGroupName(group),
		producer.WithInstanceName("txn-"+group+"-"+time.Now().Format("150405.000000000")),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10*time.Second),
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

func sendTxn(t *testing.T, p rocketmq.TransactionProducer, topic, keys, body string) *primitive.TransactionSendResult {
	t.Helper()
	msg := primitive.NewMessage(topic, []byte(body))
	msg.WithKeys([]string{keys})
	res, err := p.SendMessageInTransaction(context.Background(), msg)
	if err != nil {
		t.Fatalf("SendMessageInTransaction(%s): %v", keys, err)
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("SendMessageInTransaction(%s): status %v", keys, res.Status)
	}
	return res
}

// endOffset is the end offset of partition 0 of topic (Kafka side).
func endOffset(t *testing.T, s *server.Server, topic string) int64 {
	t.Helper()
	adm := kadm.NewClient(kafkaClient(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	return total
}

// waitFor polls cond (state the broker reaches on its own clock) up to 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createTxnTopic(t *testing.T, s *server.Server, topic string, partitions int32) {
	t.Helper()
	adm := kadm.NewClient(kafkaClient(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

func TestTransactionCommitIsInvisibleUntilCommitted(t *testing.T) {
	n := newTxnNode(t, time.Hour, 15)
	createTxnTopic(t, n.s, "orders", 1)
	var seenBeforeCommit int64 = -1
	l := &listener{exec: func(*primitive.Message) primitive.LocalTransactionState {
		seenBeforeCommit = endOffset(t, n.s, "orders")
		return primitive.CommitMessageState
	}}
	p := newTxnProducer(t, n.s, "pg-commit", l)
	sendTxn(t, p, "orders", "order-1", "paid")
	if seenBeforeCommit != 0 {
		t.Fatalf("the half message was visible (end offset %d) before its commit", seenBeforeCommit)
	}
	recs := consumeN(t, n.s, "orders", 1)
	r := recs[0]
	if string(r.Value) != "paid" || string(r.Key) != "order-1" {
		t.Fatalf("committed record: key %q value %q", r.Key, r.Value)
	}
	if _, ok := header(r, "TRAN_MSG"); ok {
		t.Fatal("committed record still has TRAN_MSG")
	}
	if g, _ := header(r, "PGROUP"); g != "pg-commit" {
		t.Fatalf("PGROUP = %q", g)
	}
	waitFor(t, "no pending half message", func() bool { return ferryrmq.PendingHalfMessages(n.s.RocketMQ()) == 0 })
}

func TestTransactionRollbackNeverAppears(t *testing.T) {
	n := newTxnNode(t, time.Hour, 15)
	createTxnTopic(t, n.s, "orders", 1)
	l := &listener{exec: func(*primitive.Message) primitive.LocalTransactionState { return primitive.RollbackMessageState }}
	p := newTxnProducer(t, n.s, "pg-rollback", l)
	sendTxn(t, p, "orders", "order-1", "not paid")
	waitFor(t, "the rollback", func() bool { return ferryrmq.PendingHalfMessages(n.s.RocketMQ()) == 0 })
	// A plain message after it is the first record of the topic.
	plain := newProducer(t, n.s, "pg-plain")
	if _, err := plain.SendSync(context.Background(), primitive.NewMessage("orders", []byte("after"))); err != nil {
		t.Fatal(err)
	}
	if r := consumeN(t, n.s, "orders", 1)[0]; string(r.Value) != "after" || r.Offset != 0 {
		t.Fatalf("first record of the topic: offset %d value %q", r.Offset, r.Value)
	}
}

func TestTransactionUnknownThenCheckBackAcrossRestart(t *testing.T) {
	n := newTxnNode(t, 300*time.Millisecond, 100)
	createTxnTopic(t, n.s, "orders", 1)
	unknown := &listener{exec: func(*primitive.Message) primitive.LocalTransactionState { return primitive.UnkonwnState }}
	p := newTxnProducer(t, n.s, "pg-check", unknown)
	sendTxn(t, p, "orders", "commit-me", "A")
	sendTxn(t, p, "orders", "roll-me-back", "B")
	p.Shutdown()
	if got := ferryrmq.PendingHalfMessages(n.s.RocketMQ()); got != 2 {
		t.Fatalf("%d pending half messages, want 2", got)
	}

	n.restart()
	if got := ferryrmq.PendingHalfMessages(n.s.RocketMQ()); got != 2 {
		t.Fatalf("after restart: %d pending half messages, want 2", got)
	}
	if end := endOffset(t, n.s, "orders"); end != 0 {
		t.Fatalf("after restart: end offset %d before any answer", end)
	}
	answers := &listener{
		exec: func(*primitive.Message) primitive.LocalTransactionState { return primitive.CommitMessageState },
		check: map[string]primitive.LocalTransactionState{
			"commit-me": primitive.CommitMessageState, "roll-me-back": primitive.RollbackMessageState,
		},
	}
	// A producer of the group comes back and sends (so the broker knows
	// its connection before its first heartbeat).
	p2 := newTxnProducer(t, n.s, "pg-check", answers)
	sendTxn(t, p2, "orders", "trigger", "T")
	defer func() {
		if t.Failed() {
			t.Logf("node log:\n%s", n.logs.String())
		}
	}()
	waitFor(t, "both check-backs answered", func() bool { return ferryrmq.PendingHalfMessages(n.s.RocketMQ()) == 0 })
	recs := consumeN(t, n.s, "orders", 2)
	var values []string
	for _, r := range recs {
		values = append(values, string(r.Key)+"="+string(r.Value))
	}
	sort.Strings(values)
	if got := strings.Join(values, " "); got != "commit-me=A trigger=T" {
		t.Fatalf("committed: %s", got)
	}
	if end := endOffset(t, n.s, "orders"); end != 2 {
		t.Fatalf("end offset %d: the rolled-back message was appended", end)
	}
	checked := strings.Join(answers.checks(), " ")
	if !strings.Contains(checked, "commit-me") || !strings.Contains(checked, "roll-me-back") {
		t.Fatalf("check-backs got: %q", checked)
	}
}

func TestTransactionWithNoLiveProducerIsRolledBackAtTheLimit(t *testing.T) {
	n := newTxnNode(t, 200*time.Millisecond, 3)
	createTxnTopic(t, n.s, "orders", 1)
	l := &listener{exec: func(*primitive.Message) primitive.LocalTransactionState { return primitive.UnkonwnState }}
	p := newTxnProducer(t, n.s, "pg-gone", l)
	sendTxn(t, p, "orders", "orphan", "X")
	p.Shutdown()
	waitFor(t, "the rollback at the limit", func() bool { return ferryrmq.PendingHalfMessages(n.s.RocketMQ()) == 0 })
	logs := n.logs.String()
	for _, want := range []string{"no live producer in its group", "half message rolled back", "group=pg-gone"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
	}
	if end := endOffset(t, n.s, "orders"); end != 0 {
		t.Fatalf("end offset %d after the rollback", end)
	}
}

func TestHalfMessageTopicIsInternal(t *testing.T) {
	n := newTxnNode(t, time.Hour, 15)
	err := kafkaClient(t, n.s).ProduceSync(context.Background(), &kgo.Record{Topic: "__rmq_half", Key: []byte("k"), Value: []byte("forged")}).FirstErr()
	if err == nil || !strings.Contains(err.Error(), "INVALID_TOPIC_EXCEPTION") {
		t.Fatalf("Kafka produce to __rmq_half: %v", err)
	}
	p := newProducer(t, n.s, "pg-forge", producer.WithRetry(0))
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("__rmq_half", []byte("forged"))); err == nil {
		t.Fatal("RocketMQ send to __rmq_half was accepted")
	}
	if got := ferryrmq.PendingHalfMessages(n.s.RocketMQ()); got != 0 {
		t.Fatalf("%d pending half messages after forged sends", got)
	}
}

func TestEndTransactionBadInput(t *testing.T) {
	n := newTxnNode(t, time.Hour, 15)
	for _, tc := range []struct {
		fields map[string]string
		code   int16
		remark string
	}{
		{map[string]string{"commitOrRollback": "8"}, 29, "tranStateTableOffset and commitLogOffset are missing"},
		{map[string]string{"tranStateTableOffset": "0", "commitOrRollback": "99"}, 29, "is not 0, 8 or 12"},
		{map[string]string{"tranStateTableOffset": "12345", "commitOrRollback": "8", "msgId": "nope"}, 1, "no such pending half message"},
		{map[string]string{"tranStateTableOffset": "12345", "commitOrRollback": "12"}, 1, "no such pending half message"},
	} {
		resp := call(t, n.s, 37, tc.fields)
		if resp.Code != tc.code || !strings.Contains(resp.Remark, tc.remark) {
			t.Errorf("END_TRANSACTION %v: code %d %q, want %d %q", tc.fields, resp.Code, resp.Remark, tc.code, tc.remark)
		}
	}
	// A real half message is not ended by an END_TRANSACTION naming another message id.
	l := &listener{exec: func(*primitive.Message) primitive.LocalTransactionState { return primitive.UnkonwnState }}
	res := sendTxn(t, newTxnProducer(t, n.s, "pg-bad", l), "orders", "k", "v")
	resp := call(t, n.s, 37, map[string]string{"tranStateTableOffset": strconv.FormatInt(res.QueueOffset, 10), "commitOrRollback": "8", "msgId": "someone-else"})
	if resp.Code != 1 || ferryrmq.PendingHalfMessages(n.s.RocketMQ()) != 1 {
		t.Fatalf("END_TRANSACTION with another message id: code %d %q, pending %d", resp.Code, resp.Remark, ferryrmq.PendingHalfMessages(n.s.RocketMQ()))
	}
	resp = call(t, n.s, 37, map[string]string{"tranStateTableOffset": strconv.FormatInt(res.QueueOffset, 10), "commitOrRollback": "12", "msgId": res.MsgID})
	if resp.Code != 0 || ferryrmq.PendingHalfMessages(n.s.RocketMQ()) != 0 {
		t.Fatalf("END_TRANSACTION rollback: code %d %q, pending %d", resp.Code, resp.Remark, ferryrmq.PendingHalfMessages(n.s.RocketMQ()))
	}
}
