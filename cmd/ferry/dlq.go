package main

// ferry dlq list|show|redrive: the dead-letter topics of RocketMQ consumer
// groups. A message that group G failed to consume maxReconsumeTimes times
// lands in %DLQ%G, Ferry topic G.dlq, with its original topic in the
// RETRY_TOPIC header. redrive sends dead letters back to that topic and
// commits its progress as consumer group "ferry-dlq-redrive.G" on G.dlq, so a
// second run sends only what arrived since. A crash between a send and its
// commit sends those messages again on the next run (at-least-once).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const dlqUsage = `usage: ferry dlq <action> [flags]

actions:
  list                      dead-letter topics (GROUP.dlq) with message counts
  show GROUP [--max N]      print a group's dead letters
  redrive GROUP [--to TOPIC] [--dry-run]
                            send them back to their original topic (RETRY_TOPIC)

GROUP is a RocketMQ consumer group (its dead letters are in topic GROUP.dlq,
%DLQ%GROUP to RocketMQ clients); GROUP.dlq and %DLQ%GROUP are accepted too.
run 'ferry dlq <action> -h' for an action's flags`

const (
	dlqSuffix          = ".dlq"
	retrySuffix        = ".retry"
	redriveGroupPrefix = "ferry-dlq-redrive."
	// headerRetryTopic holds a dead letter's original topic (RocketMQ's
	// RETRY_TOPIC property).
	headerRetryTopic = "RETRY_TOPIC"
	// headerRedrivenFrom marks a redriven message with where it came from.
	headerRedrivenFrom = "ferry-redriven-from"
)

// redriveDropHeaders are the retry bookkeeping a redriven message starts
// without: it is a fresh delivery, with a fresh retry budget.
var redriveDropHeaders = map[string]bool{
	"RECONSUME_TIME": true, "MAX_RECONSUME_TIMES": true, headerRetryTopic: true, "DELAY": true,
	headerRedrivenFrom: true,
}

func runDLQ(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	list := func(args []string) error { return dlqList(ctx, args, stdout, stderr) }
	return runAction(args, dlqUsage, "action", "list, show or redrive", map[string]func([]string) error{
		"list":    list,
		"ls":      list,
		"show":    func(args []string) error { return dlqShow(ctx, args, stdout, stderr) },
		"redrive": func(args []string) error { return dlqRedrive(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

// dlqGroup returns the consumer group a dead-letter name names.
func dlqGroup(name string) (string, error) {
	g := name
	if rest, ok := strings.CutPrefix(g, "%DLQ%"); ok {
		g = rest
	} else {
		g = strings.TrimSuffix(g, dlqSuffix)
	}
	if g == "" || strings.ContainsAny(g, "%|") {
		return "", fmt.Errorf("%q is not a consumer group: give GROUP, GROUP.dlq or %%DLQ%%GROUP", name)
	}
	return g, nil
}

// ferryTopic maps a RocketMQ topic name to its Ferry topic (as the
// RocketMQ front does: %RETRY%G is G.retry, %DLQ%G is G.dlq).
func ferryTopic(rocketmq string) string {
	if g, ok := strings.CutPrefix(rocketmq, "%RETRY%"); ok {
		return g + retrySuffix
	}
	if g, ok := strings.CutPrefix(rocketmq, "%DLQ%"); ok {
		return g + dlqSuffix
	}
	return rocketmq
}

func dlqList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq list", "ferry dlq list [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: dlq list takes no names (use dlq show GROUP)", pos)
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("cannot list topics: %w", err)
	}
	var names []string
	for _, t := range topics.Sorted() {
		if strings.HasSuffix(t.Topic, dlqSuffix) && t.Topic != dlqSuffix {
			names = append(names, t.Topic)
		}
	}
	tw := newTable(stdout, "GROUP\tTOPIC\tPARTITIONS\tMESSAGES\tNOT-REDRIVEN")
	for _, topic := range names {
		group := strings.TrimSuffix(topic, dlqSuffix)
		ranges, err := dlqRanges(ctx, adm, topic, redriveGroupPrefix+group)
		if err != nil {
			return err
		}
		var total, pending int64
		for _, r := range ranges {
			total += r.end - r.first
			pending += r.end - r.start
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", group, topic, len(topics[topic].Partitions), total, pending)
	}
	return tw.Flush()
}

// dlqRange is what a partition of a dead-letter topic holds: [first, end),
// and start, where a redrive resumes (the redrive group's commit).
type dlqRange struct{ first, start, end int64 }

func dlqRanges(ctx context.Context, adm admin, topic, redriveGroup string) (map[int32]dlqRange, error) {
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
	committed, err := adm.FetchOffsets(ctx, redriveGroup)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // never redriven
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the redrive progress (group %s): %w", redriveGroup, err)
	}
	out := map[int32]dlqRange{}
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, e.Partition)
		r := dlqRange{first: s.Offset, start: s.Offset, end: e.Offset}
		if c, ok := committed.Lookup(topic, e.Partition); ok && c.At > r.start {
			r.start = min(c.At, r.end)
		}
		out[e.Partition] = r
	})
	return out, nil
}

func dlqShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq show", "ferry dlq show GROUP [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	maxRecords := fs.Int64("max", 20, "print at most this many dead letters (0: all)")
	format := fs.String("format", "text", "output: text (a table) or json (one object per line, as ferry consume)")
	name, err := parseName(fs, args, "group")
	if err != nil {
		return err
	}
	group, err := dlqGroup(name)
	if err != nil {
		return err
	}
	if *maxRecords < 0 {
		return fmt.Errorf("--max %d is not valid: use 0 (all) or more", *maxRecords)
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format %q is not valid: use text or json", *format)
	}
	topic := group + dlqSuffix
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	ranges, err := planRead(ctx, cf.adminFor(cl), topic, -1, "earliest")
	cl.Close()
	if err != nil {
		return err
	}
	if *format == "json" {
		return readRecords(ctx, cf, topic, ranges, false, *maxRecords,
			func(r *kgo.Record) error { return printJSON(stdout, r) }, func() error { return nil })
	}
	tw := newTable(stdout, "PARTITION\tOFFSET\tTIME\tORIGINAL-TOPIC\tRECONSUMES\tKEY\tVALUE")
	err = readRecords(ctx, cf, topic, ranges, false, *maxRecords, func(r *kgo.Record) error {
		_, err := fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Partition, r.Offset,
			r.Timestamp.UTC().Format(time.RFC3339), orDash(header(r, headerRetryTopic)),
			orDash(header(r, "RECONSUME_TIME")), orDash(string(r.Key)), clip(string(r.Value), 60))
		return err
	}, func() error { return nil })
	if err != nil {
		return err
	}
	return tw.Flush()
}

// header returns the last value of header key on r, "" when absent.
func header(r *kgo.Record, key string) string {
	v := ""
	for _, h := range r.Headers {
		if h.Key == key {
			v = string(h.Value)
		}
	}
	return v
}

func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func dlqRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq redrive", "ferry dlq redrive GROUP [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	to := fs.String("to", "", "send every dead letter to this topic instead of its original one (RETRY_TOPIC)")
	dryRun := fs.Bool("dry-run", false, "print where each dead letter would go; send and commit nothing")
	name, err := parseName(fs, args, "group")
	if err != nil {
		return err
	}
	group, err := dlqGroup(name)
	if err != nil {
		return err
	}
	topic, redriveGroup := group+dlqSuffix, redriveGroupPrefix+group
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := cf.adminFor(cl)
	if _, err := topicPartitions(ctx, adm, topic); err != nil {
		return err
	}
	actx, cancel := adm.requestContext(ctx)
	rs, err := dlqRanges(actx, adm, topic, redriveGroup)
	cancel()
	if err != nil {
		return err
	}
	ranges := map[int32]offsetRange{}
	for p, r := range rs {
		ranges[p] = offsetRange{start: r.start, end: r.end}
	}

	sent := map[string]int{}
	var total int
	toCommit := kadm.Offsets{}
	var errMu sync.Mutex // produce promises run on the client's goroutine
	var produceErr error
	each := func(r *kgo.Record) error {
		target := *to
		if target == "" {
			orig := header(r, headerRetryTopic)
			if orig == "" {
				return fmt.Errorf("dead letter %s/%d/%d has no %s header: give --to TOPIC", topic, r.Partition, r.Offset, headerRetryTopic)
			}
			target = ferryTopic(orig)
		}
		if *dryRun {
			fmt.Fprintf(stdout, "%s/%d/%d -> %s\n", topic, r.Partition, r.Offset, target)
		} else {
			out := &kgo.Record{Topic: target, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				if !redriveDropHeaders[h.Key] {
					out.Headers = append(out.Headers, h)
				}
			}
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: headerRedrivenFrom, Value: fmt.Appendf(nil, "%s/%d/%d", topic, r.Partition, r.Offset)})
			cl.Produce(ctx, out, func(_ *kgo.Record, err error) {
				errMu.Lock()
				defer errMu.Unlock()
				if err != nil && produceErr == nil {
					produceErr = fmt.Errorf("sending %s/%d/%d to %s: %w", topic, r.Partition, r.Offset, target, explain(err, target))
				}
			})
		}
		toCommit.AddOffset(topic, r.Partition, r.Offset+1, -1)
		sent[target]++
		total++
		return nil
	}
	// After each poll: wait for every send, then commit them, so a commit
	// never covers a message that was not sent.
	flush := func() error {
		if *dryRun || len(toCommit) == 0 {
			return nil
		}
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		errMu.Lock()
		perr := produceErr
		errMu.Unlock()
		if perr != nil {
			return perr
		}
		cctx, cancel := adm.requestContext(ctx)
		defer cancel()
		resp, err := adm.CommitOffsets(cctx, redriveGroup, toCommit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("sent, but could not commit the progress (group %s; a re-run sends them again): %w", redriveGroup, err)
		}
		toCommit = kadm.Offsets{}
		return nil
	}
	if err := readRecords(ctx, cf, topic, ranges, false, 0, each, flush); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted; what was sent is committed, re-run to go on")
	}
	verb := "redrove"
	if *dryRun {
		verb = "would redrive"
	}
	targets := make([]string, 0, len(sent))
	for t := range sent {
		targets = append(targets, fmt.Sprintf("%d to %s", sent[t], t))
	}
	sort.Strings(targets)
	if total == 0 {
		fmt.Fprintf(stdout, "nothing to redrive in %s\n", topic)
		return nil
	}
	fmt.Fprintf(stdout, "%s %d dead letters from %s: %s\n", verb, total, topic, strings.Join(targets, ", "))
	return nil
}
