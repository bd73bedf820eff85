package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

type searchedPartition struct {
	Partition int32 `json:"partition"`
	From      int64 `json:"from"`
	To        int64 `json:"to"`
	Reached   int64 `json:"reached"`
	// Whole is true when the scan covered the partition from its start.
	Whole bool `json:"whole"`
}

type searchView struct {
	Topic    string              `json:"topic"`
	Key      string              `json:"key"`
	MaxScan  int64               `json:"max_scan"`
	Scanned  []searchedPartition `json:"scanned"`
	Matches  []messageView       `json:"matches"`
	Complete bool                `json:"complete"`
	Note     string              `json:"note"`
}

// search finds messages whose key equals ?key= in a topic. It is a bounded
// scan, not an index: the newest max_scan records of the topic (split
// evenly over partitions) are read, at most MaxSearchScan, and at most
// MaxSearchHits matches are kept. Every partition is scanned because a
// producer may not have used the default partitioner.
func (c *Console) search(ctx context.Context, r *http.Request) (any, error) {
	topic := r.PathValue("topic")
	q := r.URL.Query()
	if !q.Has("key") {
		return nil, errBadRequest("give the key to search for: ?key=")
	}
	key := []byte(q.Get("key"))
	maxScan, err := intParam(r, "max_scan", DefaultScan, 1, MaxSearchScan)
	if err != nil {
		return nil, err
	}
	format, err := formatParam(r)
	if err != nil {
		return nil, err
	}
	td, err := c.describeTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, ends, err := c.offsetsOf(ctx, []string{topic})
	if err != nil {
		return nil, err
	}
	v := searchView{Topic: topic, Key: string(key), MaxScan: maxScan, Scanned: []searchedPartition{}, Matches: []messageView{}}
	per := maxScan / int64(max(1, len(td.Partitions)))
	per = max(per, 1)
	spans := map[int32]span{}
	for _, p := range td.Partitions.Numbers() {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			continue
		}
		spans[p] = span{From: max(s.Offset, e.Offset-per), To: e.Offset}
	}
	reached, err := c.scan(ctx, topic, spans, func(rec *kgo.Record) bool {
		if rec.Key != nil && bytes.Equal(rec.Key, key) {
			v.Matches = append(v.Matches, viewOf(rec, format))
		}
		return len(v.Matches) < MaxSearchHits
	})
	if err != nil {
		return nil, err
	}
	v.Complete = len(v.Matches) < MaxSearchHits
	for p, s := range spans {
		sp := searchedPartition{Partition: p, From: s.From, To: s.To, Reached: reached[p]}
		st, _ := starts.Lookup(topic, p)
		sp.Whole = s.From == st.Offset
		if !sp.Whole || reached[p] < s.To {
			v.Complete = false
		}
		v.Scanned = append(v.Scanned, sp)
	}
	sort.Slice(v.Scanned, func(i, j int) bool { return v.Scanned[i].Partition < v.Scanned[j].Partition })
	sort.Slice(v.Matches, func(i, j int) bool {
		a, b := v.Matches[i], v.Matches[j]
		return a.Partition < b.Partition || a.Partition == b.Partition && a.Offset < b.Offset
	})
	if v.Complete {
		v.Note = "scanned every message of the topic"
	} else {
		v.Note = fmt.Sprintf("bounded scan: the newest %d messages of each partition (%d in all at most) and at most %d matches; older messages were not searched", per, maxScan, MaxSearchHits)
	}
	return v, nil
}
