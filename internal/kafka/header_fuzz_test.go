package kafka

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
)

// encodeRequestFrame is a request frame without its size prefix: header v1
// (key, version, correlation id, client id), the empty tag section of
// header v2 for flexible versions, then the body.
func encodeRequestFrame(req kmsg.Request, correlation int32, clientID string) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(correlation))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// seedBatch is a valid one-record v2 batch for seeding Produce requests.
func seedBatch() []byte {
	rec := kmsg.NewRecord()
	rec.Key = []byte("k")
	rec.Value = []byte("value")
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	rb := kmsg.NewRecordBatch()
	rb.Magic = 2
	rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = -1, -1, -1
	rb.NumRecords = 1
	rb.Records = rec.AppendTo(nil)
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// seedRequests returns a filled-in request for every registered API at its
// lowest and highest version.
func seedRequests() []kmsg.Request {
	var out []kmsg.Request
	for _, a := range supportedAPIs() {
		for _, v := range []int16{a.min, a.max} {
			req := kmsg.RequestForKey(a.key)
			req.SetVersion(v)
			topic := "seed-topic"
			switch r := req.(type) {
			case *kmsg.ProduceRequest:
				r.Acks = -1
				r.TimeoutMillis = 1000
				t := kmsg.NewProduceRequestTopic()
				t.Topic = topic
				p := kmsg.NewProduceRequestTopicPartition()
				p.Records = seedBatch()
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
			case *kmsg.FetchRequest:
				r.MaxWaitMillis = 0
				r.MaxBytes = 1 << 20
				t := kmsg.NewFetchRequestTopic()
				t.Topic = topic
				p := kmsg.NewFetchRequestTopicPartition()
				p.PartitionMaxBytes = 1 << 20
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
			case *kmsg.ListOffsetsRequest:
				t := kmsg.NewListOffsetsRequestTopic()
				t.Topic = topic
				p := kmsg.NewListOffsetsRequestTopicPartition()
				p.Timestamp = -1
				t.Partitions = append(t.Partitions, p)
				r.Topics = append(r.Topics, t)
			case *kmsg.MetadataRequest:
				t := kmsg.NewMetadataRequestTopic()
				t.Topic = &topic
				r.Topics = append(r.Topics, t)
			case *kmsg.CreateTopicsRequest:
				t := kmsg.NewCreateTopicsRequestTopic()
				t.Topic, t.NumPartitions, t.ReplicationFactor = topic, 2, 1
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				val := "1000"
				c.Name, c.Value = "retention.ms", &val
				t.Configs = append(t.Configs, c)
				r.Topics = append(r.Topics, t)
			case *kmsg.DeleteTopicsRequest:
				r.TopicNames = []string{topic}
				t := kmsg.NewDeleteTopicsRequestTopic()
				t.Topic = &topic
				r.Topics = append(r.Topics, t)
			case *kmsg.CreatePartitionsRequest:
				t := kmsg.NewCreatePartitionsRequestTopic()
				t.Topic, t.Count = topic, 3
				r.Topics = append(r.Topics, t)
			case *kmsg.DescribeConfigsRequest:
				res := kmsg.NewDescribeConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
				r.Resources = append(r.Resources, res)
			case *kmsg.AlterConfigsRequest:
				res := kmsg.NewAlterConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
				c := kmsg.NewAlterConfigsRequestResourceConfig()
				val := "2000"
				c.Name, c.Value = "retention.ms", &val
				res.Configs = append(res.Configs, c)
				r.Resources = append(r.Resources, res)
			case *kmsg.IncrementalAlterConfigsRequest:
				res := kmsg.NewIncrementalAlterConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				val := "3000"
				c.Name, c.Value = "retention.ms", &val
				res.Configs = append(res.Configs, c)
				r.Resources = append(r.Resources, res)
			case *kmsg.ApiVersionsRequest:
				r.ClientSoftwareName, r.ClientSoftwareVersion = "seed", "1.0"
			}
			out = append(out, req)
		}
	}
	return out
}

func FuzzParseRequest(f *testing.F) {
	for i, req := range seedRequests() {
		frame := encodeRequestFrame(req, int32(i), "seed-client")
		f.Add(frame)
		for _, n := range []int{0, 3, 8, 9, 10, len(frame) / 2, len(frame) - 1} {
			if n >= 0 && n < len(frame) {
				f.Add(frame[:n])
			}
		}
		for _, pos := range []int{0, 2, 8, len(frame) / 2, len(frame) - 1} {
			if pos >= 0 && pos < len(frame) {
				flipped := append([]byte(nil), frame...)
				flipped[pos] ^= 0x80
				f.Add(flipped)
			}
		}
	}
	// A null client id, and ApiVersions at a version above ours.
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0, 0})

	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, err := parseRequest(frame)
		if err != nil {
			if req != nil {
				t.Fatalf("parseRequest returned both a request and error %v", err)
			}
			return
		}
		if req == nil {
			t.Fatal("parseRequest returned neither a request nor an error")
		}
		if req.Key() != h.key || req.GetVersion() != h.version {
			t.Fatalf("request is key %d v%d, header says key %d v%d", req.Key(), req.GetVersion(), h.key, h.version)
		}
		req.AppendTo(nil)
	})
}

// fuzzServer is one in-process broker shared by every FuzzConnection input.
func fuzzServer(tb testing.TB, dir string) (addr string, closeFn func()) {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.KafkaAddr = "127.0.0.1:0"
	// Thousands of inputs produce: fsync per append would make the
	// fuzzer measure the disk.
	cfg.TopicDefaults = map[string]string{"flush.policy": "os"}
	// Mutated topic names auto-create topics, three open files each: without
	// a cap a 10-minute run created thousands and ran out of descriptors
	// (the harness, not the broker, failing). Past the cap the fuzzer meets
	// POLICY_VIOLATION instead, which is worth exercising too.
	cfg.MaxPartitions = 1000
	b, err := broker.New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := NewServer(b, lis.Addr().String(), nil)
	go s.Serve(lis)
	return lis.Addr().String(), func() {
		s.Close()
		b.Close()
	}
}

// sizePrefixed prepends the 4-byte frame size.
func sizePrefixed(frame []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(frame))), frame...)
}

// checkApiVersions opens a fresh connection and requires an ApiVersions
// answer.
func checkApiVersions(tb testing.TB, addr string) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("broker no longer accepts connections: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "probe", "1"
	if _, err := c.Write(sizePrefixed(encodeRequestFrame(req, 4242, "probe"))); err != nil {
		tb.Fatalf("write ApiVersions: %v", err)
	}
	r := bufio.NewReader(c)
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		tb.Fatalf("broker did not answer ApiVersions: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, body); err != nil {
		tb.Fatalf("read ApiVersions response: %v", err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 4242 {
		tb.Fatalf("correlation id %d, want 4242", corr)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	if err := resp.ReadFrom(body[4:]); err != nil {
		tb.Fatalf("decode ApiVersions response: %v", err)
	}
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		tb.Fatalf("ApiVersions answered error %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

func FuzzConnection(f *testing.F) {
	for i, req := range seedRequests() {
		frame := sizePrefixed(encodeRequestFrame(req, int32(i), "seed-client"))
		f.Add(frame)
		f.Add(frame[:len(frame)/2])
		flipped := append([]byte(nil), frame...)
		flipped[len(flipped)/2] ^= 0xff
		f.Add(flipped)
	}
	f.Add([]byte{0x0c, 0x80, 0, 0})                                // 200 MiB frame size
	f.Add([]byte{0xff, 0xff, 0xff, 0xfe})                          // negative frame size
	f.Add([]byte{0, 0, 0, 4, 0, 18, 0, 0})                         // header shorter than 8 bytes
	f.Add([]byte{0, 0, 0, 10, 0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0, 0}) // key 9999

	addr, closeFn := fuzzServer(f, f.TempDir())
	f.Cleanup(closeFn)

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		done := make(chan struct{})
		go func() { // drain responses so the broker never blocks on us
			defer close(done)
			io.Copy(io.Discard, c)
		}()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(data) // the broker may close first; that is a fine answer
		c.(*net.TCPConn).CloseWrite()
		select {
		case <-done:
		case <-time.After(200 * time.Millisecond):
			// A parked fetch may hold the connection open; do not wait.
		}
		c.Close()
		<-done
		checkApiVersions(t, addr)
	})
}
