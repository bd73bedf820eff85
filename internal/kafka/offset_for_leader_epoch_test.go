package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func offsetForEpochReq(version int16, topic string, current, epoch int32) *kmsg.OffsetForLeaderEpochRequest {
	req := kmsg.NewPtrOffsetForLeaderEpochRequest()
	req.SetVersion(version)
	req.ReplicaID = -1
	rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, epoch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func epochAnswer(t *testing.T, resp kmsg.Response) kmsg.OffsetForLeaderEpochResponseTopicPartition {
	t.Helper()
	r := resp.(*kmsg.OffsetForLeaderEpochResponse)
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		t.Fatalf("response has %d topics", len(r.Topics))
	}
	return r.Topics[0].Partitions[0]
}

// OffsetForLeaderEpoch answers every version from the log's epoch
// checkpoint, and checks the current leader epoch as Kafka does (KIP-320).
func TestOffsetForLeaderEpochEveryVersion(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "epochs"
	c.mustCreate(topic, 1, nil)
	now := time.Now().UnixMilli()
	if code, _ := c.produce(topic, 0, timedBatch(now, now, now)); code != 0 {
		t.Fatalf("produce: error %d", code)
	}
	for v := int16(0); v <= 4; v++ {
		got := epochAnswer(t, c.roundTrip(offsetForEpochReq(v, topic, -1, 0)))
		wantEpoch := int32(0)
		if v == 0 {
			wantEpoch = -1 // not in the v0 response
		}
		if got.ErrorCode != 0 || got.EndOffset != 3 || got.LeaderEpoch != wantEpoch {
			t.Fatalf("v%d epoch 0: %+v, want end offset 3, epoch %d", v, got, wantEpoch)
		}
		if got := epochAnswer(t, c.roundTrip(offsetForEpochReq(v, topic, -1, 1))); got.ErrorCode != 0 || got.EndOffset != -1 {
			t.Fatalf("v%d epoch 1 (above every known): %+v, want end offset -1", v, got)
		}
		if got := epochAnswer(t, c.roundTrip(offsetForEpochReq(v, "no-such-topic", -1, 0))); got.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("v%d unknown topic: error %d", v, got.ErrorCode)
		}
		if v >= 2 {
			if got := epochAnswer(t, c.roundTrip(offsetForEpochReq(v, topic, 1, 0))); got.ErrorCode != kerr.UnknownLeaderEpoch.Code {
				t.Fatalf("v%d current epoch 1 (newer than the broker's 0): error %d, want UNKNOWN_LEADER_EPOCH", v, got.ErrorCode)
			}
			if got := epochAnswer(t, c.roundTrip(offsetForEpochReq(v, topic, 0, 0))); got.ErrorCode != 0 || got.EndOffset != 3 {
				t.Fatalf("v%d current epoch 0: %+v", v, got)
			}
		}
	}

	// A new leader epoch: epoch 0 now ends where epoch 2 begins, and clients
	// still naming epoch 0 as current are fenced.
	p, err := b.srv.Broker.Partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Log().SetLeaderEpoch(2); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.produce(topic, 0, timedBatch(now, now)); code != 0 {
		t.Fatalf("produce: error %d", code)
	}
	if got := epochAnswer(t, c.roundTrip(offsetForEpochReq(4, topic, 0, 0))); got.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("current epoch 0 after epoch 2: error %d, want FENCED_LEADER_EPOCH", got.ErrorCode)
	}
	for _, tc := range []struct {
		epoch, wantEpoch int32
		wantEnd          int64
	}{{0, 0, 3}, {1, 0, 3}, {2, 2, 5}, {3, -1, -1}} {
		got := epochAnswer(t, c.roundTrip(offsetForEpochReq(4, topic, 2, tc.epoch)))
		if got.ErrorCode != 0 || got.LeaderEpoch != tc.wantEpoch || got.EndOffset != tc.wantEnd {
			t.Fatalf("epoch %d: %+v, want (%d, %d)", tc.epoch, got, tc.wantEpoch, tc.wantEnd)
		}
	}

	// Fetch and ListOffsets apply the same check.
	for _, tc := range []struct {
		current int32
		want    int16
	}{{-1, 0}, {2, 0}, {1, kerr.FencedLeaderEpoch.Code}, {3, kerr.UnknownLeaderEpoch.Code}} {
		fetch := kmsg.NewPtrFetchRequest()
		fetch.SetVersion(12)
		fetch.ReplicaID, fetch.MaxBytes = -1, 1<<20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = topic
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.CurrentLeaderEpoch, fp.PartitionMaxBytes = tc.current, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
		fetch.Topics = append(fetch.Topics, ft)
		fr := c.roundTrip(fetch).(*kmsg.FetchResponse)
		if code := fr.Topics[0].Partitions[0].ErrorCode; code != tc.want {
			t.Fatalf("fetch with current epoch %d: error %d, want %d", tc.current, code, tc.want)
		}

		lo := kmsg.NewPtrListOffsetsRequest()
		lo.SetVersion(7)
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = topic
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.CurrentLeaderEpoch, lp.Timestamp = tc.current, -1
		lt.Partitions = append(lt.Partitions, lp)
		lo.Topics = append(lo.Topics, lt)
		lr := c.roundTrip(lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if lr.ErrorCode != tc.want || tc.want == 0 && (lr.Offset != 5 || lr.LeaderEpoch != 2) {
			t.Fatalf("list offsets with current epoch %d: %+v, want error %d", tc.current, lr, tc.want)
		}
	}
}

// franz-go's own request, negotiated through ApiVersions, gets the answer;
// ApiVersions lists key 23 at v0-4.
func TestOffsetForLeaderEpochFranz(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "epochs-franz"
	c.mustCreate(topic, 1, nil)
	now := time.Now().UnixMilli()
	if code, _ := c.produce(topic, 0, timedBatch(now, now)); code != 0 {
		t.Fatalf("produce: error %d", code)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, k := range versions.ApiKeys {
		if k.ApiKey == 23 {
			listed = k.MinVersion == 0 && k.MaxVersion == 4
		}
	}
	if !listed {
		t.Fatal("ApiVersions does not list OffsetForLeaderEpoch v0-4")
	}

	resp, err := offsetForEpochReq(0, topic, 0, 0).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != 4 {
		t.Fatalf("negotiated v%d, want v4", resp.Version)
	}
	got := epochAnswer(t, resp)
	if got.ErrorCode != 0 || got.LeaderEpoch != 0 || got.EndOffset != 2 {
		t.Fatalf("answer %+v, want epoch 0 ending at 2", got)
	}
}
