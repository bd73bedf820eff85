package integration

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A fetch with min bytes waits until enough bytes arrived, not the whole
// max wait, and then returns everything.
func TestLongPollMinBytes(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	const maxWait = 30 * time.Second
	cons := newClient(t, srv.Addr(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(maxWait), kgo.FetchMinBytes(2000))
	got := make(chan []*kgo.Record, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), maxWait+10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if rs := cons.PollFetches(ctx).Records(); len(rs) > 0 {
				got <- rs
				return
			}
		}
		close(got)
	}()
	time.Sleep(500 * time.Millisecond)
	prod := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
	// Ten batches of ~370 bytes, one at a time: the fetch must not answer
	// with the first ones (below min bytes) and must answer once >= 2000
	// bytes are there, long before max wait.
	for range 10 {
		produceSync(t, prod, &kgo.Record{Value: bytes.Repeat([]byte{'m'}, 300)})
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case rs := <-got:
		if rs == nil {
			t.Fatal("consumer gave up")
		}
		size := 0
		for i, r := range rs {
			size += len(r.Value)
			if r.Offset != int64(i) {
				t.Fatalf("record %d at offset %d", i, r.Offset)
			}
		}
		// 300-byte values in ~370-byte batches: 2000 bytes need >= 6.
		if len(rs) < 5 {
			t.Fatalf("fetch with min bytes 2000 returned after %d records (%d value bytes)", len(rs), size)
		}
		t.Logf("first fetch returned %d records", len(rs))
	case <-time.After(maxWait / 2):
		t.Fatalf("fetch with min bytes 2000 and max wait %v did not return within %v after 3000 bytes were appended", maxWait, maxWait/2)
	}
}

func TestSaramaLongPollWakesOnAppend(t *testing.T) {
	// Closing a sarama consumer waits for its in-flight fetch; registered
	// before the broker, this cleanup runs after the broker's Close has
	// ended that long poll.
	var c sarama.Consumer
	var pc sarama.PartitionConsumer
	t.Cleanup(func() {
		if pc != nil {
			pc.AsyncClose()
		}
		if c != nil {
			c.Close()
		}
	})
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cfg := saramaConfig(sarama.V2_8_0_0)
	cfg.Consumer.MaxWaitTime = 20 * time.Second
	cfg.Net.ReadTimeout = 60 * time.Second
	var err error
	c, err = sarama.NewConsumer([]string{srv.Addr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, err = c.ConsumePartition(topic, 0, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	prod := saramaProducer(t, srv.Addr(), saramaConfig(sarama.V2_8_0_0))
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("wake")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-pc.Messages():
		if string(m.Value) != "wake" || m.Offset != 0 {
			t.Fatalf("got %q at %d", m.Value, m.Offset)
		}
	case err := <-pc.Errors():
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("sarama consumer waiting at the end (MaxWaitTime 20s) not woken by an append within 10s")
	}
}
