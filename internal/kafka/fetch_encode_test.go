package kafka

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// TestFetchEnvelopeMatchesKmsg checks the hand-built Fetch envelope, with
// the file bytes spliced in, against kmsg's encoding of the same response
// for every version we serve.
func TestFetchEnvelopeMatchesKmsg(t *testing.T) {
	path := filepath.Join(t.TempDir(), "records")
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	for v := int16(4); v <= 12; v++ {
		rep := &fetchReply{version: v, throttle: 7, errorCode: 0, sessionID: 0, topics: []fetchTopic{
			{name: "alpha", partitions: []fetchPartition{
				{partition: 0, highWatermark: 100, lastStable: 90, logStart: 3, records: log.Slice{File: f, Pos: 2, Size: 10},
					aborted: []log.AbortedTxn{{ProducerID: 7, FirstOffset: 4, LastOffset: 20}, {ProducerID: 1 << 40, FirstOffset: 50, LastOffset: 51}}},
				{partition: 1, errorCode: 1, highWatermark: -1, lastStable: -1, logStart: -1},
			}},
			{name: "beta", partitions: []fetchPartition{
				{partition: 5, highWatermark: 9, lastStable: 9, logStart: 0, records: log.Slice{File: f, Pos: 20, Size: 16}, aborted: []log.AbortedTxn{}},
			}},
		}}
		env, pieces, fileBytes := rep.encode(nil)
		var got []byte
		start := 0
		for _, p := range pieces {
			got = append(got, env[start:p.end]...)
			got = append(got, content[p.file.Pos:p.file.Pos+p.file.Size]...)
			start = p.end
		}
		got = append(got, env[start:]...)
		if int64(len(got)) != int64(len(env))+fileBytes {
			t.Fatalf("v%d: size bookkeeping off", v)
		}

		want := kmsg.NewPtrFetchResponse()
		want.Version = v
		want.ThrottleMillis = 7
		for _, ft := range rep.topics {
			kt := kmsg.NewFetchResponseTopic()
			kt.Topic = ft.name
			for _, fp := range ft.partitions {
				kp := kmsg.NewFetchResponseTopicPartition()
				kp.Partition, kp.ErrorCode = fp.partition, fp.errorCode
				kp.HighWatermark, kp.LastStableOffset, kp.LogStartOffset = fp.highWatermark, fp.lastStable, fp.logStart
				kp.RecordBatches = append([]byte{}, content[fp.records.Pos:fp.records.Pos+fp.records.Size]...)
				if fp.aborted != nil {
					kp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				}
				for _, a := range fp.aborted {
					ka := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					ka.ProducerID, ka.FirstOffset = a.ProducerID, a.FirstOffset
					kp.AbortedTransactions = append(kp.AbortedTransactions, ka)
				}
				kt.Partitions = append(kt.Partitions, kp)
			}
			want.Topics = append(want.Topics, kt)
		}
		wantBytes := want.AppendTo(nil)
		if !bytes.Equal(got, wantBytes) {
			t.Fatalf("v%d: envelope differs from kmsg\n got %x\nwant %x", v, got, wantBytes)
		}
		// And kmsg reads ours back.
		back := kmsg.NewPtrFetchResponse()
		back.Version = v
		if err := back.ReadFrom(got); err != nil {
			t.Fatalf("v%d: kmsg cannot read our envelope: %v", v, err)
		}
		if a := back.Topics[0].Partitions[0].AbortedTransactions; len(a) != 2 || a[1].ProducerID != 1<<40 || a[1].FirstOffset != 50 {
			t.Fatalf("v%d: aborted transactions read back as %+v", v, a)
		}
		if a := back.Topics[0].Partitions[1].AbortedTransactions; a != nil {
			t.Fatalf("v%d: null aborted transactions read back as %+v", v, a)
		}
	}
}
