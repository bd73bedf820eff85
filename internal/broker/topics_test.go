package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/meta"
)

func newTestBroker(t *testing.T) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConcurrentDeleteAndCreateConverge races deleting and re-creating one
// topic name: whatever order the metadata changes and their reconciles run
// in, the open partitions always end up matching the newest metadata — the
// topic's partitions are open exactly when the topic exists, and belong to
// the current incarnation (its id).
func TestConcurrentDeleteAndCreateConverge(t *testing.T) {
	b := newTestBroker(t)
	const name = "churn"
	for round := 0; round < 40; round++ {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); b.DeleteTopic(name) }()
		go func() { defer wg.Done(); b.CreateTopic(name, 2, nil, false) }()
		wg.Wait()

		topic, exists := b.Image().Topic(name)
		for i := int32(0); i < 2; i++ {
			_, err := b.Partition(name, i)
			if exists != (err == nil) {
				t.Fatalf("round %d: topic exists=%v but partition %d lookup err=%v", round, exists, i, err)
			}
		}
		if exists {
			b.mu.RLock()
			id := b.topicIDs[name]
			b.mu.RUnlock()
			if id != topic.ID {
				t.Fatalf("round %d: open partitions belong to topic id %x, metadata has %x", round, id, topic.ID)
			}
		}
	}
}

// TestRecreatedTopicStartsEmpty: a topic deleted and created again under
// the same name does not see the old data.
func TestRecreatedTopicStartsEmpty(t *testing.T) {
	b := newTestBroker(t)
	if _, err := b.CreateTopic("again", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Partition("again", 0)
	if _, err := p.Append(testBatch(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteTopic("again"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateTopic("again", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p, err := b.Partition("again", 0)
	if err != nil {
		t.Fatal(err)
	}
	if end := p.Log().EndOffset(); end != 0 {
		t.Fatalf("re-created topic starts at offset %d, want 0", end)
	}
}

// testBatch is one valid record batch without a producer id.
func testBatch(t *testing.T) []byte {
	t.Helper()
	return log.NewBatch([]log.KeyValue{{Key: []byte("k"), Value: []byte("v")}}, time.Now())
}

// TestReconcileTellsIncarnationsApart: when a topic is deleted and created
// again under the same name before any reconcile runs, the next reconcile
// still drops the old partitions (their id differs) instead of serving the
// old data as the new topic's.
func TestReconcileTellsIncarnationsApart(t *testing.T) {
	b := newTestBroker(t)
	if _, err := b.CreateTopic("reused", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Partition("reused", 0)
	if _, err := p.Append(testBatch(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.meta.Update(func(*meta.Image) ([]meta.Record, error) {
		return []meta.Record{
			{Remove: &meta.RemoveTopicRecord{Name: "reused"}},
			{Topic: &meta.TopicRecord{Name: "reused", ID: newTopicID(), Partitions: 1}},
		}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reconcile(); err != nil {
		t.Fatal(err)
	}
	p, err := b.Partition("reused", 0)
	if err != nil {
		t.Fatal(err)
	}
	if end := p.Log().EndOffset(); end != 0 {
		t.Fatalf("the new incarnation of the topic holds the old data (end offset %d)", end)
	}
}
