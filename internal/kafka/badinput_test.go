package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

// logCapture keeps every log line, so tests can assert on logged reasons
// and that nothing panicked.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

type captureHandler struct {
	c     *logCapture
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		sb.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		sb.WriteString(" " + a.String())
		return true
	})
	h.c.mu.Lock()
	h.c.lines = append(h.c.lines, sb.String())
	h.c.mu.Unlock()
	return nil
}

func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{c: h.c, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h captureHandler) WithGroup(string) slog.Handler { return h }

func (c *logCapture) contains(sub string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

type testBroker struct {
	addr string
	logs *logCapture
	srv  *server.Server
}

// startBroker runs an in-process broker for one test and fails the test if
// anything panicked (handlers recover, but log it) by the time it closes.
// Each of configure changes the default configuration first.
func startBroker(t *testing.T, configure ...func(*config.Config)) *testBroker {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	for _, f := range configure {
		f(&cfg)
	}
	logs := &logCapture{}
	srv, err := server.Start(cfg, slog.New(captureHandler{c: logs}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close broker: %v", err)
		}
		if logs.contains("panicked") {
			logs.mu.Lock()
			t.Errorf("broker logged a panic:\n%s", strings.Join(logs.lines, "\n"))
			logs.mu.Unlock()
		}
	})
	return &testBroker{addr: srv.Addr(), logs: logs, srv: srv}
}

// rawClient speaks the wire protocol by hand.
type rawClient struct {
	t    *testing.T
	c    net.Conn
	r    *bufio.Reader
	corr int32
}

func (b *testBroker) dial(t *testing.T) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial broker: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// header appends a request header v1 (v2 with the tag byte when flexible).
func header(dst []byte, key, version int16, corr int32, flexible bool) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len("badinput")))
	dst = append(dst, "badinput"...)
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

func withSize(frame []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...)
}

// ioTimeout bounds each write and each response read, so a broken broker
// fails a test instead of hanging it. It is per operation, not per
// connection: a test of many round trips on a loaded 2-core machine (fsyncs
// of __consumer_offsets under -race) once ran past a 15 s connection-wide
// deadline.
const ioTimeout = 30 * time.Second

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes req and returns its correlation id.
func (c *rawClient) send(req kmsg.Request) int32 {
	c.t.Helper()
	c.corr++
	frame := header(nil, req.Key(), req.GetVersion(), c.corr, req.IsFlexible())
	c.write(withSize(req.AppendTo(frame)))
	return c.corr
}

// readResponse reads one response frame and checks its correlation id. It
// returns the body after the response header.
func (c *rawClient) readResponse(corr int32, flexibleHeader bool) []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		c.t.Fatalf("read response size: %v", err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, frame); err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	r := kbin.Reader{Src: frame}
	if got := r.Int32(); got != corr {
		c.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	if flexibleHeader {
		kmsg.SkipTags(&r)
	}
	if err := r.Complete(); err != nil {
		c.t.Fatalf("response header: %v", err)
	}
	return r.Src
}

// roundTrip sends req and decodes its response at the same version.
func (c *rawClient) roundTrip(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	corr := c.send(req)
	resp := req.ResponseKind()
	body := c.readResponse(corr, req.IsFlexible() && req.Key() != 18)
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decode %s response: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// expectClosed requires the broker to close the connection without
// answering.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open after bad input")
	}
	if n != 0 {
		c.t.Fatalf("broker answered %d bytes to bad input", n)
	}
}

// checkServes requires a fresh connection to get an ApiVersions answer.
func (b *testBroker) checkServes(t *testing.T) {
	t.Helper()
	c := b.dial(t)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "badinput", "1"
	resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	c.c.Close()
}

func TestBadFramesCloseConnection(t *testing.T) {
	b := startBroker(t)
	produceV1 := header(nil, 0, 1, 1, false)
	produceV1 = binary.BigEndian.AppendUint16(produceV1, 1)    // acks
	produceV1 = binary.BigEndian.AppendUint32(produceV1, 1000) // timeout
	produceV1 = binary.BigEndian.AppendUint32(produceV1, 0)    // no topics
	fetchV99 := append(header(nil, 1, 99, 1, true), make([]byte, 40)...)
	for _, tc := range []struct {
		name      string
		data      []byte
		halfClose bool   // send EOF after data
		reason    string // logged reason
	}{
		{"size over the limit", []byte{0x0c, 0x80, 0, 0}, false, "over the"},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xf0}, false, "over the"},
		{"truncated frame then EOF", append([]byte{0, 0, 0, 100}, header(nil, 18, 0, 1, false)...), true, "reading 100-byte request"},
		{"header shorter than 8 bytes", []byte{0, 0, 0, 4, 0, 18, 0, 0}, false, "truncated"},
		{"header without client id", []byte{0, 0, 0, 8, 0, 18, 0, 0, 0, 0, 0, 1}, false, "truncated"},
		{"unknown API key", withSize(header(nil, 9999, 0, 1, false)), false, "unsupported API key 9999"},
		{"Produce v1", withSize(produceV1), false, "Produce v1 is not supported"},
		{"Fetch v99", withSize(fetchV99), false, "Fetch v99 is not supported"},
		{"Metadata body truncated", withSize(append(header(nil, 3, 1, 1, false), 0, 0, 0, 5)), false, "decode Metadata v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.dial(t)
			c.write(tc.data)
			if tc.halfClose {
				c.c.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			if !b.logs.contains(tc.reason) {
				t.Errorf("no logged reason containing %q", tc.reason)
			}
			b.checkServes(t)
		})
	}
}

func TestApiVersionsTooNew(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	frame := header(nil, 18, 99, 77, true)
	frame = append(frame, 0, 0, 0) // whatever a future version's body is
	c.write(withSize(frame))
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(c.readResponse(77, false)); err != nil {
		t.Fatalf("decode v0 ApiVersions response: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d, want UNSUPPORTED_VERSION", resp.ErrorCode)
	}
	if len(resp.ApiKeys) != 1 || resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MinVersion != 0 || resp.ApiKeys[0].MaxVersion != 4 {
		t.Fatalf("ApiKeys %+v, want only ApiVersions 0-4", resp.ApiKeys)
	}
	// The connection stays usable for the retry.
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(4)
	if r := c.roundTrip(req).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 || len(r.ApiKeys) < 5 {
		t.Fatalf("retry at v4: error %d, %d keys", r.ErrorCode, len(r.ApiKeys))
	}
}

// --- record batches ---

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type batchOpts struct {
	pid   int64
	epoch int16
	seq   int32
}

var noProducer = batchOpts{pid: -1, epoch: -1, seq: -1}

// makeBatch is a valid uncompressed v2 batch holding values.
func makeBatch(o batchOpts, values ...string) []byte {
	var records []byte
	for i, v := range values {
		rec := kmsg.NewRecord()
		rec.OffsetDelta = int32(i)
		rec.Value = []byte(v)
		body := rec.AppendTo(nil)
		rec.Length = int32(len(body) - 1) // the zero length varint is one byte
		records = rec.AppendTo(records)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.NewRecordBatch()
	rb.Magic = 2
	rb.LastOffsetDelta = int32(len(values) - 1)
	rb.FirstTimestamp, rb.MaxTimestamp = now, now
	rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = o.pid, o.epoch, o.seq
	rb.NumRecords = int32(len(values))
	rb.Records = records
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	fixCRC(raw)
	return raw
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
}

func produceReq(topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produce sends one batch and returns the partition's error code and base
// offset.
func (c *rawClient) produce(topic string, partition int32, records []byte) (int16, int64) {
	c.t.Helper()
	resp := c.roundTrip(produceReq(topic, partition, records)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		c.t.Fatalf("produce response has %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func (c *rawClient) latestOffset(topic string, partition int32) (int16, int64) {
	c.t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.SetVersion(7)
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.ListOffsetsResponse)
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.Offset
}

func (c *rawClient) fetchErr(topic string, partition int32, offset int64) int16 {
	c.t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(12)
	req.ReplicaID = -1
	req.MaxWaitMillis = 100
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.roundTrip(req).(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		c.t.Fatalf("fetch top-level error %d", resp.ErrorCode)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

type topicSpec struct {
	name        string
	partitions  int32
	replication int16
	configs     map[string]string
}

func (c *rawClient) createTopics(specs ...topicSpec) []kmsg.CreateTopicsResponseTopic {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	req.TimeoutMillis = 5000
	for _, s := range specs {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = s.name, s.partitions, s.replication
		for k, v := range s.configs {
			rc := kmsg.NewCreateTopicsRequestTopicConfig()
			rc.Name, rc.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, rc)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := c.roundTrip(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != len(specs) {
		c.t.Fatalf("CreateTopics answered %d of %d topics", len(resp.Topics), len(specs))
	}
	return resp.Topics
}

func (c *rawClient) mustCreate(name string, partitions int32, configs map[string]string) {
	c.t.Helper()
	st := c.createTopics(topicSpec{name, partitions, 1, configs})[0]
	if st.ErrorCode != 0 {
		c.t.Fatalf("create %s: error %d", name, st.ErrorCode)
	}
}

// topicNames lists every topic the broker has.
func (c *rawClient) topicNames() []string {
	c.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	req.Topics = nil
	resp := c.roundTrip(req).(*kmsg.MetadataResponse)
	var out []string
	for _, t := range resp.Topics {
		if t.Topic != nil && !t.IsInternal { // __consumer_offsets always exists
			out = append(out, *t.Topic)
		}
	}
	return out
}

// expectLog consumes the partition from the start with franz-go and
// requires exactly values, at consecutive offsets from 0.
func expectLog(t *testing.T, addr, topic string, partition int32, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for len(got) < len(values) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consume %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(len(got)) {
				t.Errorf("record %q at offset %d, want %d", r.Value, r.Offset, len(got))
			}
			got = append(got, string(r.Value))
		})
	}
	if fmt.Sprint(got) != fmt.Sprint(values) {
		t.Fatalf("%s/%d holds %q, want %q", topic, partition, got, values)
	}
	// Nothing beyond them.
	c := (&testBroker{addr: addr}).dial(t)
	if code, hw := c.latestOffset(topic, partition); code != 0 || hw != int64(len(values)) {
		t.Fatalf("%s/%d latest offset %d (error %d), want %d", topic, partition, hw, code, len(values))
	}
}

func TestProduceCorruptBatches(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "corrupt"
	c.mustCreate(topic, 1, nil)
	if code, off := c.produce(topic, 0, makeBatch(noProducer, "good-0")); code != 0 || off != 0 {
		t.Fatalf("good produce: error %d, offset %d", code, off)
	}

	good := makeBatch(noProducer, "bad-a", "bad-b")
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	anyError := int16(-999)
	for _, tc := range []struct {
		name    string
		records []byte
		want    []int16 // acceptable codes; anyError = any non-zero
	}{
		{"payload bit flip", mutate(func(b []byte) []byte { b[len(b)-2] ^= 1; return b }), []int16{kerr.CorruptMessage.Code}},
		{"crc field wrong", mutate(func(b []byte) []byte { b[18] ^= 0xff; return b }), []int16{kerr.CorruptMessage.Code}},
		{"attributes changed without crc", mutate(func(b []byte) []byte { b[22] ^= 0x08; return b }), []int16{kerr.CorruptMessage.Code}},
		{"magic 1", mutate(func(b []byte) []byte { b[16] = 1; fixCRC(b); return b }), []int16{kerr.UnsupportedForMessageFormat.Code, kerr.CorruptMessage.Code}},
		{"magic 0", mutate(func(b []byte) []byte { b[16] = 0; return b }), []int16{kerr.UnsupportedForMessageFormat.Code, kerr.CorruptMessage.Code}},
		{"length field too big", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12+10))
			return b
		}), []int16{kerr.CorruptMessage.Code}},
		{"length field too small", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12-10))
			return b
		}), []int16{kerr.CorruptMessage.Code}},
		{"length field negative", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[8:], 0xfffffff0)
			return b
		}), []int16{kerr.CorruptMessage.Code}},
		{"truncated batch", good[:40], []int16{kerr.CorruptMessage.Code}},
		{"truncated records", good[:len(good)-3], []int16{kerr.CorruptMessage.Code}},
		{"two batches concatenated", append(append([]byte(nil), good...), good...), []int16{anyError}},
		{"null records", nil, []int16{anyError}},
		{"empty records", []byte{}, []int16{anyError}},
		{"batch with no records", func() []byte {
			b := makeBatch(noProducer, "x")
			b = b[:61] // header only
			binary.BigEndian.PutUint32(b[8:], 61-12)
			binary.BigEndian.PutUint32(b[23:], 0) // last offset delta
			binary.BigEndian.PutUint32(b[57:], 0) // num records
			fixCRC(b)
			return b
		}(), []int16{anyError}},
		{"unknown compression codec 7", mutate(func(b []byte) []byte {
			b[22] |= 7
			fixCRC(b)
			return b
		}), []int16{kerr.CorruptMessage.Code, kerr.UnsupportedCompressionType.Code}},
		{"unknown compression codec 5", mutate(func(b []byte) []byte {
			b[22] |= 5
			fixCRC(b)
			return b
		}), []int16{kerr.CorruptMessage.Code, kerr.UnsupportedCompressionType.Code}},
		{"control batch from a client", mutate(func(b []byte) []byte {
			b[22] |= 0x20
			fixCRC(b)
			return b
		}), []int16{kerr.InvalidRecord.Code}},
		{"transactional batch without a transactional id", mutate(func(b []byte) []byte {
			b[22] |= 0x10
			fixCRC(b)
			return b
		}), []int16{kerr.InvalidRecord.Code}},
		{"record count disagrees with last offset delta", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 5)
			fixCRC(b)
			return b
		}), []int16{kerr.CorruptMessage.Code, kerr.InvalidRecord.Code}},
		{"negative record count", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], 0xffffffff)
			fixCRC(b)
			return b
		}), []int16{kerr.CorruptMessage.Code, kerr.InvalidRecord.Code}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := c.produce(topic, 0, tc.records)
			ok := false
			for _, w := range tc.want {
				if code == w || (w == anyError && code != 0) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("error code %d (%v), want one of %v", code, kerr.ErrorForCode(code), tc.want)
			}
			if lcode, hw := c.latestOffset(topic, 0); lcode != 0 || hw != 1 {
				t.Errorf("latest offset %d (error %d) after a refused batch, want 1", hw, lcode)
			}
		})
	}
	if code, off := c.produce(topic, 0, makeBatch(noProducer, "good-1", "good-2")); code != 0 || off != 1 {
		t.Fatalf("good produce after bad ones: error %d, offset %d", code, off)
	}
	expectLog(t, b.addr, topic, 0, "good-0", "good-1", "good-2")
}

func TestProduceMessageTooLarge(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "small-messages"
	c.mustCreate(topic, 1, map[string]string{"max.message.bytes": "1024"})
	if code, _ := c.produce(topic, 0, makeBatch(noProducer, strings.Repeat("x", 2000))); code != kerr.MessageTooLarge.Code {
		t.Fatalf("error %d, want MESSAGE_TOO_LARGE", code)
	}
	if code, off := c.produce(topic, 0, makeBatch(noProducer, strings.Repeat("y", 500))); code != 0 || off != 0 {
		t.Fatalf("batch under the limit: error %d, offset %d", code, off)
	}
	expectLog(t, b.addr, topic, 0, strings.Repeat("y", 500))
}

func TestInvalidTopicNames(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	bad := []string{"bad/name", strings.Repeat("a", 250), "..", ".", "", "sp ace", "tab\t", "ünï"}
	var specs []topicSpec
	for _, n := range bad {
		specs = append(specs, topicSpec{n, 1, 1, nil})
	}
	for i, st := range c.createTopics(specs...) {
		if st.ErrorCode != kerr.InvalidTopicException.Code {
			t.Errorf("CreateTopics %q: error %d, want INVALID_TOPIC_EXCEPTION", bad[i], st.ErrorCode)
		}
	}
	for _, n := range bad {
		if code, _ := c.produce(n, 0, makeBatch(noProducer, "v")); code == 0 {
			t.Errorf("Produce to %q succeeded", n)
		}
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(12)
		req.AllowAutoTopicCreation = true
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, mt)
		resp := c.roundTrip(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode == 0 {
			t.Errorf("Metadata for %q: %+v, want an error", n, resp.Topics)
		}
		// Metadata v0-3 always auto-create.
		req.SetVersion(1)
		resp = c.roundTrip(req).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode == 0 {
			t.Errorf("Metadata v1 for %q: %+v, want an error", n, resp.Topics)
		}
	}
	if names := c.topicNames(); len(names) != 0 {
		t.Fatalf("topics %q exist after invalid names were refused", names)
	}
}

func TestUnknownPartitionsAndOffsets(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "two-parts"
	c.mustCreate(topic, 2, nil)
	if code, _ := c.produce(topic, 1, makeBatch(noProducer, "p1")); code != 0 {
		t.Fatalf("produce to partition 1: error %d", code)
	}
	unknown := kerr.UnknownTopicOrPartition.Code
	for _, p := range []int32{2, 100, -1} {
		if code, _ := c.produce(topic, p, makeBatch(noProducer, "lost")); code != unknown {
			t.Errorf("produce to partition %d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", p, code)
		}
		if code := c.fetchErr(topic, p, 0); code != unknown {
			t.Errorf("fetch partition %d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", p, code)
		}
		if code, _ := c.latestOffset(topic, p); code != unknown {
			t.Errorf("list offsets partition %d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", p, code)
		}
	}
	for _, off := range []int64{2, 1 << 40, -5} {
		if code := c.fetchErr(topic, 1, off); code != kerr.OffsetOutOfRange.Code {
			t.Errorf("fetch at offset %d: error %d, want OFFSET_OUT_OF_RANGE", off, code)
		}
	}
	if code := c.fetchErr(topic, 1, 1); code != 0 {
		t.Errorf("fetch at the end: error %d, want none", code)
	}
	expectLog(t, b.addr, topic, 1, "p1")
	expectLog(t, b.addr, topic, 0)
	if names := c.topicNames(); len(names) != 1 {
		t.Fatalf("topics %q, want only %s", names, topic)
	}
}

func TestCreateTopicsAndPartitionsErrors(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	c.mustCreate("exists", 3, nil)
	for _, tc := range []struct {
		spec topicSpec
		want int16
	}{
		{topicSpec{"rf3", 1, 3, nil}, kerr.InvalidReplicationFactor.Code},
		{topicSpec{"rf0", 1, 0, nil}, kerr.InvalidReplicationFactor.Code},
		{topicSpec{"zero-parts", 0, 1, nil}, kerr.InvalidPartitions.Code},
		{topicSpec{"neg-parts", -7, 1, nil}, kerr.InvalidPartitions.Code},
		{topicSpec{"too-many-parts", 1 << 30, 1, nil}, kerr.InvalidPartitions.Code},
		{topicSpec{"unknown-config", 1, 1, map[string]string{"no.such.config": "1"}}, kerr.InvalidConfig.Code},
		{topicSpec{"bad-config", 1, 1, map[string]string{"retention.ms": "soon"}}, kerr.InvalidConfig.Code},
		{topicSpec{"exists", 1, 1, nil}, kerr.TopicAlreadyExists.Code},
	} {
		st := c.createTopics(tc.spec)[0]
		if st.ErrorCode != tc.want {
			t.Errorf("CreateTopics %s: error %d, want %d", tc.spec.name, st.ErrorCode, tc.want)
		}
	}
	for _, count := range []int32{2, 3, -1} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.SetVersion(3)
		req.TimeoutMillis = 5000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "exists", count
		req.Topics = append(req.Topics, rt)
		resp := c.roundTrip(req).(*kmsg.CreatePartitionsResponse)
		if resp.Topics[0].ErrorCode != kerr.InvalidPartitions.Code {
			t.Errorf("CreatePartitions to %d: error %d, want INVALID_PARTITIONS", count, resp.Topics[0].ErrorCode)
		}
	}
	if names := c.topicNames(); len(names) != 1 || names[0] != "exists" {
		t.Fatalf("topics %q, want only exists", names)
	}
	if code, _ := c.latestOffset("exists", 2); code != 0 {
		t.Fatalf("partition 2 of exists: error %d", code)
	}
	if code, _ := c.latestOffset("exists", 3); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 3 of exists: error %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
}

func TestIdempotentProducerSequences(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "idempotent"
	c.mustCreate(topic, 1, nil)
	ireq := kmsg.NewPtrInitProducerIDRequest()
	ireq.SetVersion(4)
	ireq.TransactionTimeoutMillis = -1
	iresp := c.roundTrip(ireq).(*kmsg.InitProducerIDResponse)
	if iresp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: error %d", iresp.ErrorCode)
	}
	pid := iresp.ProducerID
	batch := func(epoch int16, seq int32, values ...string) []byte {
		return makeBatch(batchOpts{pid: pid, epoch: epoch, seq: seq}, values...)
	}
	step := func(name string, records []byte, wantCode int16, wantOffset int64) {
		t.Helper()
		code, off := c.produce(topic, 0, records)
		if code != wantCode || (wantCode == 0 && off != wantOffset) {
			t.Fatalf("%s: error %d offset %d, want error %d offset %d", name, code, off, wantCode, wantOffset)
		}
	}
	first := batch(0, 0, "a0", "a1")
	step("first batch", first, 0, 0)
	step("sequence gap", batch(0, 5, "gap"), kerr.OutOfOrderSequenceNumber.Code, 0)
	step("re-sent first batch", first, 0, 0)
	step("next batch", batch(0, 2, "b0"), 0, 2)
	step("re-sent first batch again", first, 0, 0)
	step("sequence already passed", batch(0, 1, "old"), kerr.OutOfOrderSequenceNumber.Code, 0)
	step("new epoch not at 0", batch(1, 3, "e1"), kerr.OutOfOrderSequenceNumber.Code, 0)
	step("new epoch", batch(1, 0, "c0"), 0, 3)
	step("older epoch", batch(0, 3, "stale"), kerr.InvalidProducerEpoch.Code, 0)
	step("next in new epoch", batch(1, 1, "c1"), 0, 4)
	expectLog(t, b.addr, topic, 0, "a0", "a1", "b0", "c0", "c1")
	if !bytes.Contains(first, []byte("a0")) {
		t.Fatal("batch builder lost its values")
	}
}

// TestFrameSizeClaimsDoNotAllocate: a client that announces a frame just
// under the limit and sends nothing more must not make the broker allocate
// the whole frame; memory follows the bytes that actually arrive.
func TestFrameSizeClaimsDoNotAllocate(t *testing.T) {
	b := startBroker(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const conns = 8
	size := binary.BigEndian.AppendUint32(nil, uint32(config.Default().MaxRequestBytes-1))
	var cs []*rawClient
	for range conns {
		c := b.dial(t)
		c.write(size)
		c.write(header(nil, 18, 0, 1, false)) // a few real bytes
		cs = append(cs, c)
	}
	time.Sleep(200 * time.Millisecond) // let the broker read the sizes
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
		t.Fatalf("heap grew %d MiB for %d connections that sent %d bytes each", grew>>20, conns, 4+10+len("badinput"))
	}
	for _, c := range cs {
		c.c.Close()
	}
	b.checkServes(t)
}

// TestLargeFrameServed: a multi-MiB request, arriving in pieces, still
// works after frames grow as their bytes arrive.
func TestLargeFrameServed(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	const topic = "large"
	c.mustCreate(topic, 1, map[string]string{"max.message.bytes": "8388608"})
	value := strings.Repeat("0123456789abcdef", 3<<20/16+7)
	req := produceReq(topic, 0, makeBatch(noProducer, value))
	c.corr++
	frame := withSize(req.AppendTo(header(nil, 0, req.Version, c.corr, true)))
	for len(frame) > 0 { // in uneven pieces
		n := min(len(frame), 700_001)
		c.write(frame[:n])
		frame = frame[n:]
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if err := resp.ReadFrom(c.readResponse(c.corr, true)); err != nil {
		t.Fatal(err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("large produce: error %d, offset %d", p.ErrorCode, p.BaseOffset)
	}
	expectLog(t, b.addr, topic, 0, value)
}

// TestAcceptSurvivesFDExhaustion: running out of file descriptors makes
// accept fail for a while; the listener must keep going once they return.
func TestAcceptSurvivesFDExhaustion(t *testing.T) {
	b := startBroker(t)
	b.checkServes(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	// Our end of the connection exists before the limit drops, so only
	// the broker's accept runs out of descriptors.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	port, _ := strconv.Atoi(b.addr[strings.LastIndexByte(b.addr, ':')+1:])
	restore := lim
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &restore)
	tight := lim
	tight.Cur = 3
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &tight); err != nil {
		t.Skip(err)
	}
	err = syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	for deadline := time.Now().Add(2 * time.Second); err == nil && !b.logs.contains("too many open files") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &restore); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	b.checkServes(t)
}
