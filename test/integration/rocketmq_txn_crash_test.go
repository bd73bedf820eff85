package integration

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnListener commits or rolls back by message key; keys it does not know
// stay unknown. It records the keys it was checked back for.
type txnListener struct {
	exec, check map[string]primitive.LocalTransactionState
	mu          sync.Mutex
	checked     []string
}

func (l *txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if st, ok := l.exec[m.GetKeys()]; ok {
		return st
	}
	return primitive.UnkonwnState
}

func (l *txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	l.checked = append(l.checked, m.GetKeys())
	l.mu.Unlock()
	if st, ok := l.check[m.GetKeys()]; ok {
		return st
	}
	return primitive.UnkonwnState
}

func startTxnProducer(t *testing.T, rocketAddr, group string, l *txnListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{rocketAddr})),
		producer.WithGroupName(group),
		producer.WithInstanceName(fmt.Sprintf("crash-%d", time.Now().UnixNano())),
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

func sendInTxn(t *testing.T, p rocketmq.TransactionProducer, topic, key string) string {
	t.Helper()
	m := primitive.NewMessage(topic, []byte("body of "+key))
	m.WithKeys([]string{key})
	res, err := p.SendMessageInTransaction(context.Background(), m)
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send %s in a transaction: %v %+v", key, err, res)
	}
	return res.MsgID
}

// TestRocketMQHalfMessagesSurviveSIGKILL: half messages whose producer did
// not end them are still pending after the broker is SIGKILLed and
// restarted, and are committed or rolled back by the answers of a producer
// of the group to the check-backs; a transaction committed before the
// kill stays committed.
func TestRocketMQHalfMessagesSurviveSIGKILL(t *testing.T) {
	rlog.SetLogLevel("error")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rocketAddr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	args := []string{"--rocketmq-addr", rocketAddr, "--rocketmq-txn-check-interval", "300ms",
		"--rocketmq-txn-check-max", "1000", "--log-level", "debug"}
	p := startFerry(t, dir, args...)
	createTopic(t, newAdmin(t, p.addr), "orders", 1)

	first := startTxnProducer(t, rocketAddr, "pg-crash", &txnListener{
		exec: map[string]primitive.LocalTransactionState{"committed-before": primitive.CommitMessageState},
	})
	sendInTxn(t, first, "orders", "committed-before")
	commitID := sendInTxn(t, first, "orders", "commit-me")
	rollbackID := sendInTxn(t, first, "orders", "roll-me-back")
	first.Shutdown()
	// END_TRANSACTION is oneway: wait until the first commit is applied
	// before the kill.
	for deadline := time.Now().Add(30 * time.Second); endOffsets(t, newAdmin(t, p.addr), "orders")[0] != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("the committed transaction never appeared in orders:\n%s", p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()

	p = startFerry(t, dir, args...)
	answers := &txnListener{
		exec: map[string]primitive.LocalTransactionState{"trigger": primitive.CommitMessageState},
		check: map[string]primitive.LocalTransactionState{
			"commit-me": primitive.CommitMessageState, "roll-me-back": primitive.RollbackMessageState,
		},
	}
	second := startTxnProducer(t, rocketAddr, "pg-crash", answers)
	sendInTxn(t, second, "orders", "trigger")

	deadline := time.Now().Add(60 * time.Second)
	for _, want := range []string{
		"msgId=" + commitID + " group=pg-crash fromCheck=true",
		"msgId=" + rollbackID + " group=pg-crash fromCheck=true",
	} {
		for !strings.Contains(p.log(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no END_TRANSACTION %q in the log:\n%s", want, p.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	recs := consumeN(t, p.addr, allFrom(1, kgo.NewOffset().AtStart()), "orders", 3)
	var keys []string
	for _, r := range recs {
		keys = append(keys, string(r.Key))
	}
	sort.Strings(keys)
	if got := strings.Join(keys, " "); got != "commit-me committed-before trigger" {
		t.Fatalf("records of orders: %s", got)
	}
	if end := endOffsets(t, newAdmin(t, p.addr), "orders")[0]; end != 3 {
		t.Fatalf("orders ends at %d: the rolled-back message was appended", end)
	}
	if !strings.Contains(p.log(), "half messages loaded") || !strings.Contains(p.log(), "pending=2") {
		t.Fatalf("the restart did not load the 2 pending half messages:\n%s", p.log())
	}
}
