package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// span is a range of offsets [From, To) of one partition.
type span struct{ From, To int64 }

// idleWait is how long a scan waits for more records before deciding the
// rest of its ranges holds nothing to read (transaction markers, offsets
// compaction removed): those take offsets but reach no consumer.
const idleWait = 1500 * time.Millisecond

// scan reads the records of topic in spans with a client of its own (the
// consuming position is per request), calling fn for each in offset order
// within a partition until every span is read, fn returns false, ctx ends,
// or nothing arrives for idleWait. It returns how far each partition got
// (the next offset to read).
func (c *Console) scan(ctx context.Context, topic string, spans map[int32]span, fn func(*kgo.Record) bool) (map[int32]int64, error) {
	next := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for p, s := range spans {
		next[p] = s.From
		if s.From < s.To {
			offsets[p] = kgo.NewOffset().At(s.From)
		}
	}
	if len(offsets) == 0 {
		return next, nil
	}
	select {
	case c.scans <- struct{}{}:
		defer func() { <-c.scans }()
	default:
		return next, &apiError{status: http.StatusTooManyRequests, msg: fmt.Sprintf("%d message reads are already running; try again shortly", MaxConcurrentScans)}
	}
	cl, err := kgo.NewClient(c.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxBytes(MaxFetchBytes),
		kgo.FetchMaxPartitionBytes(MaxFetchBytes),
		kgo.FetchMaxWait(250*time.Millisecond),
	)...)
	if err != nil {
		return next, err
	}
	defer cl.Close()
	open := len(offsets)
	for open > 0 {
		pctx, cancel := context.WithTimeout(ctx, idleWait)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return next, nil // out of time: report how far we got
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return next, fe.Err
		}
		recs := fs.Records()
		if len(recs) == 0 {
			return next, nil // idle: nothing readable is left in the spans
		}
		for _, r := range recs {
			s, ok := spans[r.Partition]
			if !ok || r.Offset < s.From || next[r.Partition] >= s.To {
				continue
			}
			if r.Offset >= s.To {
				next[r.Partition] = s.To
			} else {
				next[r.Partition] = r.Offset + 1
				if !fn(r) {
					return next, nil
				}
			}
			if next[r.Partition] >= s.To {
				open--
				cl.PauseFetchPartitions(map[string][]int32{topic: {r.Partition}})
			}
		}
	}
	return next, nil
}
