package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAdminTopicsLifecycle(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	a, b := topicName(t), topicName(t)

	createTopic(t, adm, a, 3, "retention.ms=3600000", "segment.bytes=1048576")
	createTopic(t, adm, b, 1)

	// Creating it again fails with TOPIC_ALREADY_EXISTS.
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, a); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create existing topic: err = %v, want TOPIC_ALREADY_EXISTS", err)
	}
	// A bad config value is refused.
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, topicName(t)); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("create with retention.ms=soon: err = %v, want INVALID_CONFIG", err)
	}

	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(tds)); !slices.Equal(got, slices.Sorted(slices.Values([]string{a, b}))) {
		t.Fatalf("topics = %v, want [%s %s]", got, a, b)
	}
	for name, want := range map[string]int{a: 3, b: 1} {
		td := tds[name]
		if td.Err != nil {
			t.Fatalf("%s: %v", name, td.Err)
		}
		if len(td.Partitions) != want {
			t.Fatalf("%s: %d partitions, want %d", name, len(td.Partitions), want)
		}
		for p, pd := range td.Partitions {
			if pd.Err != nil || pd.Leader != 0 || !slices.Equal(pd.Replicas, []int32{0}) || !slices.Equal(pd.ISR, []int32{0}) {
				t.Fatalf("%s/%d: leader %d replicas %v isr %v err %v", name, p, pd.Leader, pd.Replicas, pd.ISR, pd.Err)
			}
		}
		if td.IsInternal {
			t.Fatalf("%s is internal", name)
		}
	}

	cfgOf := func(topic string) map[string]kadm.Config {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatalf("describe configs: %v", err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe configs %s: %v %v", topic, err, rc.Err)
		}
		m := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			m[c.Key] = c
		}
		return m
	}
	expect := func(cfg map[string]kadm.Config, key, value string, source kmsg.ConfigSource) {
		t.Helper()
		c, ok := cfg[key]
		if !ok {
			t.Fatalf("config %s missing; have %v", key, slices.Sorted(maps.Keys(cfg)))
		}
		if c.MaybeValue() != value || c.Source != source {
			t.Fatalf("config %s = %q (source %v), want %q (source %v)", key, c.MaybeValue(), c.Source, value, source)
		}
	}
	cfg := cfgOf(a)
	expect(cfg, "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	expect(cfg, "segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig)
	expect(cfg, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)
	expect(cfg, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)

	// Incremental alter: set one, delete another, leave the rest.
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.bytes", Value: kadm.StringPtr("123456")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, a)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := resps.On(a, nil); err != nil || r.Err != nil {
		t.Fatalf("alter configs: %v %v %s", err, r.Err, r.ErrMessage)
	}
	cfg = cfgOf(a)
	expect(cfg, "retention.bytes", "123456", kmsg.ConfigSourceDynamicTopicConfig)
	expect(cfg, "retention.ms", "604800000", kmsg.ConfigSourceDefaultConfig)
	expect(cfg, "segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig)

	// An invalid incremental alter is refused and changes nothing.
	resps, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "flush.policy", Value: kadm.StringPtr("sometimes")},
	}, a)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resps.On(a, nil); r.Err == nil {
		t.Fatalf("alter flush.policy=sometimes succeeded")
	}
	fp := cfg["flush.policy"]
	expect(cfgOf(a), "flush.policy", fp.MaybeValue(), fp.Source)

	// Delete a; b stays.
	dr, err := adm.DeleteTopics(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := dr.On(a, nil); err != nil || r.Err != nil {
		t.Fatalf("delete topic: %v %v", err, r.Err)
	}
	// kadm answers ListTopics from the client's metadata cache
	// (MetadataMinAge), so ask with a fresh client.
	adm = newAdmin(t, srv.Addr())
	tds, err = adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(tds)); !slices.Equal(got, []string{b}) {
		t.Fatalf("topics after delete = %v, want [%s]", got, b)
	}
	dr, err = adm.DeleteTopics(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dr.On(a, nil); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete missing topic: err = %v, want UNKNOWN_TOPIC_OR_PARTITION", r.Err)
	}

	// The name can be reused, and the new topic starts empty.
	createTopic(t, adm, a, 2)
	if end := endOffsets(t, adm, a); !maps.Equal(end, map[int32]int64{0: 0, 1: 0}) {
		t.Fatalf("recreated topic end offsets = %v", end)
	}
}

func TestDeletedTopicDataIsGone(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	for i := range 10 {
		produceSync(t, cl, &kgo.Record{Value: []byte("old-" + strconv.Itoa(i))})
	}
	if _, err := adm.DeleteTopics(testCtx(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
	createTopic(t, adm, topic, 1)
	cl2 := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl2, &kgo.Record{Value: []byte("new")})
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 1)
	if string(got[0].Value) != "new" || got[0].Offset != 0 {
		t.Fatalf("after delete+recreate got %q at %d, want \"new\" at 0", got[0].Value, got[0].Offset)
	}
}

func TestCreatePartitionsAreUsed(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	topic := topicName(t)
	createTopic(t, adm, topic, 1)

	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, cl, &kgo.Record{Partition: 0, Value: []byte("p0-before")})

	resp, err := adm.CreatePartitions(ctx, 2, topic)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := resp.On(topic, nil); err != nil || r.Err != nil {
		t.Fatalf("create partitions: %v %v %s", err, r.Err, r.ErrMessage)
	}
	// Shrinking is refused.
	resp, err = adm.UpdatePartitions(ctx, 2, topic)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.On(topic, nil); !errors.Is(r.Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink to 2 partitions: err = %v, want INVALID_PARTITIONS", r.Err)
	}
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds[topic].Partitions); n != 3 {
		t.Fatalf("after CreatePartitions(+2): %d partitions, want 3", n)
	}

	// The producing client learns about the new partitions on a metadata
	// refresh; ManualPartitioner to a partition it does not know yet fails,
	// so force the refresh.
	cl.ForceMetadataRefresh()
	deadline := time.Now().Add(10 * time.Second)
	for p := int32(1); p < 3; p++ {
		for {
			err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "p%d-after", p)}).FirstErr()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("produce to new partition %d: %v", p, err)
			}
			cl.ForceMetadataRefresh()
			time.Sleep(100 * time.Millisecond)
		}
	}
	produceSync(t, cl, &kgo.Record{Partition: 0, Value: []byte("p0-after")})

	got := byPartition(consumeN(t, srv.Addr(), allFrom(3, kgo.NewOffset().AtStart()), topic, 4))
	want := map[int32][]string{0: {"p0-before", "p0-after"}, 1: {"p1-after"}, 2: {"p2-after"}}
	for p, vs := range want {
		var have []string
		for i, r := range got[p] {
			have = append(have, string(r.Value))
			if r.Offset != int64(i) {
				t.Fatalf("partition %d record %d at offset %d", p, i, r.Offset)
			}
		}
		if !slices.Equal(have, vs) {
			t.Fatalf("partition %d: %q, want %q", p, have, vs)
		}
	}
	if end := endOffsets(t, adm, topic); !maps.Equal(end, map[int32]int64{0: 2, 1: 1, 2: 1}) {
		t.Fatalf("end offsets = %v", end)
	}

	// A default-partitioned producer spreads keyed records over all three.
	cl2 := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	var rs []*kgo.Record
	for i := range 60 {
		rs = append(rs, &kgo.Record{Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v")})
	}
	produceSync(t, cl2, rs...)
	used := map[int32]bool{}
	for _, r := range rs {
		used[r.Partition] = true
	}
	if len(used) != 3 {
		t.Fatalf("keyed records went to partitions %v, want all of 0,1,2", used)
	}
}

// testRecords builds n records with distinct keys, values and headers,
// including the edge cases: nil key, empty value, no headers, binary bytes.
func testRecords(n int) []*kgo.Record {
	rnd := rand.New(rand.NewPCG(1, 2))
	rs := make([]*kgo.Record, n)
	for i := range n {
		r := &kgo.Record{
			Key:   fmt.Appendf(nil, "key-%d", i%17),
			Value: fmt.Appendf(nil, "value-%d-", i),
		}
		// Some random binary bytes, a varying length.
		extra := make([]byte, rnd.IntN(300))
		for j := range extra {
			extra[j] = byte(rnd.Uint32())
		}
		r.Value = append(r.Value, extra...)
		switch i % 5 {
		case 0:
			r.Key = nil
		case 1:
			r.Value = []byte{}
		case 2:
			r.Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: nil}, {Key: "h1", Value: []byte{0, 1, 2}}}
		case 3:
			r.Headers = []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}}
		}
		rs[i] = r
	}
	return rs
}

// checkConsumed asserts that got holds exactly the produced records (whose
// Partition and Offset the produce filled in), byte-exact.
func checkConsumed(t testing.TB, produced, got []*kgo.Record) {
	t.Helper()
	type po struct {
		p int32
		o int64
	}
	want := map[po]*kgo.Record{}
	for _, r := range produced {
		want[po{r.Partition, r.Offset}] = r
	}
	if len(got) != len(want) {
		t.Fatalf("consumed %d records, want %d", len(got), len(want))
	}
	last := map[int32]int64{}
	for _, r := range got {
		w, ok := want[po{r.Partition, r.Offset}]
		if !ok {
			t.Fatalf("consumed unexpected record at %d/%d", r.Partition, r.Offset)
		}
		if d := recordDiff(w, r); d != "" {
			t.Fatalf("record %d/%d differs: %s", r.Partition, r.Offset, d)
		}
		if l, ok := last[r.Partition]; ok && r.Offset != l+1 {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, l)
		}
		last[r.Partition] = r.Offset
		delete(want, po{r.Partition, r.Offset})
	}
}

// checkProducedOrder asserts that, per partition, produced records got
// increasing offsets in the order they were handed to the client.
func checkProducedOrder(t testing.TB, produced []*kgo.Record) {
	t.Helper()
	last := map[int32]int64{}
	for i, r := range produced {
		if l, ok := last[r.Partition]; ok && r.Offset != l+1 {
			t.Fatalf("produced record %d: partition %d offset %d, previous %d", i, r.Partition, r.Offset, l)
		}
		last[r.Partition] = r.Offset
	}
}

func TestProduceConsumeKeysHeaders(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 4)

	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	rs := testRecords(500)
	produceSync(t, cl, rs...)
	checkProducedOrder(t, rs)
	counts := map[int32]int64{}
	for _, r := range rs {
		counts[r.Partition]++
	}
	if len(counts) < 2 {
		t.Fatalf("records went to %d partitions, want several", len(counts))
	}
	got := consumeN(t, srv.Addr(), allFrom(4, kgo.NewOffset().AtStart()), topic, len(rs))
	checkConsumed(t, rs, got)
	if end := endOffsets(t, adm, topic); !maps.Equal(end, map[int32]int64{0: counts[0], 1: counts[1], 2: counts[2], 3: counts[3]}) {
		t.Fatalf("end offsets %v, want %v", end, counts)
	}

	// Consuming from the middle starts exactly there.
	mid := counts[0] / 2
	got = consumeN(t, srv.Addr(), map[int32]kgo.Offset{0: kgo.NewOffset().At(mid)}, topic, int(counts[0]-mid))
	if got[0].Offset != mid {
		t.Fatalf("consume from %d started at %d", mid, got[0].Offset)
	}
	// Consuming at the end gets nothing.
	cons := newClient(t, srv.Addr(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: allFrom(4, kgo.NewOffset().AtEnd())}), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	fs := cons.PollFetches(ctx)
	cancel()
	if n := len(fs.Records()); n != 0 {
		t.Fatalf("consume at end returned %d records", n)
	}
}

func TestProduceToUnknownTopicOrPartition(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)

	// Raw produce request to a partition that does not exist.
	cl := newClient(t, srv.Addr())
	if ec := rawProduceTo(t, cl, topic, 7, nil).ErrorCode; !errors.Is(kerr.ErrorForCode(ec), kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to partition 7 of 1: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(ec))
	}

	// A missing topic with auto-create off: the client times out on metadata.
	pcl := newClient(t, srv.Addr(), kgo.RecordRetries(2), kgo.RetryTimeout(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pcl.ProduceSync(ctx, &kgo.Record{Topic: "no-such-topic", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce to a missing topic succeeded with auto-create off")
	}
}

func TestCompressionFranz(t *testing.T) {
	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 2)
			cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(5*time.Millisecond))
			rs := testRecords(300)
			// Compressible bodies too.
			for i, r := range rs {
				if i%2 == 0 {
					r.Value = append(r.Value, bytes.Repeat([]byte("compress me "), 50)...)
				}
			}
			produceSync(t, cl, rs...)
			checkProducedOrder(t, rs)
			got := consumeN(t, srv.Addr(), allFrom(2, kgo.NewOffset().AtStart()), topic, len(rs))
			checkConsumed(t, rs, got)
		})
	}
}

func TestLargeRecords(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	const maxBytes = 2 << 20
	createTopic(t, adm, topic, 1, "max.message.bytes="+strconv.Itoa(maxBytes))

	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(maxBytes), kgo.MaxBufferedBytes(64<<20))
	rnd := rand.New(rand.NewPCG(3, 4))
	var rs []*kgo.Record
	for i := range 5 {
		v := make([]byte, 1<<20)
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: v})
	}
	for _, r := range rs {
		produceSync(t, cl, r)
	}
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, len(rs),
		kgo.FetchMaxBytes(8<<20), kgo.FetchMaxPartitionBytes(4<<20))
	checkConsumed(t, rs, got)

	// Over max.message.bytes is refused with MESSAGE_TOO_LARGE.
	big := &kgo.Record{Value: make([]byte, maxBytes+1024)}
	for j := range big.Value {
		big.Value[j] = byte(rnd.Uint32()) // incompressible
	}
	cl2 := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedBytes(64<<20), kgo.RecordRetries(1))
	err := cl2.ProduceSync(testCtx(t, 20*time.Second), big).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce %d bytes to max.message.bytes=%d: err = %v, want MESSAGE_TOO_LARGE", len(big.Value), maxBytes, err)
	}
	if end := endOffsets(t, adm, topic); end[0] != int64(len(rs)) {
		t.Fatalf("end offset %d after refused produce, want %d", end[0], len(rs))
	}
}

func TestLongPollWakesOnAppend(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	prod := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, prod, &kgo.Record{Value: []byte("before")})

	const maxWait = 30 * time.Second
	cons := newClient(t, srv.Addr(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(1)}}),
		kgo.FetchMaxWait(maxWait))
	got := make(chan *kgo.Record, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), maxWait+10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if rs := fs.Records(); len(rs) > 0 {
				got <- rs[0]
				return
			}
		}
		close(got)
	}()
	// Let the fetch park at the log end, then append.
	time.Sleep(time.Second)
	start := time.Now()
	produceSync(t, prod, &kgo.Record{Value: []byte("after")})
	select {
	case r := <-got:
		if r == nil {
			t.Fatal("consumer gave up without a record")
		}
		if string(r.Value) != "after" || r.Offset != 1 {
			t.Fatalf("got %q at %d, want \"after\" at 1", r.Value, r.Offset)
		}
		t.Logf("woken %v after the append", time.Since(start))
	case <-time.After(maxWait / 2):
		t.Fatalf("a fetch waiting at the log end (max wait %v) was not woken by an append within %v", maxWait, maxWait/2)
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const n = 10
	ts := func(i int) time.Time { return base.Add(time.Duration(i) * 10 * time.Second) }
	for i := range n {
		produceSync(t, cl, &kgo.Record{Value: []byte(strconv.Itoa(i)), Timestamp: ts(i)})
	}

	check := func(milli int64, wantOffset, wantTs int64) {
		t.Helper()
		lo, err := adm.ListOffsetsAfterMilli(ctx, milli, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			t.Fatalf("list offsets after %d: %v", milli, err)
		}
		o, _ := lo.Lookup(topic, 0)
		if o.Offset != wantOffset || (wantTs != 0 && o.Timestamp != wantTs) {
			t.Fatalf("list offsets after %d (base%+d ms): offset %d ts %d, want offset %d ts %d", milli, milli-base.UnixMilli(), o.Offset, o.Timestamp, wantOffset, wantTs)
		}
	}
	check(base.UnixMilli()-1000, 0, ts(0).UnixMilli())
	check(ts(0).UnixMilli(), 0, ts(0).UnixMilli())
	check(ts(3).UnixMilli(), 3, ts(3).UnixMilli())
	check(ts(3).UnixMilli()+1, 4, ts(4).UnixMilli())
	check(ts(7).UnixMilli()-1, 7, ts(7).UnixMilli())
	check(ts(n-1).UnixMilli(), n-1, ts(n-1).UnixMilli())
	// After the newest record: kadm falls back to the end offset.
	check(ts(n-1).UnixMilli()+1, n, 0)

	if so := startOffsets(t, adm, topic); so[0] != 0 {
		t.Fatalf("start offset %d, want 0", so[0])
	}
	if eo := endOffsets(t, adm, topic); eo[0] != n {
		t.Fatalf("end offset %d, want %d", eo[0], n)
	}
	// Raw ListOffsets for a timestamp after all records: Kafka answers -1.
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = ts(n).UnixMilli()
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != -1 {
		t.Fatalf("ListOffsets v%d for a future timestamp: offset %d error %d, want offset -1 and no error", resp.Version, p.Offset, p.ErrorCode)
	}
	// Max timestamp (-3, ListOffsets v7): the record with the largest timestamp.
	lo, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatalf("list max timestamp offsets: %v", err)
	}
	if o, _ := lo.Lookup(topic, 0); o.Offset != n-1 || o.Timestamp != ts(n-1).UnixMilli() {
		t.Fatalf("max timestamp offset %d ts %d, want %d ts %d", o.Offset, o.Timestamp, n-1, ts(n-1).UnixMilli())
	}
	// Consumed timestamps are the produced ones.
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, n)
	for i, r := range got {
		if !r.Timestamp.Equal(ts(i)) {
			t.Fatalf("record %d timestamp %v, want %v", i, r.Timestamp, ts(i))
		}
	}
}

func TestRetentionBytes(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1, "segment.bytes=1024", "retention.bytes=4096")
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	const n = 200
	var rs []*kgo.Record
	for i := range n {
		r := &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: bytes.Repeat([]byte{byte(i)}, 100)}
		rs = append(rs, r)
		produceSync(t, cl, r) // one batch each
	}
	if so := startOffsets(t, adm, topic); so[0] != 0 {
		t.Fatalf("start offset %d before retention, want 0", so[0])
	}
	srv.Broker.EnforceRetention()
	so := startOffsets(t, adm, topic)[0]
	eo := endOffsets(t, adm, topic)[0]
	if eo != n {
		t.Fatalf("end offset %d after retention, want %d", eo, n)
	}
	// ~170 bytes per batch, 1 KiB segments: 4 KiB retention keeps roughly
	// 4-6 segments, ~30 records; allow slack but it must have advanced a lot.
	if so <= 0 || so > n-20 {
		t.Fatalf("start offset %d after retention of 4096 bytes over %d records of ~170 bytes", so, n)
	}
	t.Logf("retention advanced the start offset to %d", so)
	got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, int(n-so))
	if got[0].Offset != so {
		t.Fatalf("consume from earliest started at %d, want %d", got[0].Offset, so)
	}
	checkConsumed(t, rs[so:], got)

	// Fetching below the start offset is OFFSET_OUT_OF_RANGE; franz-go then
	// resets to the start by default (AtStart), so ask for an explicit offset
	// with a "no reset" policy.
	cons := newClient(t, srv.Addr(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ferr error
	for ferr == nil && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if len(fs.Records()) > 0 {
			t.Fatalf("fetch at offset 0 below start %d returned records", so)
		}
	}
	if !errors.Is(ferr, kerr.OffsetOutOfRange) {
		t.Fatalf("fetch below the start offset: err = %v, want OFFSET_OUT_OF_RANGE", ferr)
	}

	// Produce continues at the end.
	r := &kgo.Record{Value: []byte("after retention")}
	produceSync(t, cl, r)
	if r.Offset != n {
		t.Fatalf("produce after retention at offset %d, want %d", r.Offset, n)
	}
}

func TestRetentionMs(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	cl := newClient(t, srv.Addr())
	old := time.Now().Add(-48 * time.Hour)

	t.Run("all old", func(t *testing.T) {
		topic := topicName(t)
		createTopic(t, adm, topic, 1, "retention.ms=3600000")
		for i := range 20 {
			produceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i)), Timestamp: old.Add(time.Duration(i) * time.Second)})
		}
		srv.Broker.EnforceRetention()
		so, eo := startOffsets(t, adm, topic)[0], endOffsets(t, adm, topic)[0]
		if so != 20 || eo != 20 {
			t.Fatalf("after retention.ms of 2-day-old records: start %d end %d, want 20 20", so, eo)
		}
		r := &kgo.Record{Topic: topic, Value: []byte("fresh")}
		produceSync(t, cl, r)
		if r.Offset != 20 {
			t.Fatalf("fresh record at offset %d, want 20", r.Offset)
		}
		srv.Broker.EnforceRetention()
		got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, 1)
		if string(got[0].Value) != "fresh" || got[0].Offset != 20 {
			t.Fatalf("got %q at %d, want \"fresh\" at 20", got[0].Value, got[0].Offset)
		}
	})

	t.Run("old then new", func(t *testing.T) {
		topic := topicName(t)
		createTopic(t, adm, topic, 1, "retention.ms=3600000", "segment.bytes=1024")
		var rs []*kgo.Record
		for i := range 30 {
			r := &kgo.Record{Topic: topic, Value: bytes.Repeat([]byte{'o'}, 200), Timestamp: old.Add(time.Duration(i) * time.Second)}
			if i >= 20 {
				r.Timestamp = time.Now()
				r.Value = []byte("new-" + strconv.Itoa(i))
			}
			produceSync(t, cl, r)
			rs = append(rs, r)
		}
		srv.Broker.EnforceRetention()
		so, eo := startOffsets(t, adm, topic)[0], endOffsets(t, adm, topic)[0]
		if eo != 30 || so <= 0 || so > 20 {
			t.Fatalf("after retention: start %d end %d, want 0 < start <= 20, end 30", so, eo)
		}
		t.Logf("start offset %d", so)
		got := consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, int(30-so))
		checkConsumed(t, rs[so:], got)
	})
}

func TestIdempotentManyPartitions(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	const parts = 16
	createTopic(t, adm, topic, parts)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond))

	const producers, each = 4, 500
	var mu sync.Mutex
	var acked []*kgo.Record
	var wg sync.WaitGroup
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := &kgo.Record{Key: fmt.Appendf(nil, "g%d-%d", g, i%50), Value: fmt.Appendf(nil, "g%d-%d", g, i)}
				cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
					if err != nil {
						t.Errorf("produce %s: %v", r.Value, err)
						return
					}
					mu.Lock()
					acked = append(acked, r)
					mu.Unlock()
				})
			}
		}()
	}
	wg.Wait()
	if err := cl.Flush(testCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	if len(acked) != producers*each {
		t.Fatalf("%d acked, want %d", len(acked), producers*each)
	}
	got := consumeN(t, srv.Addr(), allFrom(parts, kgo.NewOffset().AtStart()), topic, producers*each)
	checkConsumed(t, acked, got)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("duplicate %s", r.Value)
		}
		seen[string(r.Value)] = true
		if r.ProducerID < 0 {
			t.Fatalf("record without a producer id: %+v", r)
		}
	}
	// Per key order: values of one key appear in production order.
	lastOf := map[string]int{}
	for _, r := range got {
		var g, i int
		fmt.Sscanf(string(r.Value), "g%d-%d", &g, &i)
		k := string(r.Key)
		if l, ok := lastOf[k]; ok && i <= l {
			t.Fatalf("key %s: %s after index %d", k, r.Value, l)
		}
		lastOf[k] = i
	}
	used := 0
	for _, o := range endOffsets(t, adm, topic) {
		if o > 0 {
			used++
		}
	}
	if used < parts/2 {
		t.Fatalf("only %d of %d partitions used", used, parts)
	}
}

func TestAcks(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	for name, acks := range map[string]kgo.Acks{"acks=0": kgo.NoAck(), "acks=1": kgo.LeaderAck(), "acks=all-nonidempotent": kgo.AllISRAcks()} {
		t.Run(name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 2)
			cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks), kgo.DisableIdempotentWrite())
			rs := testRecords(200)
			want := map[string]*kgo.Record{}
			for i, r := range rs {
				r.Value = fmt.Appendf(r.Value, "#%d", i) // unique values
				want[string(r.Value)] = r
			}
			index := map[string]int{}
			for i, r := range rs {
				index[string(r.Value)] = i
			}
			produceSync(t, cl, rs...)
			// With acks=0 the promises carry no offsets; match by value.
			got := consumeN(t, srv.Addr(), allFrom(2, kgo.NewOffset().AtStart()), topic, len(rs))
			for p, prs := range byPartition(got) {
				last := -1
				for i, r := range prs {
					if r.Offset != int64(i) {
						t.Fatalf("partition %d: record %d at offset %d", p, i, r.Offset)
					}
					w, ok := want[string(r.Value)]
					if !ok {
						t.Fatalf("partition %d offset %d: unexpected or duplicate value %.40q", p, r.Offset, r.Value)
					}
					if d := recordDiff(w, r); d != "" {
						t.Fatalf("partition %d offset %d: %s", p, r.Offset, d)
					}
					delete(want, string(r.Value))
					if idx := index[string(r.Value)]; idx <= last {
						t.Fatalf("partition %d: record #%d after #%d", p, idx, last)
					} else {
						last = idx
					}
				}
			}
			if len(want) != 0 {
				t.Fatalf("%d records missing", len(want))
			}
		})
	}
}
