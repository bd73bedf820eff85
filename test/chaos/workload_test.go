package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload sizes: small enough for a loaded two-core machine running three
// brokers besides the clients.
const (
	producers      = 4
	consumers      = 2
	keys           = 64
	produceEvery   = 4 * time.Millisecond // per producer, between Produce calls
	watchEvery     = 300 * time.Millisecond
	deliverTimeout = 2 * time.Minute // a record not acknowledged by then fails (unacknowledged)
)

// clientOpts are the options every client of the run shares.
func clientOpts(bootstrap []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(bootstrap...),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryTimeout(time.Minute),
		kgo.RequestTimeoutOverhead(5 * time.Second),
	}
}

// produce runs producer id until ctx is done, then waits for its
// outstanding records (at most flushWait, or until flushCtx is done) and
// closes the client.
func produce(ctx, flushCtx context.Context, t *testing.T, id int, bootstrap []string, topic string, rec *recorder, flushWait time.Duration) error {
	cl, err := kgo.NewClient(append(clientOpts(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: franz-go's default
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(500),
		kgo.RecordDeliveryTimeout(deliverTimeout),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	var errOnce sync.Once
	for seq := int64(0); ctx.Err() == nil; seq++ {
		v := Value{Producer: id, Seq: seq}
		rec.attempt(v)
		r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", rng.IntN(keys)), Value: v.Encode()}
		// Not ctx: records buffered when the run ends are still delivered
		// (up to flushWait) rather than failed unsent.
		cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			if err != nil {
				rec.produceErrs.Add(1)
				errOnce.Do(func() { t.Logf("producer %d: first failed produce (seq %d): %v", id, v.Seq, err) })
				return
			}
			rec.ack(Ack{Value: v, Partition: r.Partition, Offset: r.Offset})
		})
		time.Sleep(produceEvery)
	}
	fctx, cancel := context.WithTimeout(flushCtx, flushWait)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		t.Logf("producer %d: records still unacknowledged after %v: %v", id, flushWait, err)
	}
	return nil
}

// consume reads every partition from the start with read_uncommitted
// until ctx is done, recording each record and each fetch's high
// watermark. Its last offsets are reported through progress.
func consume(ctx context.Context, id int, bootstrap []string, topic string, parts int32, rec *recorder, progress *progress) error {
	start := map[int32]kgo.Offset{}
	for p := range parts {
		start[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(clientOpts(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	observer := fmt.Sprintf("consumer %d fetch", id)
	lastHW := map[int32]int64{}
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		var reads []Read
		var hws []Watermark
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Err != nil {
				return // a broker down or electing: the client retries
			}
			if hw, seen := lastHW[fp.Partition]; !seen || hw != fp.HighWatermark {
				// Only changes: a repeat adds nothing to the checks.
				lastHW[fp.Partition] = fp.HighWatermark
				hws = append(hws, Watermark{Observer: observer, Partition: fp.Partition, HW: fp.HighWatermark, Epoch: -1, At: time.Now()})
			}
			for _, r := range fp.Records {
				v, err := DecodeValue(r.Value)
				if err != nil {
					rec.badValues.Add(1)
					continue
				}
				reads = append(reads, Read{Consumer: id, Partition: r.Partition, Offset: r.Offset, Value: v})
				progress.saw(id, r.Partition, r.Offset)
			}
		})
		rec.reads(reads)
		rec.watermarks(hws)
	}
	return nil
}

// watch lists every partition's end offset (the high watermark under
// read_uncommitted) until ctx is done.
func watch(ctx context.Context, bootstrap []string, topic string, rec *recorder) error {
	cl, err := kgo.NewClient(clientOpts(bootstrap)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	lastHW := map[int32]int64{}
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		listed, err := adm.ListEndOffsets(lctx, topic)
		cancel()
		if err != nil {
			continue
		}
		var hws []Watermark
		listed.Each(func(o kadm.ListedOffset) {
			if hw, seen := lastHW[o.Partition]; o.Err == nil && (!seen || hw != o.Offset) {
				lastHW[o.Partition] = o.Offset
				hws = append(hws, Watermark{Observer: "list-offsets", Partition: o.Partition, HW: o.Offset, Epoch: o.LeaderEpoch, At: time.Now()})
			}
		})
		rec.watermarks(hws)
	}
}

// progress tracks the next offset each consumer will read per partition.
type progress struct {
	mu   sync.Mutex
	next map[[2]int32]int64 // {consumer, partition}
}

func (p *progress) saw(consumer int, partition int32, offset int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == nil {
		p.next = map[[2]int32]int64{}
	}
	p.next[[2]int32{int32(consumer), partition}] = offset + 1
}

// caughtUp reports whether every consumer has read every partition up to
// ends (partition -> end offset).
func (p *progress) caughtUp(ends map[int32]int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range consumers {
		for part, end := range ends {
			if end > 0 && p.next[[2]int32{int32(c), part}] < end {
				return false
			}
		}
	}
	return true
}

// endOffsets lists each partition's end offset, retrying until every
// partition answers (a settled cluster) or ctx is done.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string, parts int32) (map[int32]int64, error) {
	var last error
	for {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		listed, err := adm.ListEndOffsets(lctx, topic)
		cancel()
		ends := map[int32]int64{}
		if err == nil {
			listed.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					ends[o.Partition] = o.Offset
				} else {
					err = fmt.Errorf("partition %d: %w", o.Partition, o.Err)
				}
			})
		}
		if err == nil && int32(len(ends)) == parts {
			return ends, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readFinal reads every partition from its start to ends with a fresh
// consumer: the logs as the leaders serve them once the cluster settled.
func readFinal(ctx context.Context, bootstrap []string, topic string, ends map[int32]int64) (map[int32][]Entry, error) {
	start := map[int32]kgo.Offset{}
	final := map[int32][]Entry{}
	for p := range ends {
		start[p] = kgo.NewOffset().AtStart()
		final[p] = nil
	}
	cl, err := kgo.NewClient(append(clientOpts(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	for !done() {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("final read: got to %v of %v: %w", next, ends, ctx.Err())
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < next[r.Partition] {
				return // a re-read after a client-side reset: already recorded
			}
			e := Entry{Offset: r.Offset}
			if v, err := DecodeValue(r.Value); err == nil {
				e.Value = v
			} else {
				e.Raw = string(r.Value)
			}
			final[r.Partition] = append(final[r.Partition], e)
			next[r.Partition] = r.Offset + 1
		})
	}
	return final, nil
}
