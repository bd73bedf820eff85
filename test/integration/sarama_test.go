package integration

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// saramaVersions are the protocol versions the sarama tests run with; the
// zero Version means sarama's default (V2_8_0_0 in v1.61).
var saramaVersions = []struct {
	name string
	v    sarama.KafkaVersion
}{
	{"default", sarama.KafkaVersion{}},
	{"V0_11_0_0", sarama.V0_11_0_0},
	{"V1_0_0_0", sarama.V1_0_0_0},
	{"V2_1_0_0", sarama.V2_1_0_0},
	{"V3_6_0_0", sarama.V3_6_0_0},
}

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	if v != (sarama.KafkaVersion{}) {
		cfg.Version = v
	}
	cfg.ClientID = "ferry-integration"
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func saramaProducer(t testing.TB, addr string, cfg *sarama.Config) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// toSarama converts kgo records (Topic must be set by the caller) into
// sarama producer messages.
func toSarama(topic string, rs []*kgo.Record) []*sarama.ProducerMessage {
	ms := make([]*sarama.ProducerMessage, len(rs))
	for i, r := range rs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Timestamp: r.Timestamp}
		if r.Key != nil {
			m.Key = sarama.ByteEncoder(r.Key)
		}
		if r.Value != nil {
			m.Value = sarama.ByteEncoder(r.Value)
		}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
		ms[i] = m
	}
	return ms
}

// fromSaramaProduced copies partition and offset assigned by the sarama
// producer back into the kgo records, for checkConsumed.
func fromSaramaProduced(rs []*kgo.Record, ms []*sarama.ProducerMessage) {
	for i, m := range ms {
		rs[i].Partition = m.Partition
		rs[i].Offset = m.Offset
	}
}

func fromSaramaConsumed(m *sarama.ConsumerMessage) *kgo.Record {
	r := &kgo.Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: string(h.Key), Value: h.Value})
	}
	return r
}

// saramaConsume reads partitions [0, parts) from their oldest offsets with a
// sarama consumer until n messages arrived, then briefly waits for extras.
func saramaConsume(t testing.TB, addr string, cfg *sarama.Config, topic string, parts int32, n int) []*kgo.Record {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	var (
		mu   sync.Mutex
		got  []*kgo.Record
		errs []error
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	var pcs []sarama.PartitionConsumer
	for p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume partition %d: %v", p, err)
		}
		pcs = append(pcs, pc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case m := <-pc.Messages():
					mu.Lock()
					got = append(got, fromSaramaConsumed(m))
					mu.Unlock()
				case err := <-pc.Errors():
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				case <-done:
					return
				}
			}
		}()
	}
	count := func() (int, []error) {
		mu.Lock()
		defer mu.Unlock()
		return len(got), errs
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		have, errs := count()
		if len(errs) > 0 {
			close(done)
			wg.Wait()
			t.Fatalf("sarama consume: %v", errs[0])
		}
		if have >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(done)
	wg.Wait()
	for _, pc := range pcs {
		pc.AsyncClose()
	}
	if len(got) != n {
		t.Fatalf("sarama consumed %d messages from %s, want exactly %d", len(got), topic, n)
	}
	return got
}

func TestSaramaProduceConsume(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 3)
			cfg := saramaConfig(sv.v)
			prod := saramaProducer(t, srv.Addr(), cfg)
			rs := testRecords(300)
			ms := toSarama(topic, rs)
			if err := prod.SendMessages(ms); err != nil {
				t.Fatalf("send messages: %v", err)
			}
			fromSaramaProduced(rs, ms)
			// One message at a time too.
			for i := range 20 {
				r := &kgo.Record{Key: []byte("single"), Value: []byte("single-" + strconv.Itoa(i))}
				p, o, err := prod.SendMessage(toSarama(topic, []*kgo.Record{r})[0])
				if err != nil {
					t.Fatalf("send message: %v", err)
				}
				r.Partition, r.Offset = p, o
				rs = append(rs, r)
			}
			got := saramaConsume(t, srv.Addr(), cfg, topic, 3, len(rs))
			checkConsumed(t, rs, got)
			// Per-partition order of a single sync producer's messages.
			checkProducedOrder(t, rs[len(rs)-20:])
		})
	}
}

func TestSaramaToFranz(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 3)
	prod := saramaProducer(t, srv.Addr(), saramaConfig(sarama.V2_8_0_0))
	rs := testRecords(300)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for i, r := range rs {
		r.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
	}
	ms := toSarama(topic, rs)
	if err := prod.SendMessages(ms); err != nil {
		t.Fatal(err)
	}
	fromSaramaProduced(rs, ms)
	got := consumeN(t, srv.Addr(), allFrom(3, kgo.NewOffset().AtStart()), topic, len(rs))
	checkConsumed(t, rs, got)
	want := map[[2]int64]time.Time{}
	for _, r := range rs {
		want[[2]int64{int64(r.Partition), r.Offset}] = r.Timestamp
	}
	for _, r := range got {
		if w := want[[2]int64{int64(r.Partition), r.Offset}]; !r.Timestamp.Equal(w) {
			t.Fatalf("record %d/%d timestamp %v, want %v", r.Partition, r.Offset, r.Timestamp, w)
		}
	}
}

func TestFranzToSarama(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 3)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic))
	rs := testRecords(300)
	produceSync(t, cl, rs...)
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			got := saramaConsume(t, srv.Addr(), saramaConfig(sv.v), topic, 3, len(rs))
			checkConsumed(t, rs, got)
			for _, r := range got {
				if r.Timestamp.IsZero() || time.Since(r.Timestamp) > time.Hour {
					t.Fatalf("record %d/%d: timestamp %v", r.Partition, r.Offset, r.Timestamp)
				}
			}
		})
	}
}

func TestSaramaCompression(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	codecs := []struct {
		name string
		c    sarama.CompressionCodec
	}{
		{"gzip", sarama.CompressionGZIP},
		{"snappy", sarama.CompressionSnappy},
		{"lz4", sarama.CompressionLZ4},
		{"zstd", sarama.CompressionZSTD},
	}
	for _, codec := range codecs {
		t.Run(codec.name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 2)
			cfg := saramaConfig(sarama.V2_8_0_0)
			cfg.Producer.Compression = codec.c
			cfg.Producer.Flush.Messages = 50
			cfg.Producer.Flush.Frequency = 5 * time.Millisecond
			prod := saramaProducer(t, srv.Addr(), cfg)
			rs := testRecords(300)
			for i, r := range rs {
				if i%2 == 0 {
					r.Value = append(r.Value, bytes.Repeat([]byte("compress me "), 50)...)
				}
			}
			ms := toSarama(topic, rs)
			if err := prod.SendMessages(ms); err != nil {
				t.Fatal(err)
			}
			fromSaramaProduced(rs, ms)
			// Read back with both clients.
			checkConsumed(t, rs, saramaConsume(t, srv.Addr(), cfg, topic, 2, len(rs)))
			checkConsumed(t, rs, consumeN(t, srv.Addr(), allFrom(2, kgo.NewOffset().AtStart()), topic, len(rs)))
		})
	}
	// And franz-go-compressed batches read by sarama.
	for name, codec := range map[string]kgo.CompressionCodec{"franz-gzip": kgo.GzipCompression(), "franz-snappy": kgo.SnappyCompression(), "franz-lz4": kgo.Lz4Compression(), "franz-zstd": kgo.ZstdCompression()} {
		t.Run(name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 1)
			cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(5*time.Millisecond))
			rs := testRecords(200)
			produceSync(t, cl, rs...)
			checkConsumed(t, rs, saramaConsume(t, srv.Addr(), saramaConfig(sarama.V2_8_0_0), topic, 1, len(rs)))
		})
	}
}

func TestSaramaLargeRecords(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1, "max.message.bytes="+strconv.Itoa(2<<20))
	cfg := saramaConfig(sarama.V2_8_0_0)
	cfg.Producer.MaxMessageBytes = 3 << 20
	cfg.Consumer.Fetch.Default = 4 << 20
	prod := saramaProducer(t, srv.Addr(), cfg)
	rnd := rand.New(rand.NewPCG(5, 6))
	var rs []*kgo.Record
	for i := range 4 {
		v := make([]byte, 1<<20)
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		r := &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: v}
		p, o, err := prod.SendMessage(toSarama(topic, []*kgo.Record{r})[0])
		if err != nil {
			t.Fatalf("send 1 MiB message %d: %v", i, err)
		}
		r.Partition, r.Offset = p, o
		rs = append(rs, r)
	}
	checkConsumed(t, rs, saramaConsume(t, srv.Addr(), cfg, topic, 1, len(rs)))

	// Too large for the topic: the broker answers MESSAGE_TOO_LARGE.
	big := make([]byte, (2<<20)+4096)
	for j := range big {
		big[j] = byte(rnd.Uint32())
	}
	_, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(big)})
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("send %d bytes to max.message.bytes=%d: err = %v, want MessageSizeTooLarge", len(big), 2<<20, err)
	}
}

func TestSaramaGetOffsetByTimestamp(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 1)
	cfg := saramaConfig(sarama.V2_8_0_0)
	prod := saramaProducer(t, srv.Addr(), cfg)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	ts := func(i int) time.Time { return base.Add(time.Duration(i) * 5 * time.Second) }
	const n = 8
	for i := range n {
		_, o, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(strconv.Itoa(i)), Timestamp: ts(i)})
		if err != nil {
			t.Fatal(err)
		}
		if o != int64(i) {
			t.Fatalf("message %d at offset %d", i, o)
		}
	}
	for _, sv := range saramaVersions {
		t.Run(sv.name, func(t *testing.T) {
			client, err := sarama.NewClient([]string{srv.Addr()}, saramaConfig(sv.v))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			check := func(what string, at int64, want int64) {
				t.Helper()
				got, err := client.GetOffset(topic, 0, at)
				if err != nil {
					t.Fatalf("GetOffset(%s): %v", what, err)
				}
				if got != want {
					t.Fatalf("GetOffset(%s) = %d, want %d", what, got, want)
				}
			}
			check("oldest", sarama.OffsetOldest, 0)
			check("newest", sarama.OffsetNewest, n)
			check("before all", base.Add(-time.Minute).UnixMilli(), 0)
			check("ts(0)", ts(0).UnixMilli(), 0)
			check("ts(2)", ts(2).UnixMilli(), 2)
			check("ts(2)+1ms", ts(2).UnixMilli()+1, 3)
			check("ts(5)-1ms", ts(5).UnixMilli()-1, 5)
			check("ts(n-1)", ts(n-1).UnixMilli(), n-1)
			// Kafka answers -1 when no record is at or after the time.
			check("after all", ts(n).UnixMilli(), -1)
		})
	}
}

func TestSaramaIdempotentProducer(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 4)
	cfg := saramaConfig(sarama.V2_8_0_0)
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	prod := saramaProducer(t, srv.Addr(), cfg)
	rs := testRecords(400)
	for i, r := range rs {
		r.Value = fmt.Appendf(r.Value, "#%d", i)
	}
	ms := toSarama(topic, rs)
	if err := prod.SendMessages(ms); err != nil {
		t.Fatal(err)
	}
	fromSaramaProduced(rs, ms)
	checkProducedOrder(t, rs)
	got := consumeN(t, srv.Addr(), allFrom(4, kgo.NewOffset().AtStart()), topic, len(rs))
	checkConsumed(t, rs, got)
	for _, r := range got {
		if r.ProducerID < 0 {
			t.Fatalf("idempotent sarama record %d/%d has no producer id", r.Partition, r.Offset)
		}
	}
}

func TestSaramaAcks(t *testing.T) {
	srv := startBroker(t)
	adm := newAdmin(t, srv.Addr())
	for name, acks := range map[string]sarama.RequiredAcks{"NoResponse": sarama.NoResponse, "WaitForLocal": sarama.WaitForLocal} {
		t.Run(name, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 1)
			cfg := saramaConfig(sarama.V2_8_0_0)
			cfg.Producer.RequiredAcks = acks
			prod := saramaProducer(t, srv.Addr(), cfg)
			var rs []*kgo.Record
			for i := range 50 {
				r := &kgo.Record{Key: []byte("k"), Value: []byte("v" + strconv.Itoa(i)), Partition: 0, Offset: int64(i)}
				if _, _, err := prod.SendMessage(toSarama(topic, []*kgo.Record{r})[0]); err != nil {
					t.Fatal(err)
				}
				rs = append(rs, r)
			}
			checkConsumed(t, rs, consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, len(rs)))
		})
	}
}
