package main

// ferry bench produce|consume: a load generator for any Kafka-protocol
// broker. Progress goes to stderr every second; one summary line (or a JSON
// object with --json) goes to stdout at the end.
//
// The produce side allocates nothing per record on its own: every producer
// owns a fixed set of record slots, each with its own promise, that cycle
// between the producing goroutine and franz-go's callbacks. All records
// share one read-only value buffer. Latencies go into a fixed-bucket
// histogram.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const benchUsage = `usage: ferry bench <produce|consume> --topic T [flags]

  produce  write records as fast as the broker takes them; report throughput and latency
  consume  read a topic from the start; report throughput

run 'ferry bench produce -h' or 'ferry bench consume -h' for flags`

// mebibyte is the unit of the MB/s figures, as in Kafka's perf tools.
const mebibyte = 1 << 20

// maxSlots bounds the records one producer has in flight (as franz-go's
// default MaxBufferedRecords does).
const maxSlots = 50000

func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, benchUsage)
		return errors.New("missing mode: use produce or consume")
	}
	switch args[0] {
	case "produce":
		return benchProduce(args[1:], stdout, stderr)
	case "consume":
		return benchConsume(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, benchUsage)
		return flag.ErrHelp
	}
	fmt.Fprintln(stderr, benchUsage)
	return fmt.Errorf("unknown mode %q: use produce or consume", args[0])
}

// benchSummary is the result of a run; --json prints it as is.
type benchSummary struct {
	Op            string          `json:"op"`
	Topic         string          `json:"topic"`
	Records       int64           `json:"records"`
	Bytes         int64           `json:"bytes"`
	Seconds       float64         `json:"seconds"`
	RecordsPerSec float64         `json:"records_per_sec"`
	MBPerSec      float64         `json:"mb_per_sec"` // MB = 2^20 bytes
	Errors        int64           `json:"errors"`
	Latency       *latencySummary `json:"latency_ms,omitempty"`
	Config        map[string]any  `json:"config"`
}

type latencySummary struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

func newSummary(op, topic string, records, bytes int64, elapsed time.Duration) benchSummary {
	s := benchSummary{Op: op, Topic: topic, Records: records, Bytes: bytes, Seconds: elapsed.Seconds()}
	if secs := elapsed.Seconds(); secs > 0 {
		s.RecordsPerSec = float64(records) / secs
		s.MBPerSec = float64(bytes) / mebibyte / secs
	}
	return s
}

func (s benchSummary) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(s)
	}
	line := fmt.Sprintf("%s: %d records in %s: %.0f records/s, %.1f MB/s", s.Op, s.Records,
		fmtSeconds(s.Seconds), s.RecordsPerSec, s.MBPerSec)
	if l := s.Latency; l != nil {
		line += fmt.Sprintf("; latency p50 %s p99 %s p99.9 %s max %s", fmtMs(l.P50), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max))
	}
	if s.Errors > 0 {
		line += fmt.Sprintf("; %d errors", s.Errors)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

func fmtSeconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

func fmtMs(ms float64) string {
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

// progress prints the rate of the last second to w until stop is closed.
func progress(w io.Writer, op string, records, bytes func() int64, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	last, lastRecs, lastBytes := start, int64(0), int64(0)
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			recs, b := records(), bytes()
			secs := now.Sub(last).Seconds()
			fmt.Fprintf(w, "%s: %5.0fs  %9.0f records/s  %7.1f MB/s  %d records\n", op, now.Sub(start).Seconds(),
				float64(recs-lastRecs)/secs, float64(b-lastBytes)/mebibyte/secs, recs)
			last, lastRecs, lastBytes = now, recs, b
		}
	}
}

func benchProduce(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench produce", "ferry bench produce --topic T [--records N | --duration D] [flags]", stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic to write to (required)")
	records := fs.Int64("records", 0, "records to produce in total (default 1000000 unless --duration)")
	duration := fs.Duration("duration", 0, "produce for this long instead of a record count")
	recordSize := fs.Int("record-size", 100, "value size of each record in bytes")
	producers := fs.Int("producers", 1, "concurrent producers, each its own client")
	acks := fs.String("acks", "all", "acknowledgement: all, 1 or 0")
	batchMaxBytes := fs.Int("batch-max-bytes", 0, "largest record batch in bytes (default: the client's, about 1MB)")
	linger := fs.Duration("linger", 0, "how long a partition waits for more records before sending (default: the client's; 0 with --one-at-a-time)")
	partitions := fs.Int("partitions", 0, "create the topic with this many partitions if it does not exist")
	rf := fs.Int("replication-factor", 1, "replication factor when creating the topic")
	compression := fs.String("compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	oneAtATime := fs.Bool("one-at-a-time", false, "per producer, send one record and wait for its ack before the next (latency)")
	asJSON := fs.Bool("json", false, "print the summary as a JSON object")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case len(pos) != 0:
		return fmt.Errorf("unexpected arguments %q", pos)
	case *topic == "":
		fs.Usage()
		return errors.New("--topic is required")
	case set["records"] && set["duration"]:
		return errors.New("give --records or --duration, not both")
	case *records < 0 || (set["records"] && *records == 0):
		return fmt.Errorf("--records %d is not valid: use 1 or more", *records)
	case set["duration"] && *duration <= 0:
		return fmt.Errorf("--duration %s is not valid: use a positive duration such as 30s", *duration)
	case *recordSize < 0:
		return fmt.Errorf("--record-size %d is not valid: use 0 or more", *recordSize)
	case *producers < 1:
		return fmt.Errorf("--producers %d is not valid: use 1 or more", *producers)
	case *partitions < 0:
		return fmt.Errorf("--partitions %d is not valid", *partitions)
	case *batchMaxBytes < 0:
		return fmt.Errorf("--batch-max-bytes %d is not valid", *batchMaxBytes)
	}
	if !set["records"] && !set["duration"] {
		*records = 1_000_000
	}
	opts, err := parseAcks(*acks)
	if err != nil {
		return err
	}
	codec, err := parseCompression(*compression)
	if err != nil {
		return err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec), kgo.MaxBufferedRecords(maxSlots))
	if *batchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(*batchMaxBytes)))
	}
	if set["linger"] {
		opts = append(opts, kgo.ProducerLinger(*linger))
	} else if *oneAtATime {
		opts = append(opts, kgo.ProducerLinger(0))
	}

	ctx, cancel := interruptContext()
	defer cancel()
	if err := ensureBenchTopic(ctx, cf, *topic, *partitions, *rf, stderr); err != nil {
		return err
	}

	clients := make([]*kgo.Client, *producers)
	for i := range clients {
		if clients[i], err = cf.newClient(ctx, opts...); err != nil {
			for _, cl := range clients[:i] {
				cl.Close()
			}
			return err
		}
	}
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()

	// Random upper-case letters: compressible about as much as text.
	value := make([]byte, *recordSize)
	for i := range value {
		value[i] = 'A' + byte(rand.IntN(26))
	}
	slots := maxSlots
	if *oneAtATime {
		slots = 1
	}
	ps := make([]*benchProducer, *producers)
	for i := range ps {
		quota := int64(0)
		if *records > 0 {
			quota = *records / int64(*producers)
			if int64(i) < *records%int64(*producers) {
				quota++
			}
		}
		ps[i] = newBenchProducer(clients[i], *topic, value, slots, quota)
	}

	stop := make(chan struct{})
	var progressDone sync.WaitGroup
	progressDone.Add(1)
	go func() {
		defer progressDone.Done()
		progress(stderr, "produce", func() int64 { return sumProducers(ps, (*benchProducer).ackedRecords) },
			func() int64 { return sumProducers(ps, (*benchProducer).ackedBytes) }, stop)
	}()

	start := time.Now()
	var deadline time.Time
	if *duration > 0 {
		deadline = start.Add(*duration)
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	progressDone.Wait()

	hist := new(histogram)
	var errs int64
	var firstErr error
	for _, p := range ps {
		hist.merge(&p.hist)
		errs += p.failed.Load()
		if firstErr == nil {
			firstErr = p.firstErr()
		}
	}
	s := newSummary("produce", *topic, sumProducers(ps, (*benchProducer).ackedRecords), sumProducers(ps, (*benchProducer).ackedBytes), elapsed)
	s.Errors = errs
	if hist.count() > 0 {
		s.Latency = &latencySummary{
			P50:  durationMs(hist.quantile(0.50)),
			P99:  durationMs(hist.quantile(0.99)),
			P999: durationMs(hist.quantile(0.999)),
			Max:  durationMs(hist.max()),
		}
	}
	s.Config = map[string]any{
		"producers": *producers, "record_size": *recordSize, "acks": *acks, "compression": *compression,
		"one_at_a_time": *oneAtATime, "batch_max_bytes": *batchMaxBytes, "linger": linger.String(),
	}
	if err := s.write(stdout, *asJSON); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil // interrupted: the summary covers what was done
	}
	if errs > 0 {
		return fmt.Errorf("%d record(s) failed: %w", errs, explain(firstErr, *topic))
	}
	return nil
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sumProducers(ps []*benchProducer, f func(*benchProducer) int64) int64 {
	var n int64
	for _, p := range ps {
		n += f(p)
	}
	return n
}

// ensureBenchTopic checks that topic exists, creating it when partitions > 0.
func ensureBenchTopic(ctx context.Context, cf *clientFlags, topic string, partitions, rf int, stderr io.Writer) error {
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = topicPartitions(ctx, adm, topic)
	if err == nil || partitions == 0 {
		if err != nil {
			return fmt.Errorf("%w, or pass --partitions P to create it", err)
		}
		return nil
	}
	if _, err := adm.CreateTopic(ctx, int32(partitions), int16(rf), nil, topic); err != nil {
		return fmt.Errorf("cannot create topic %q: %w", topic, err)
	}
	fmt.Fprintf(stderr, "created topic %s with %d partition(s)\n", topic, partitions)
	return nil
}

// benchProducer drives one client. Its slots are the records it may have in
// flight; a slot returns to free when its promise runs.
type benchProducer struct {
	cl    *kgo.Client
	topic string
	value []byte
	quota int64 // records to produce; 0 means until the deadline
	free  chan *benchSlot
	slots []benchSlot

	acked  atomic.Int64
	bytes  atomic.Int64
	failed atomic.Int64
	errMu  sync.Mutex
	err    error
	hist   histogram
}

type benchSlot struct {
	rec     kgo.Record
	start   time.Time
	promise func(*kgo.Record, error)
}

func newBenchProducer(cl *kgo.Client, topic string, value []byte, slots int, quota int64) *benchProducer {
	p := &benchProducer{cl: cl, topic: topic, value: value, quota: quota,
		free: make(chan *benchSlot, slots), slots: make([]benchSlot, slots)}
	for i := range p.slots {
		s := &p.slots[i]
		s.promise = func(r *kgo.Record, err error) { p.done(s, err) }
		p.free <- s
	}
	return p
}

func (p *benchProducer) run(ctx context.Context, deadline time.Time) {
	for n := int64(0); p.quota == 0 || n < p.quota; n++ {
		var s *benchSlot
		select {
		case s = <-p.free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		now := time.Now()
		if !deadline.IsZero() && now.After(deadline) {
			p.free <- s
			break
		}
		s.rec = kgo.Record{Topic: p.topic, Value: p.value}
		s.start = now
		p.cl.Produce(ctx, &s.rec, s.promise)
	}
	// Flush waits for every promise, failed ones included.
	_ = p.cl.Flush(context.WithoutCancel(ctx))
}

func (p *benchProducer) done(s *benchSlot, err error) {
	p.hist.record(time.Since(s.start))
	if err != nil {
		p.failed.Add(1)
		p.errMu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.errMu.Unlock()
	} else {
		p.acked.Add(1)
		p.bytes.Add(int64(len(s.rec.Key) + len(s.rec.Value)))
	}
	p.free <- s
}

func (p *benchProducer) ackedRecords() int64 { return p.acked.Load() }
func (p *benchProducer) ackedBytes() int64   { return p.bytes.Load() }

func (p *benchProducer) firstErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

func benchConsume(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench consume", "ferry bench consume --topic T [--records N] [flags]", stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic to read from the start (required)")
	records := fs.Int64("records", 0, "records to read, waiting for more if needed (default: all there are now)")
	asJSON := fs.Bool("json", false, "print the summary as a JSON object")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return fmt.Errorf("unexpected arguments %q", pos)
	case *topic == "":
		fs.Usage()
		return errors.New("--topic is required")
	case *records < 0:
		return fmt.Errorf("--records %d is not valid: use 1 or more, or 0 for all", *records)
	}

	ctx, cancel := interruptContext()
	defer cancel()
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	ranges, err := planRead(ctx, adm, *topic, -1, "earliest")
	cl.Close()
	if err != nil {
		return err
	}

	var n, bytes atomic.Int64
	stop := make(chan struct{})
	var progressDone sync.WaitGroup
	progressDone.Add(1)
	go func() {
		defer progressDone.Done()
		progress(stderr, "consume", n.Load, bytes.Load, stop)
	}()
	start := time.Now()
	err = readRecords(ctx, cf, *topic, ranges, *records > 0, *records, func(r *kgo.Record) error {
		n.Add(1)
		bytes.Add(int64(len(r.Key) + len(r.Value)))
		return nil
	}, func() error { return nil })
	elapsed := time.Since(start)
	close(stop)
	progressDone.Wait()
	if err != nil {
		return err
	}
	s := newSummary("consume", *topic, n.Load(), bytes.Load(), elapsed)
	s.Config = map[string]any{"records": *records}
	return s.write(stdout, *asJSON)
}

// histogram counts durations in log-linear buckets: each power of two is
// split into 2^histSubBits buckets, so a reported value is within 1/128 of
// the true one, from 1ns to centuries, in a fixed 56 KiB array. Safe for
// concurrent record.
type histogram struct {
	counts [(64 - histSubBits) << histSubBits]atomic.Uint64
	maxNs  atomic.Int64
}

const histSubBits = 7

func histBucket(ns uint64) int {
	if ns < 1<<histSubBits {
		return int(ns)
	}
	shift := bits.Len64(ns) - histSubBits - 1
	return (shift+1)<<histSubBits + int(ns>>shift) - 1<<histSubBits
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	low := uint64(i&(1<<histSubBits-1)+1<<histSubBits) << shift
	return low + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	ns := max(int64(d), 0)
	h.counts[histBucket(uint64(ns))].Add(1)
	for {
		m := h.maxNs.Load()
		if ns <= m || h.maxNs.CompareAndSwap(m, ns) {
			return
		}
	}
}

func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	if m := o.maxNs.Load(); m > h.maxNs.Load() {
		h.maxNs.Store(m)
	}
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

func (h *histogram) max() time.Duration { return time.Duration(h.maxNs.Load()) }

// quantile returns the duration below which a fraction q of the samples lie.
func (h *histogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return min(time.Duration(histValue(i)), h.max())
		}
	}
	return h.max()
}
