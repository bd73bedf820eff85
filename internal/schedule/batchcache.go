package schedule

import "github.com/ferry-mq/ferry/internal/log"

// batchCacheBytes bounds the decoded __scheduled batches kept in memory.
// Messages due together were usually produced together, but a producer's
// batches for several partitions interleave, so one batch is not enough.
const batchCacheBytes = 16 << 20

// decodedBatch is one batch of __scheduled, decoded.
type decodedBatch struct {
	first, last int64
	size        int
	recs        []log.Record
	used        uint64 // for eviction: the least recently used goes first
}

// batchCache holds recently decoded batches, at most batchCacheBytes.
type batchCache struct {
	batches []*decodedBatch
	bytes   int
	clock   uint64
}

func (c *batchCache) get(offset int64) *decodedBatch {
	for _, b := range c.batches {
		if offset >= b.first && offset <= b.last {
			c.clock++
			b.used = c.clock
			return b
		}
	}
	return nil
}

func (c *batchCache) put(b *decodedBatch) {
	for c.bytes+b.size > batchCacheBytes && len(c.batches) > 0 {
		oldest := 0
		for i, x := range c.batches {
			if x.used < c.batches[oldest].used {
				oldest = i
			}
		}
		c.bytes -= c.batches[oldest].size
		c.batches = append(c.batches[:oldest], c.batches[oldest+1:]...)
	}
	c.clock++
	b.used = c.clock
	c.batches = append(c.batches, b)
	c.bytes += b.size
}
