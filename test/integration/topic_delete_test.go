package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeletedTopicStaysDeletedAfterSIGKILL: a topic with many partitions
// and data is deleted, and the broker is SIGKILLed as soon as the delete
// takes effect — when metadata stops listing the topic or the delete is
// acknowledged, whichever the client sees first. After a restart, a topic
// created again under the same name holds none of the old records.
//
// (Before partition directories carried their topic id, the delete
// committed its metadata record, then removed the directories one by one
// before answering; a kill in between left "TOPIC-N" directories that the
// next create of the name opened as its own.)
func TestDeletedTopicStaysDeletedAfterSIGKILL(t *testing.T) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	topic := topicName(t)
	const parts, perPartition = 300, 5

	cl := newClient(t, proc.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t, 3*time.Minute)
	createManyPartitions(t, ctx, cl, topic, parts)
	var recs []*kgo.Record
	for p := range int32(parts) {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "old-%d-%d", p, i)})
		}
	}
	produceSync(t, cl, recs...)

	// A second connection deletes while this one watches metadata.
	deleter := newClient(t, proc.addr)
	deleted := make(chan error, 1)
	go func() {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 120_000
		req.TopicNames = []string{topic} // v0-5
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = kmsg.StringPtr(topic) // v6+
		req.Topics = append(req.Topics, dt)
		resp, err := req.RequestWith(ctx, deleter)
		if err == nil && len(resp.Topics) != 1 {
			err = fmt.Errorf("answer names %d topics, want 1", len(resp.Topics))
		}
		if err == nil {
			err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
		}
		deleted <- err
	}()
	watchUntilGone(t, ctx, cl, topic, deleted)
	proc.kill()

	proc = startFerry(t, dataDir)
	adm := newAdmin(t, proc.addr)
	createManyPartitions(t, ctx, newClient(t, proc.addr), topic, parts)
	for p, end := range endOffsets(t, adm, topic) {
		if end != 0 {
			t.Fatalf("partition %d of the re-created topic has end offset %d: the deleted topic's records came back", p, end)
		}
	}
	// And a fetch from the start finds nothing.
	consumeN(t, proc.addr, allFrom(parts, kgo.NewOffset().At(0)), topic, 0)
}

// watchUntilGone polls Metadata for topic until it is no longer listed or
// the delete answers, and returns at once.
func watchUntilGone(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, deleted <-chan error) {
	t.Helper()
	for {
		select {
		case err := <-deleted:
			if err != nil {
				t.Fatalf("delete %s: %v", topic, err)
			}
			return
		default:
		}
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = false // asking must not bring the topic back
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		if len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// createManyPartitions creates topic with a request timeout long enough for
// a busy machine to open every partition.
func createManyPartitions(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, parts int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 120_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, parts, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil && len(resp.Topics) != 1 {
		err = fmt.Errorf("answer names %d topics, want 1", len(resp.Topics))
	}
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("create %s with %d partitions: %v", topic, parts, err)
	}
}
