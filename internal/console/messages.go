package console

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type headerView struct {
	Key   string `json:"key"`
	Value shown  `json:"value"`
}

type messageView struct {
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   string       `json:"timestamp"`
	TimestampMS int64        `json:"timestamp_ms"`
	Key         shown        `json:"key"`
	Value       shown        `json:"value"`
	Headers     []headerView `json:"headers"`
}

func viewOf(r *kgo.Record, format string) messageView {
	m := messageView{
		Partition: r.Partition, Offset: r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano), TimestampMS: r.Timestamp.UnixMilli(),
		Key: render(r.Key, r.Key == nil, format), Value: render(r.Value, r.Value == nil, format),
		Headers: []headerView{},
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, headerView{Key: h.Key, Value: render(h.Value, h.Value == nil, format)})
	}
	return m
}

type browseView struct {
	Topic       string        `json:"topic"`
	Partition   int32         `json:"partition"`
	StartOffset int64         `json:"start_offset"`
	EndOffset   int64         `json:"end_offset"`
	From        int64         `json:"from"`
	NextOffset  int64         `json:"next_offset"`
	Messages    []messageView `json:"messages"`
	Note        string        `json:"note,omitempty"`
}

// formatParam reads ?format=, "auto" when absent.
func formatParam(r *http.Request) (string, error) {
	f := r.URL.Query().Get("format")
	if f == "" {
		return "auto", nil
	}
	if !formats[f] {
		return "", errBadRequest("format=%q is not one of auto, text, json, hex", f)
	}
	return f, nil
}

// timeParam parses a time as milliseconds since the Unix epoch or RFC 3339.
func timeParam(name, s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, errBadRequest("%s=%d is before 1970", name, ms)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, errBadRequest("%s=%q is neither milliseconds since 1970 nor an RFC 3339 time (2024-05-01T12:00:00Z)", name, s)
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, errBadRequest("%s=%q is before 1970", name, s)
	}
	return t.UnixMilli(), nil
}

// partitionOffsets returns the start and end offsets of one partition,
// 404 if the topic or the partition does not exist.
func (c *Console) partitionOffsets(ctx context.Context, topic string, partition int32) (start, end int64, err error) {
	td, err := c.describeTopic(ctx, topic)
	if err != nil {
		return 0, 0, err
	}
	if _, ok := td.Partitions[partition]; !ok {
		return 0, 0, errNotFound("topic %q has no partition %d (it has %d)", topic, partition, len(td.Partitions))
	}
	starts, ends, err := c.offsetsOf(ctx, []string{topic})
	if err != nil {
		return 0, 0, err
	}
	s, _ := starts.Lookup(topic, partition)
	e, _ := ends.Lookup(topic, partition)
	if s.Err != nil {
		return 0, 0, s.Err
	}
	if e.Err != nil {
		return 0, 0, e.Err
	}
	return s.Offset, e.Offset, nil
}

// browse reads up to limit messages of one partition from an offset, from
// the first at or after a time, or (neither given) the newest limit.
func (c *Console) browse(ctx context.Context, r *http.Request) (any, error) {
	topic := r.PathValue("topic")
	q := r.URL.Query()
	partition, err := intParam(r, "partition", 0, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(r, "limit", DefaultMessages, 1, MaxMessages)
	if err != nil {
		return nil, err
	}
	format, err := formatParam(r)
	if err != nil {
		return nil, err
	}
	if q.Get("offset") != "" && q.Get("time") != "" {
		return nil, errBadRequest("give offset or time, not both")
	}
	offset, err := intParam(r, "offset", -1, 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	var atMilli int64 = -1
	if s := q.Get("time"); s != "" {
		if atMilli, err = timeParam("time", s); err != nil {
			return nil, err
		}
	}
	p := int32(partition)
	start, end, err := c.partitionOffsets(ctx, topic, p)
	if err != nil {
		return nil, err
	}
	v := browseView{Topic: topic, Partition: p, StartOffset: start, EndOffset: end, Messages: []messageView{}}
	switch {
	case offset >= 0:
		if offset > end {
			return nil, errBadRequest("offset %d is past the end of partition %d (end offset %d)", offset, p, end)
		}
		v.From = offset
		if offset < start {
			v.From = start
			v.Note = "offset " + strconv.FormatInt(offset, 10) + " is before the log start; showing from " + strconv.FormatInt(start, 10)
		}
	case atMilli >= 0:
		listed, err := c.admin.ListOffsetsAfterMilli(ctx, atMilli, topic)
		if err != nil && !isShardErr(err) {
			return nil, err
		}
		lo, ok := listed.Lookup(topic, p)
		if !ok {
			return nil, fmt.Errorf("the broker listed no offset by time for partition %d", p)
		}
		if lo.Err != nil {
			return nil, fmt.Errorf("offset by time of partition %d: %w", p, lo.Err)
		}
		v.From = min(max(lo.Offset, start), end)
		if v.From == end {
			v.Note = "no message at or after that time"
		}
	default:
		v.From = max(start, end-limit)
	}
	to := min(end, v.From+limit)
	next, err := c.scan(ctx, topic, map[int32]span{p: {v.From, to}}, func(rec *kgo.Record) bool {
		v.Messages = append(v.Messages, viewOf(rec, format))
		return len(v.Messages) < int(limit)
	})
	if err != nil {
		return nil, err
	}
	v.NextOffset = next[p]
	return v, nil
}

type produceHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// produceRequest is one test message; key and value are text. A missing
// key is a null key; a missing partition is chosen as Kafka's default
// partitioner would (murmur2 of the key, else random).
type produceRequest struct {
	Partition *int32          `json:"partition"`
	Key       *string         `json:"key"`
	Value     *string         `json:"value"`
	Headers   []produceHeader `json:"headers"`
}

func (c *Console) produce(ctx context.Context, r *http.Request) (any, error) {
	topic := r.PathValue("topic")
	var req produceRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	td, err := c.describeTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	n := len(td.Partitions)
	if n == 0 {
		return nil, errBadRequest("topic %q has no partitions", topic)
	}
	rec := &kgo.Record{Topic: topic}
	if req.Key != nil {
		rec.Key = []byte(*req.Key)
	}
	if req.Value != nil {
		rec.Value = []byte(*req.Value)
	}
	for _, h := range req.Headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	switch {
	case req.Partition != nil:
		if _, ok := td.Partitions[*req.Partition]; !ok {
			return nil, errBadRequest("topic %q has no partition %d (it has %d)", topic, *req.Partition, n)
		}
		rec.Partition = *req.Partition
	case rec.Key != nil:
		rec.Partition = int32(kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(rec, n))
	default:
		rec.Partition = int32(rand.IntN(n))
	}
	if err := c.client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return nil, err
	}
	return map[string]any{"topic": topic, "partition": rec.Partition, "offset": rec.Offset, "timestamp": rec.Timestamp.UTC().Format(time.RFC3339Nano)}, nil
}
