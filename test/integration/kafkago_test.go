package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestKafkaGoWriterAndGroupReader drives Ferry with segmentio/kafka-go: its
// Writer produces keyed records, and two Readers in one consumer group
// (GroupID) share the partitions, commit, and a restarted Reader resumes
// after the committed offsets.
func TestKafkaGoWriterAndGroupReader(t *testing.T) {
	srv, _ := startGroupBroker(t, t.TempDir())
	topic := topicName(t)
	ctx := testCtx(t, 90*time.Second)
	adm := kadm.NewClient(newClient(t, srv.Addr()))
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(srv.Addr()), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	write := func(from, to int) {
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%03d", i))})
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			t.Fatalf("kafka-go write: %v", err)
		}
	}
	newReader := func() *kafka.Reader {
		return kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{srv.Addr()}, GroupID: "kafka-go-group", Topic: topic,
			StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
			SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout: 5 * time.Second,
		})
	}
	// read fetches from rs until n distinct values have been seen, committing
	// each message after it is recorded.
	read := func(n int, rs ...*kafka.Reader) []string {
		seen := map[string]bool{}
		type msg struct {
			v   string
			err error
		}
		ch := make(chan msg)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for _, r := range rs {
			go func(r *kafka.Reader) {
				for {
					m, err := r.FetchMessage(rctx)
					if err == nil {
						err = r.CommitMessages(rctx, m)
					}
					select {
					case ch <- msg{string(m.Value), err}:
					case <-rctx.Done():
						return
					}
					if err != nil {
						return
					}
				}
			}(r)
		}
		for len(seen) < n {
			m := <-ch
			if m.err != nil {
				t.Fatalf("kafka-go read after %d of %d: %v", len(seen), n, m.err)
			}
			if seen[m.v] {
				t.Fatalf("value %s read twice within one run", m.v)
			}
			seen[m.v] = true
		}
		var vs []string
		for v := range seen {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		return vs
	}

	write(0, 80)
	r1, r2 := newReader(), newReader()
	got := read(80, r1, r2)
	for i, v := range got {
		if v != fmt.Sprintf("v%03d", i) {
			t.Fatalf("group read %v, want v000..v079", got)
		}
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}

	write(80, 100)
	r3 := newReader()
	defer r3.Close()
	got = read(20, r3)
	for i, v := range got {
		if v != fmt.Sprintf("v%03d", 80+i) {
			t.Fatalf("restarted reader read %v, want only v080..v099 (resume after commits)", got)
		}
	}
}
