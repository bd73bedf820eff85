package main

// ferry consume: print a topic's records. Without --follow it reads up to the
// end offsets that existed when it started, then exits. With --group it is a
// member of a consumer group and commits what it printed (at-least-once).

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func runConsume(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("consume", "ferry consume --topic T [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic to read (required)")
	from := fs.String("from", "earliest", "where to start: earliest, latest, an OFFSET, or an RFC3339 time (2024-05-01T12:00:00Z)")
	partition := fs.Int("partition", -1, "read only this partition; -1 reads all")
	follow := fs.Bool("follow", false, "keep waiting for new records instead of exiting at the end")
	maxRecords := fs.Int64("max", 0, "stop after this many records (0: no limit)")
	format := fs.String("format", "value", "output: value (one value per line), kv (key SEP value), or json (one object per line)")
	keySep := fs.String("key-separator", "\t", "separator between key and value for --format kv")
	group := fs.String("group", "", "consume as a member of this consumer group, committing offsets after printing; needs --follow or --max")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: give the topic with --topic", pos)
	}
	if *topic == "" {
		fs.Usage()
		return errors.New("--topic is required")
	}
	if *maxRecords < 0 {
		return fmt.Errorf("--max %d is not valid: use 0 (no limit) or more", *maxRecords)
	}
	var printer recordPrinter
	switch *format {
	case "value":
		printer = printValue
	case "kv":
		printer = kvPrinter(*keySep)
	case "json":
		printer = printJSON
	default:
		return fmt.Errorf("--format %q is not valid: use value, kv or json", *format)
	}

	if *group != "" {
		if *partition >= 0 {
			return errors.New("--partition cannot be used with --group: the group assigns partitions to its members; drop one of them")
		}
		if !*follow && *maxRecords == 0 {
			return errors.New("--group needs --follow or --max N: a group member has no fixed end to stop at, since its partitions can move to other members")
		}
		reset, err := groupResetOffset(*from)
		if err != nil {
			return err
		}
		ctx, cancel := interruptContext()
		defer cancel()
		// kill and service managers send SIGTERM: leave the group on it
		// too, so the partitions move at once instead of after the
		// session timeout.
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
		out := bufio.NewWriterSize(stdout, 64<<10)
		return consumeGroup(ctx, cf, *topic, *group, reset, *maxRecords,
			func(r *kgo.Record) error { return printer(out, r) }, out.Flush, stderr)
	}

	ctx, cancel := interruptContext()
	defer cancel()
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	ranges, err := planRead(ctx, cf.adminFor(cl), *topic, int32(*partition), *from)
	cl.Close()
	if err != nil {
		return err
	}

	out := bufio.NewWriterSize(stdout, 64<<10)
	return readRecords(ctx, cf, *topic, ranges, *follow, *maxRecords,
		func(r *kgo.Record) error { return printer(out, r) }, out.Flush)
}

// groupResetOffset maps --from to where a group member starts reading a
// partition for which the group has no committed offset.
func groupResetOffset(from string) (kgo.Offset, error) {
	switch from {
	case "earliest", "beginning", "":
		return kgo.NewOffset().AtStart(), nil
	case "latest", "end":
		return kgo.NewOffset().AtEnd(), nil
	}
	if off, err := strconv.ParseInt(from, 10, 64); err == nil {
		if off < 0 {
			return kgo.Offset{}, fmt.Errorf("--from %d is not valid: offsets start at 0", off)
		}
		return kgo.NewOffset().At(off), nil
	}
	t, err := time.Parse(time.RFC3339Nano, from)
	if err != nil {
		return kgo.Offset{}, fmt.Errorf("--from %q is not valid: use earliest, latest, an offset (42) or an RFC3339 time (2024-05-01T12:00:00Z)", from)
	}
	return kgo.NewOffset().AfterMilli(t.UnixMilli()), nil
}

// commitTimeout bounds the commit made on the way out.
const commitTimeout = 10 * time.Second

// consumeGroup reads topic as a member of group and calls each for every
// record. After each poll's records are handed to each and flushed, their
// offsets are committed, so a record is committed only once it was printed
// (at-least-once). Rebalances wait until the printed records are committed.
// It returns after maxRecords records (0: never) or on interrupt, leaving
// the group on the way out.
func consumeGroup(ctx context.Context, cf *clientFlags, topic, group string, reset kgo.Offset,
	maxRecords int64, each func(*kgo.Record) error, flush func() error, stderr io.Writer) error {
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	_, err = topicPartitions(ctx, cf.adminFor(cl), topic)
	cl.Close()
	if err != nil {
		return err
	}
	cl, err = cf.newClient(ctx,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(reset),
		kgo.DisableAutoCommit(),
		// Revocation waits for AllowRebalance, which follows the commit
		// of everything printed: no partition moves with printed but
		// uncommitted records.
		kgo.BlockRebalanceOnPoll(),
		kgo.KeepRetryableFetchErrors(),
	)
	if err != nil {
		return err
	}
	defer cl.Close() // leaves the group
	retries := newFetchRetries(cf.timeout)

	var count int64
	for {
		n := -1
		if maxRecords > 0 {
			n = int(maxRecords - count)
		}
		fetches := cl.PollRecords(ctx, n)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil // interrupted: what was printed is committed
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, kgo.ErrClientClosed) {
				continue
			}
			ferr := retries.failed(fe)
			if ferr == nil {
				continue
			}
			cl.AllowRebalance()
			if errors.Is(ferr, kerr.GroupAuthorizationFailed) {
				return fmt.Errorf("joining group %q: %w — the broker refused access; check its ACLs", group, ferr)
			}
			return fmt.Errorf("reading %s partition %d as group %q: %w", fe.Topic, fe.Partition, group, explain(ferr, topic))
		}
		var printed []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			retries.progressed(r.Partition)
			if err != nil || (maxRecords > 0 && count >= maxRecords) {
				return
			}
			if err = each(r); err != nil {
				return
			}
			printed = append(printed, r)
			count++
		})
		if ferr := flush(); err == nil {
			err = ferr
		}
		if err != nil {
			cl.AllowRebalance()
			return err
		}
		done := maxRecords > 0 && count >= maxRecords
		if len(printed) > 0 {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			cerr := cl.CommitRecords(cctx, printed...)
			cancel()
			if cerr != nil {
				if done {
					cl.AllowRebalance()
					return fmt.Errorf("committing offsets of group %q: %w — the records printed last will be delivered again", group, cerr)
				}
				fmt.Fprintf(stderr, "ferry consume: warning: committing offsets of group %q: %v; these records will be delivered again\n", group, cerr)
			}
		}
		cl.AllowRebalance()
		if done {
			return nil
		}
	}
}

// offsetRange is where reading a partition starts and the end offset it had
// when the command started.
type offsetRange struct{ start, end int64 }

// planRead resolves --from into a start offset per partition (all of them
// when partition is -1), paired with the partition's current end offset.
func planRead(ctx context.Context, adm admin, topic string, partition int32, from string) (map[int32]offsetRange, error) {
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	n, err := topicPartitions(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	if partition >= int32(n) {
		return nil, fmt.Errorf("--partition %d does not exist: topic %q has partitions 0..%d", partition, topic, n-1)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list end offsets of %q: %w", topic, err)
	}

	var at func(p int32, first, end int64) int64
	switch from {
	case "earliest", "beginning", "":
		at = func(_ int32, first, _ int64) int64 { return first }
	case "latest", "end":
		at = func(_ int32, _, end int64) int64 { return end }
	default:
		if off, err := strconv.ParseInt(from, 10, 64); err == nil {
			if off < 0 {
				return nil, fmt.Errorf("--from %d is not valid: offsets start at 0", off)
			}
			at = func(int32, int64, int64) int64 { return off }
			break
		}
		t, err := time.Parse(time.RFC3339Nano, from)
		if err != nil {
			return nil, fmt.Errorf("--from %q is not valid: use earliest, latest, an offset (42) or an RFC3339 time (2024-05-01T12:00:00Z)", from)
		}
		byTime, err := adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topic)
		if err == nil {
			err = byTime.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("cannot look up offsets at %s in %q: %w", from, topic, err)
		}
		at = func(p int32, _, end int64) int64 {
			if o, ok := byTime.Lookup(topic, p); ok && o.Offset >= 0 {
				return o.Offset
			}
			return end // no record at or after the time
		}
	}

	ranges := make(map[int32]offsetRange)
	for p := range int32(n) {
		if partition >= 0 && p != partition {
			continue
		}
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		// Clamp into what the partition holds: before the start means the
		// start, past the end means wait for new records.
		start := min(max(at(p, s.Offset, e.Offset), s.Offset), e.Offset)
		ranges[p] = offsetRange{start: start, end: e.Offset}
	}
	return ranges, nil
}

// stallCheck is how long reading without --follow may see nothing before
// it asks the broker whether the end offsets moved back (a truncated or
// recreated log would otherwise leave it waiting for offsets that are gone).
var stallCheck = 3 * time.Second

// readRecords reads topic from the planned offsets and calls each for every
// data record in offset order per partition. Without follow it returns once
// every partition reached its end offset from the plan; with maxRecords > 0
// it returns after maxRecords records. flush is called after each batch of
// records. An interrupt ends reading without an error.
func readRecords(ctx context.Context, cf *clientFlags, topic string, ranges map[int32]offsetRange,
	follow bool, maxRecords int64, each func(*kgo.Record) error, flush func() error) error {
	offsets := make(map[int32]kgo.Offset, len(ranges))
	pending := make(map[int32]int64) // partition → end offset still to reach
	next := make(map[int32]int64)    // partition → next offset expected
	for p, r := range ranges {
		if r.start < r.end {
			pending[p] = r.end
		} else if !follow {
			continue // nothing to read there
		}
		offsets[p] = kgo.NewOffset().At(r.start)
		next[p] = r.start
	}
	if !follow && len(pending) == 0 {
		return nil
	}
	cl, err := cf.newClient(ctx,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		// Control records (transaction markers) can be the last offsets
		// before the end; seeing them is how we know we got there.
		kgo.KeepControlRecords(),
		kgo.KeepRetryableFetchErrors(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	retries := newFetchRetries(cf.timeout)
	var count int64
	for follow || len(pending) > 0 {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if !follow {
			pollCtx, cancelPoll = context.WithTimeout(ctx, stallCheck)
		}
		fetches := cl.PollFetches(pollCtx)
		stalled := pollCtx.Err() != nil
		cancelPoll()
		if ctx.Err() != nil {
			return flush()
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			if err := retries.failed(fe); err != nil {
				return fmt.Errorf("reading %s partition %d: %w", fe.Topic, fe.Partition, explain(err, topic))
			}
		}
		var stop bool
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if len(ftp.Records) > 0 {
				retries.progressed(ftp.Partition)
			}
			end, waiting := pending[ftp.Partition]
			for _, r := range ftp.Records {
				if stop || err != nil {
					return
				}
				if !follow && (!waiting || r.Offset >= end) {
					break // past what existed at start
				}
				next[ftp.Partition] = r.Offset + 1
				if !r.Attrs.IsControl() {
					if err = each(r); err != nil {
						return
					}
					if count++; maxRecords > 0 && count >= maxRecords {
						stop = true
					}
				}
				if waiting && r.Offset+1 >= end {
					delete(pending, ftp.Partition)
				}
			}
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		if stop {
			return nil
		}
		if stalled && fetches.NumRecords() == 0 {
			if err := recheckEnds(ctx, cf.adminFor(cl), topic, pending, next); err != nil {
				return err
			}
		}
	}
	return nil
}

// recheckEnds lowers the pending end offsets to the partitions' current
// ones and drops partitions already read up to them.
func recheckEnds(ctx context.Context, adm admin, topic string, pending, next map[int32]int64) error {
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted; the caller notices
		}
		return fmt.Errorf("cannot list end offsets of %q: %w", topic, err)
	}
	for p, end := range pending {
		if e, ok := ends.Lookup(topic, p); ok && e.Err == nil && e.Offset < end {
			pending[p] = e.Offset
		}
		if next[p] >= pending[p] {
			delete(pending, p)
		}
	}
	return nil
}

// recordPrinter writes one record in an output format.
type recordPrinter func(w io.Writer, r *kgo.Record) error

func printValue(w io.Writer, r *kgo.Record) error {
	_, err := w.Write(append(r.Value, '\n'))
	return err
}

func kvPrinter(sep string) recordPrinter {
	return func(w io.Writer, r *kgo.Record) error {
		b := make([]byte, 0, len(r.Key)+len(sep)+len(r.Value)+1)
		b = append(append(append(append(b, r.Key...), sep...), r.Value...), '\n')
		_, err := w.Write(b)
		return err
	}
}

// jsonRecord is the --format json shape. Key and value are null when the
// record has none; headers keep their order and duplicates.
type jsonRecord struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp string       `json:"timestamp"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

const jsonTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func printJSON(w io.Writer, r *kgo.Record) error {
	jr := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(jsonTimeFormat),
		Key:       bytesPtr(r.Key),
		Value:     bytesPtr(r.Value),
		Headers:   make([]jsonHeader, len(r.Headers)),
	}
	for i, h := range r.Headers {
		jr.Headers[i] = jsonHeader{Key: h.Key, Value: string(h.Value)}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(jr)
}

func bytesPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}
