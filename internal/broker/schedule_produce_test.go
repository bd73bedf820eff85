package broker

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/schedule"
)

// idempotentBatch encodes recs as an idempotent producer's batch.
func idempotentBatch(pid int64, seq int32, recs []log.Record) []byte {
	b := log.NewRecordBatch(recs)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], 0)
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestAppendSchedulingSplitsAndDeduplicates: a batch of an idempotent
// producer mixing scheduled and ordinary records stores the ordinary ones on
// the partition and the scheduled ones in __scheduled; the same batch sent
// again (a producer retry) is answered from the first attempt and schedules
// nothing more; the producer's next sequence is accepted.
func TestAppendSchedulingSplitsAndDeduplicates(t *testing.T) {
	b := newTestBroker(t)
	if _, err := b.CreateTopic("orders", 1, map[string]string{"message.scheduling.enable": "true"}, false); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Partition("orders", 0)
	sp, _ := b.Partition(ScheduledTopic, 0)
	later := []kmsg.Header{{Key: "ferry-delay-ms", Value: []byte("3600000")}}
	now := time.Now().UnixMilli()
	batch := idempotentBatch(7, 0, []log.Record{
		{Key: []byte("a"), Value: []byte("now"), Timestamp: now},
		{Key: []byte("b"), Value: []byte("later"), Timestamp: now, Headers: later},
		{Key: []byte("c"), Value: []byte("now too"), Timestamp: now},
	})
	first, sched, err := b.AppendScheduling(p, batch)
	if err != nil {
		t.Fatal(err)
	}
	if sched.Part != sp || p.Log().EndOffset() != 2 || sp.Log().EndOffset() != 1 {
		t.Fatalf("partition end %d, __scheduled end %d, want 2 and 1", p.Log().EndOffset(), sp.Log().EndOffset())
	}
	again, sched, err := b.AppendScheduling(p, batch)
	if err != nil {
		t.Fatal(err)
	}
	if again != first || sched.Part != nil || p.Log().EndOffset() != 2 || sp.Log().EndOffset() != 1 {
		t.Fatalf("retry: result %+v (first %+v), ends %d and %d: stored twice", again, first, p.Log().EndOffset(), sp.Log().EndOffset())
	}
	next := idempotentBatch(7, 3, []log.Record{{Key: []byte("d"), Value: []byte("later"), Timestamp: now, Headers: later}})
	if _, _, err := b.AppendScheduling(p, next); err != nil {
		t.Fatalf("next sequence refused: %v", err)
	}
	if sp.Log().EndOffset() != 2 {
		t.Fatalf("__scheduled end %d, want 2", sp.Log().EndOffset())
	}
}

// TestSchedulerMetrics: the scheduler's counters reach the metrics sink.
func TestSchedulerMetrics(t *testing.T) {
	sink := &recordingSink{}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Metrics = sink
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateTopic("orders", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	s, err := b.Scheduler()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Schedule(schedule.Message{Topic: "orders", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Delivered == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := sink.scrape()
	if got["ferry_schedule_messages_total outcome=delivered"] != 1 || got["ferry_schedule_messages_total outcome=cancelled"] != 0 {
		t.Fatalf("scheduler metrics: %v", got)
	}
	if _, ok := got["ferry_schedule_pending_loaded"]; !ok {
		t.Fatalf("no ferry_schedule_pending_loaded: %v", got)
	}
}
