package main

// ferry produce: every line of stdin becomes one record.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

func runProduce(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("produce", "ferry produce --topic T [flags] < lines", stdout, stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic to produce to (required)")
	keySep := fs.String("key-separator", "", "if set, the part of each line before the first `SEP` is the record key")
	var headers keyValueList
	fs.Var(&headers, "header", "header `key=value` added to every record (repeatable)")
	partition := fs.Int("partition", -1, "produce to this partition only; -1 lets the key choose, or spreads keyless records")
	acks := fs.String("acks", "all", "acknowledgement: all (every in-sync replica), 1 (leader) or 0 (none)")
	compression := fs.String("compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: records are read from stdin, one per line", pos)
	}
	if *topic == "" {
		fs.Usage()
		return errors.New("--topic is required")
	}
	opts, err := producerOpts(*acks, *compression)
	if err != nil {
		return err
	}
	retries := &retryWatcher{w: stderr, timeout: cf.timeout.String()}
	opts = append(opts, kgo.DefaultProduceTopic(*topic), kgo.WithLogger(retries))
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}

	ctx, cancel := interruptContext()
	defer cancel()
	cl, err := cf.newClient(ctx, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	n, err := topicPartitions(ctx, cf.adminFor(cl), *topic)
	if err != nil {
		return err
	}
	if *partition >= n {
		return fmt.Errorf("--partition %d does not exist: topic %q has partitions 0..%d (add more with `ferry topic alter %s --partitions N`)", *partition, *topic, n-1, *topic)
	}

	var recHeaders []kgo.RecordHeader
	for _, h := range headers {
		recHeaders = append(recHeaders, kgo.RecordHeader{Key: h.key, Value: []byte(h.value)})
	}

	// The first failure stops reading; the rest of what is in flight is
	// flushed so the count printed is exact.
	var (
		acked    atomic.Int64
		failed   atomic.Int64
		produced atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	watch := watchStall(ctx, stallLimit(cf.timeout),
		func() int64 { return acked.Load() + failed.Load() }, produced.Load)
	defer watch.stop()
	pctx, stop := context.WithCancel(watch.ctx)
	defer stop()
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() {
				firstErr = err
				stop()
			})
			return
		}
		acked.Add(1)
	}

	sent := 0
	br := bufio.NewReaderSize(stdin, 64<<10)
	var readErr error
	for pctx.Err() == nil {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		r := &kgo.Record{Value: line, Headers: recHeaders, Partition: int32(*partition)}
		if *keySep != "" {
			if k, v, ok := bytes.Cut(line, []byte(*keySep)); ok {
				r.Key, r.Value = k, v
			}
		}
		produced.Add(1)
		cl.Produce(pctx, r, promise)
		sent++
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	if err := cl.Flush(watch.ctx); err != nil && ctx.Err() == nil {
		if watch.stalled.Load() {
			fmt.Fprintf(stderr, "produced %d record(s) to %s\n", acked.Load(), *topic)
			return fmt.Errorf("%d of %d record(s) not acknowledged: the broker gave no answer for %s (--timeout %s plus half); is it still running?",
				int64(sent)-acked.Load(), sent, stallLimit(cf.timeout), cf.timeout)
		}
		return fmt.Errorf("flushing records: %w", err)
	}

	fmt.Fprintf(stderr, "produced %d record(s) to %s\n", acked.Load(), *topic)
	if n := failed.Load(); n > 0 {
		if errors.Is(firstErr, kgo.ErrRecordTimeout) {
			if ke := retries.seen(); ke != nil {
				// Its text was printed when it first came.
				return fmt.Errorf("%d of %d record(s) failed: not acknowledged within --timeout %s; the broker kept answering %s (see the broker's log)", n, sent, cf.timeout, ke.Message)
			}
			return fmt.Errorf("%d of %d record(s) failed: not acknowledged within --timeout %s", n, sent, cf.timeout)
		}
		return fmt.Errorf("%d of %d record(s) failed: %w", n, sent, explain(firstErr, *topic))
	}
	if readErr != nil {
		return fmt.Errorf("reading stdin: %w", readErr)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}
