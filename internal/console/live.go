package console

import (
	"context"
	"net/http"
	"sort"
	"time"
)

// liveSample is the sum of end offsets per topic at one moment.
type liveSample struct {
	at   time.Time
	ends map[string]int64
}

type liveTopic struct {
	Topic     string `json:"topic"`
	EndOffset int64  `json:"end_offset_sum"`
	// Records is the sum of end - start offsets, as in the topic list.
	Records int64 `json:"records"`
	// Delta is records appended since the previous sample, RecordsPerSec
	// the same per second; both are -1 on the first sample (nothing to
	// compare with) and for a topic that was not in it.
	Delta         int64   `json:"delta"`
	RecordsPerSec float64 `json:"records_per_sec"`
}

type liveView struct {
	At         string      `json:"at"`
	IntervalMS int64       `json:"interval_ms"`
	Topics     []liveTopic `json:"topics"`
}

// live answers end-offset sums per topic and the rate since the previous
// call: throughput from end-offset deltas, the way a client sees it, with
// no counters inside the broker. The console's page polls it. The previous
// sample is shared by all callers: with two pages open, each sees the rate
// over the shorter interval between their calls, which is still the rate.
func (c *Console) live(ctx context.Context, _ *http.Request) (any, error) {
	tds, err := c.admin.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	starts, ends, err := c.offsetsOf(ctx, tds.Names())
	if err != nil {
		return nil, err
	}
	now := c.opts.Now()
	cur := liveSample{at: now, ends: map[string]int64{}}
	for _, topic := range tds.Names() {
		cur.ends[topic] = 0
		for _, o := range ends[topic] {
			if o.Err == nil && o.Offset > 0 {
				cur.ends[topic] += o.Offset
			}
		}
	}
	c.liveMu.Lock()
	prev := c.liveLast
	c.liveLast = cur
	c.liveMu.Unlock()

	v := liveView{At: now.UTC().Format(time.RFC3339Nano), IntervalMS: -1, Topics: []liveTopic{}}
	interval := now.Sub(prev.at)
	if prev.ends != nil {
		v.IntervalMS = interval.Milliseconds()
	}
	for _, name := range tds.Names() {
		lt := liveTopic{Topic: name, EndOffset: cur.ends[name], Delta: -1, RecordsPerSec: -1}
		for _, p := range tds[name].Partitions {
			lt.Records += spanOf(starts, ends, name, p.Partition)
		}
		if before, ok := prev.ends[name]; ok {
			lt.Delta = max(0, cur.ends[name]-before) // a recreated topic starts again at 0
			if interval > 0 {
				lt.RecordsPerSec = float64(lt.Delta) / interval.Seconds()
			}
		}
		v.Topics = append(v.Topics, lt)
	}
	sort.Slice(v.Topics, func(i, j int) bool { return v.Topics[i].Topic < v.Topics[j].Topic })
	return v, nil
}
