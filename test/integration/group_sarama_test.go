package integration

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

type saramaHandler struct {
	name string
	p    *processed
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.p.add(h.name, msg.Partition, msg.Offset)
		sess.MarkMessage(msg, "")
	}
	return nil
}

type saramaMember struct {
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
}

func startSaramaMember(t *testing.T, addr, groupID, topic, name string, version sarama.KafkaVersion, p *processed) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	if version != (sarama.KafkaVersion{}) {
		cfg.Version = version
	}
	cfg.ClientID = name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = groupSession
	cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Metadata.RefreshFrequency = time.Second
	g, err := sarama.NewConsumerGroup([]string{addr}, groupID, cfg)
	if err != nil {
		t.Fatalf("sarama consumer group: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{group: g, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, saramaHandler{name, p}); err != nil && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close commits what was marked and leaves the group.
func (m *saramaMember) close() {
	m.cancel()
	<-m.done
	m.group.Close()
}

func TestGroupSarama(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		name string
		v    sarama.KafkaVersion
	}{{"default", sarama.KafkaVersion{}}, {"V3_6_0_0", sarama.V3_6_0_0}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startGroupBroker(t, t.TempDir())
			addr := srv.Addr()
			adm := newAdmin(t, addr)
			topic := topicName(t)
			const parts = 6
			createTopic(t, adm, topic, parts)
			groupID := "g-" + topic
			producer := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			p := newProcessed()

			produceRound(t, producer, topic, parts, 10, 1)
			a := startSaramaMember(t, addr, groupID, topic, "a", v.v, p)
			b := startSaramaMember(t, addr, groupID, topic, "b", v.v, p)
			waitAssignment(t, adm, groupID, map[string]int{"a": 3, "b": 3})
			waitProcessed(t, p, adm, topic)

			a.close()
			waitAssignment(t, adm, groupID, map[string]int{"b": 6})
			produceRound(t, producer, topic, parts, 10, 2)
			end := waitProcessed(t, p, adm, topic)
			b.close()

			waitCommitted(t, adm, groupID, topic, end)

			// A new member resumes where the group left off.
			produceRound(t, producer, topic, parts, 5, 3)
			after := newProcessed()
			startSaramaMember(t, addr, groupID, topic, "c", v.v, after)
			waitResumed(t, after, adm, topic, end)
		})
	}
}
