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
//
// With --transactional each producer is a transactional client that
// commits every --txn-records records; with --group the consume side runs
// --consumers group members, each its own client.

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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const benchUsage = `usage: ferry bench <produce|consume> --topic T [flags]

  produce  write records as fast as the broker takes them; report throughput and latency
           (--no-idempotence for plain producers, --transactional --txn-records K for transactions)
  consume  read a topic from the start; report throughput
           (--group G --consumers N to read it as N members of a consumer group)

run 'ferry bench produce -h' or 'ferry bench consume -h' for flags`

// mebibyte is the unit of the MB/s figures, as in Kafka's perf tools.
const mebibyte = 1 << 20

// maxSlots bounds the records one producer has in flight (as franz-go's
// default MaxBufferedRecords does).
const maxSlots = 50000

func runBench(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runAction(args, benchUsage, "mode", "produce or consume", map[string]func([]string) error{
		"produce": func(args []string) error { return benchProduce(args, stdout, stderr) },
		"consume": func(args []string) error { return benchConsume(args, stdout, stderr) },
	}, stdout, stderr)
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

	// Transactional produce: committed transactions (Records counts only
	// their records) and the time from BeginTransaction until
	// EndTransaction(commit) returned.
	Transactions  int64           `json:"transactions,omitempty"`
	TxnPerSec     float64         `json:"transactions_per_sec,omitempty"`
	CommitLatency *latencySummary `json:"commit_latency_ms,omitempty"`

	// Group consume: seconds from the start (before the members' clients
	// were created) until every member had its first fetch with records,
	// unset if some member never had one (MembersIdle counts those); and
	// records read more than once (after a partition moved between members
	// before its offset was committed), not counted in Records.
	// ReadyRecordsPerSec is the rate from that point to the end.
	GroupReadySeconds  *float64 `json:"group_ready_seconds,omitempty"`
	ReadyRecordsPerSec float64  `json:"ready_records_per_sec,omitempty"`
	MembersIdle        int      `json:"members_idle,omitempty"`
	Duplicates         int64    `json:"duplicates,omitempty"`

	Config map[string]any `json:"config"`
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
	if s.Transactions > 0 {
		line += fmt.Sprintf("; %d transactions: %.0f txn/s", s.Transactions, s.TxnPerSec)
		if l := s.CommitLatency; l != nil {
			line += fmt.Sprintf(", commit p50 %s p99 %s max %s", fmtMs(l.P50), fmtMs(l.P99), fmtMs(l.Max))
		}
	}
	if s.GroupReadySeconds != nil {
		line += fmt.Sprintf("; every member fetching after %s, %.0f records/s from then", fmtSeconds(*s.GroupReadySeconds), s.ReadyRecordsPerSec)
	}
	if s.MembersIdle > 0 {
		line += fmt.Sprintf("; %d member(s) got no records", s.MembersIdle)
	}
	if s.Duplicates > 0 {
		line += fmt.Sprintf("; %d duplicate(s)", s.Duplicates)
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
	fs := newFlagSet("bench produce", "ferry bench produce --topic T [--records N | --duration D] [flags]", stdout, stderr)
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
	rf := fs.Int("replication-factor", -1, "replication factor when creating the topic; -1 takes the broker's default (on a cluster, min(3, live brokers) unless --default-replication-factor says otherwise)")
	compression := fs.String("compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	oneAtATime := fs.Bool("one-at-a-time", false, "per producer, send one record and wait for its ack before the next (latency)")
	noIdempotence := fs.Bool("no-idempotence", false, "plain producers: no producer id, no sequence numbers (idempotence is on by default with --acks all)")
	transactional := fs.Bool("transactional", false, "each producer is a transactional client committing every --txn-records records")
	txnRecords := fs.Int64("txn-records", 1000, "records per transaction with --transactional")
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
	case *txnRecords < 1:
		return fmt.Errorf("--txn-records %d is not valid: use 1 or more", *txnRecords)
	case set["txn-records"] && !*transactional:
		return errors.New("--txn-records needs --transactional")
	case *transactional && *noIdempotence:
		return errors.New("--transactional needs the idempotent producer: drop --no-idempotence")
	case *transactional && *acks != "all" && *acks != "-1":
		return fmt.Errorf("--transactional needs --acks all, not %s", *acks)
	}
	if !set["records"] && !set["duration"] {
		*records = 1_000_000
	}
	opts, err := producerOpts(*acks, *compression)
	if err != nil {
		return err
	}
	opts = append(opts, kgo.MaxBufferedRecords(maxSlots))
	if *noIdempotence {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
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

	// Transactional ids unique to this run and producer, so that runs do
	// not fence each other.
	txnIDBase := fmt.Sprintf("ferry-bench-%d", time.Now().UnixNano())
	clients := make([]*kgo.Client, *producers)
	for i := range clients {
		copts := opts
		if *transactional {
			copts = append(opts[:len(opts):len(opts)], kgo.TransactionalID(fmt.Sprintf("%s-%d", txnIDBase, i)))
		}
		if clients[i], err = cf.newClient(ctx, copts...); err != nil {
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
		ps[i].stallAfter = stallLimit(cf.timeout)
		if *transactional {
			ps[i].txnRecords = *txnRecords
		}
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

	hist, commits := new(histogram), new(histogram)
	var errs, txns int64
	var firstErr error
	for _, p := range ps {
		hist.merge(&p.hist)
		commits.merge(&p.commitHist)
		txns += p.txns.Load()
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
	if *transactional {
		s.Transactions = txns
		if secs := elapsed.Seconds(); secs > 0 {
			s.TxnPerSec = float64(txns) / secs
		}
		if commits.count() > 0 {
			s.CommitLatency = &latencySummary{
				P50:  durationMs(commits.quantile(0.50)),
				P99:  durationMs(commits.quantile(0.99)),
				P999: durationMs(commits.quantile(0.999)),
				Max:  durationMs(commits.max()),
			}
		}
	}
	s.Config = map[string]any{
		"producers": *producers, "record_size": *recordSize, "acks": *acks, "compression": *compression,
		"one_at_a_time": *oneAtATime, "batch_max_bytes": *batchMaxBytes, "linger": linger.String(),
		"idempotent": !*noIdempotence && (*acks == "all" || *acks == "-1"), "transactional": *transactional,
	}
	if *transactional {
		s.Config["txn_records"] = *txnRecords
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

	// txnRecords > 0 makes every txnRecords records a transaction.
	txnRecords int64
	// stallAfter ends the run when records are in flight and none was
	// answered for this long.
	stallAfter time.Duration
	sent       atomic.Int64

	acked  atomic.Int64 // in transactions: records of committed ones
	bytes  atomic.Int64
	failed atomic.Int64
	errMu  sync.Mutex
	err    error
	hist   histogram

	txns       atomic.Int64 // committed transactions
	commitHist histogram    // BeginTransaction until EndTransaction(commit) returned
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
	if p.txnRecords > 0 {
		p.runTxns(ctx, deadline)
		return
	}
	// An interrupt stops producing but still waits for what is in flight;
	// a broker that stops answering ends both (see stall.go).
	w := watchStall(context.WithoutCancel(ctx), p.stallAfter,
		func() int64 { return p.acked.Load() + p.failed.Load() }, p.sent.Load)
	defer w.stop()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.ctx, cancel)()
	for n := int64(0); p.quota == 0 || n < p.quota; n++ {
		if !p.produceOne(pctx, pctx, deadline) {
			break
		}
	}
	// Flush waits for every promise, failed ones included.
	_ = p.cl.Flush(w.ctx)
	if w.stalled.Load() {
		p.failed.Add(p.sent.Load() - p.acked.Load() - p.failed.Load())
		// This is the cause; the context errors of records cut short are not.
		p.errMu.Lock()
		p.err = fmt.Errorf("records not acknowledged: the broker gave no answer for %s (--timeout plus half); is it still running?", p.stallAfter)
		p.errMu.Unlock()
	}
}

// produceOne waits for a free slot (until ctx is done) and produces one
// record from it with recCtx. It returns false, producing nothing, if ctx
// is done or the deadline passed.
func (p *benchProducer) produceOne(ctx, recCtx context.Context, deadline time.Time) bool {
	var s *benchSlot
	select {
	case s = <-p.free:
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return false
	}
	now := time.Now()
	if !deadline.IsZero() && now.After(deadline) {
		p.free <- s
		return false
	}
	s.rec = kgo.Record{Topic: p.topic, Value: p.value}
	s.start = now
	p.sent.Add(1)
	p.cl.Produce(recCtx, &s.rec, s.promise)
	return true
}

// runTxns produces transactions of txnRecords records (the last one
// smaller if the quota is not a multiple) until the quota is met or the
// deadline passed. A transaction interrupted by ctx is aborted; the first
// one that fails ends the producer. Records of transactions that did not
// commit are taken out of the acked counts again.
func (p *benchProducer) runTxns(ctx context.Context, deadline time.Time) {
	bg := context.WithoutCancel(ctx) // EndTransaction must not be cut short
	for n := int64(0); p.quota == 0 || n < p.quota; {
		if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
			return
		}
		k := p.txnRecords
		if p.quota > 0 {
			k = min(k, p.quota-n)
		}
		acked0, bytes0, failed0 := p.acked.Load(), p.bytes.Load(), p.failed.Load()
		start := time.Now()
		if err := p.cl.BeginTransaction(); err != nil {
			p.setErr(fmt.Errorf("beginning a transaction: %w", err))
			p.failed.Add(1)
			return
		}
		var i int64
		for i < k && p.produceOne(ctx, bg, time.Time{}) {
			i++
		}
		_ = p.cl.Flush(bg)
		failed := p.failed.Load() > failed0
		commit := kgo.TryCommit
		if i < k || failed {
			commit = kgo.TryAbort
		}
		err := p.cl.EndTransaction(bg, commit)
		if err == nil && commit == kgo.TryCommit {
			p.commitHist.record(time.Since(start))
			p.txns.Add(1)
			n += k
			continue
		}
		// Not committed: none of its records count.
		lost := p.acked.Load() - acked0
		p.acked.Add(-lost)
		p.bytes.Add(-(p.bytes.Load() - bytes0))
		if commit == kgo.TryCommit { // the commit itself failed
			p.setErr(fmt.Errorf("committing a transaction: %w", err))
			_ = p.cl.EndTransaction(bg, kgo.TryAbort)
			failed = true
		}
		if failed {
			p.failed.Add(lost)
		}
		return
	}
}

func (p *benchProducer) done(s *benchSlot, err error) {
	p.hist.record(time.Since(s.start))
	if err != nil {
		p.failed.Add(1)
		p.setErr(err)
	} else {
		p.acked.Add(1)
		p.bytes.Add(int64(len(s.rec.Key) + len(s.rec.Value)))
	}
	p.free <- s
}

func (p *benchProducer) setErr(err error) {
	p.errMu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.errMu.Unlock()
}

func (p *benchProducer) ackedRecords() int64 { return p.acked.Load() }
func (p *benchProducer) ackedBytes() int64   { return p.bytes.Load() }

func (p *benchProducer) firstErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

func benchConsume(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench consume", "ferry bench consume --topic T [--records N] [--group G --consumers N] [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic to read from the start (required)")
	records := fs.Int64("records", 0, "records to read, waiting for more if needed (default: all there are now; required with --group)")
	group := fs.String("group", "", "read as members of this consumer group (a new one: it must have no committed offsets)")
	consumers := fs.Int("consumers", 1, "group members with --group, each its own client")
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
	case *records < 0:
		return fmt.Errorf("--records %d is not valid: use 1 or more, or 0 for all", *records)
	case *consumers < 1:
		return fmt.Errorf("--consumers %d is not valid: use 1 or more", *consumers)
	case set["consumers"] && *group == "":
		return errors.New("--consumers needs --group")
	case *group != "" && *records == 0:
		return errors.New("--group needs --records N: the members read until together they have N records")
	}
	if *group != "" {
		return benchConsumeGroup(cf, *topic, *group, *consumers, *records, *asJSON, stdout, stderr)
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

// benchConsumeGroup reads topic from the start as consumers members of
// group until they have read records distinct records together.
func benchConsumeGroup(cf *clientFlags, topic, group string, consumers int, records int64, asJSON bool, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	partitions, err := topicPartitions(ctx, adm, topic)
	if err == nil {
		err = checkFreshGroup(ctx, adm, group, topic)
	}
	cl.Close()
	if err != nil {
		return err
	}

	// runCtx ends the members: on interrupt, once the records are read, or
	// on the first error.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	gc := &groupCount{next: make([]atomic.Int64, partitions), target: records, members: int64(consumers), stopRun: stopRun}
	members := make([]*benchMember, consumers)
	for i := range members {
		members[i] = &benchMember{gc: gc}
	}

	stop := make(chan struct{})
	var progressDone sync.WaitGroup
	progressDone.Add(1)
	go func() {
		defer progressDone.Done()
		progress(stderr, "consume", gc.records.Load, gc.bytes.Load, stop)
	}()
	gc.start = time.Now()
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.run(runCtx, cf, topic, group, i)
		}()
	}
	wg.Wait()
	elapsed := time.Duration(gc.elapsed.Load())
	if elapsed == 0 { // interrupted or failed before the end
		elapsed = time.Since(gc.start)
	}
	close(stop)
	progressDone.Wait()
	// Close (commit, leave the group) outside the measured time, in parallel.
	for _, m := range members {
		if m.cl != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.cl.Close()
			}()
		}
	}
	wg.Wait()

	var firstErr error
	ready, idle := time.Duration(0), 0
	for _, m := range members {
		if firstErr == nil {
			firstErr = m.err
		}
		if f := m.firstFetch.Load(); f == 0 {
			idle++
		} else {
			ready = max(ready, time.Duration(f))
		}
	}
	if firstErr != nil && ctx.Err() == nil {
		return firstErr
	}
	s := newSummary("consume", topic, gc.records.Load(), gc.bytes.Load(), elapsed)
	s.Duplicates = gc.duplicates.Load()
	if s.MembersIdle = idle; idle == 0 {
		secs := ready.Seconds()
		s.GroupReadySeconds = &secs
		if after := (elapsed - ready).Seconds(); after > 0 {
			s.ReadyRecordsPerSec = float64(s.Records-gc.readyRecords.Load()) / after
		}
	}
	s.Config = map[string]any{"records": records, "group": group, "consumers": consumers}
	return s.write(stdout, asJSON)
}

// checkFreshGroup fails if group has committed offsets for topic: its
// members would not read from the start and might never see --records.
func checkFreshGroup(ctx context.Context, adm admin, group, topic string) error {
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the offsets of group %q: %w", group, err)
	}
	if len(offs[topic]) > 0 {
		return fmt.Errorf("group %q already has committed offsets for %s: use a new group name, since a benchmark reads from the start", group, topic)
	}
	return nil
}

// groupCount adds up what the members read. Per partition it keeps the
// offset after the highest record counted, so a record read again (by a
// member that took over the partition before its reader committed) counts
// as a duplicate, not as a record.
type groupCount struct {
	next       []atomic.Int64 // by partition
	records    atomic.Int64
	bytes      atomic.Int64
	duplicates atomic.Int64
	target     int64
	start      time.Time
	elapsed    atomic.Int64 // ns from start until target was reached
	stopRun    context.CancelFunc

	members      int64
	fetching     atomic.Int64 // members that had their first fetch
	readyRecords atomic.Int64 // records counted when the last of them did
}

// add counts the records of one fetched partition (in offset order).
func (g *groupCount) add(fp *kgo.FetchPartition) {
	rs := fp.Records
	if len(rs) == 0 {
		return
	}
	from := 0
	if int(fp.Partition) < len(g.next) {
		next := &g.next[fp.Partition]
		for {
			cur := next.Load()
			last := rs[len(rs)-1].Offset + 1
			if last <= cur {
				from = len(rs)
				break
			}
			from = 0
			for from < len(rs) && rs[from].Offset < cur {
				from++
			}
			if next.CompareAndSwap(cur, last) {
				break
			}
		}
	}
	var b int64
	for _, r := range rs[from:] {
		b += int64(len(r.Key) + len(r.Value))
	}
	if from > 0 {
		g.duplicates.Add(int64(from))
	}
	g.bytes.Add(b)
	if n := g.records.Add(int64(len(rs) - from)); n >= g.target && from < len(rs) && n-int64(len(rs)-from) < g.target {
		g.elapsed.Store(int64(time.Since(g.start)))
		g.stopRun()
	}
}

// benchMember is one group member with its own client.
type benchMember struct {
	gc         *groupCount
	cl         *kgo.Client
	firstFetch atomic.Int64 // ns from start until its first fetch with records
	err        error
}

func (m *benchMember) run(ctx context.Context, cf *clientFlags, topic, group string, i int) {
	cl, err := cf.newClient(ctx,
		kgo.ClientID(fmt.Sprintf("ferry-bench-%d", i)),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		if ctx.Err() == nil {
			m.err = err
			m.gc.stopRun()
		}
		return
	}
	m.cl = cl
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		for fi := range fetches {
			for ti := range fetches[fi].Topics {
				ft := &fetches[fi].Topics[ti]
				for pi := range ft.Partitions {
					fp := &ft.Partitions[pi]
					if fp.Err != nil {
						if errors.Is(fp.Err, context.Canceled) || errors.Is(fp.Err, kgo.ErrClientClosed) {
							continue
						}
						m.err = fmt.Errorf("reading %s partition %d as group %q: %w", ft.Topic, fp.Partition, group, explain(fp.Err, topic))
						m.gc.stopRun()
						return
					}
					if len(fp.Records) > 0 && m.firstFetch.Load() == 0 {
						m.firstFetch.Store(int64(time.Since(m.gc.start)))
						if m.gc.fetching.Add(1) == m.gc.members {
							m.gc.readyRecords.Store(m.gc.records.Load())
						}
					}
					m.gc.add(fp)
				}
			}
		}
	}
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
