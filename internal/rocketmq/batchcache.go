package rocketmq

import (
	"container/list"
	"sync"
)

// batchCacheBytes bounds the decompressed batches pulls keep. A Kafka
// producer fills a compressed batch with thousands of records and a
// RocketMQ consumer pulls 32 at a time: without the cache each pull
// decompresses the whole batch again.
const batchCacheBytes = 32 << 20

// batchCache keeps the decompressed records sections of recently pulled
// compressed batches, least recently used out first, up to a byte bound.
type batchCache struct {
	max int
	mu  sync.Mutex
	// REQUIRES: mu held for the fields below.
	size  int
	lru   *list.List // of *cachedBatch, most recently used first
	byKey map[batchKey]*list.Element
}

type batchKey struct {
	topic     string
	partition int32
	base      int64
	crc       uint32
}

type cachedBatch struct {
	key  batchKey
	recs []byte
}

func newBatchCache(max int) *batchCache {
	return &batchCache{max: max, lru: list.New(), byKey: map[batchKey]*list.Element{}}
}

func (c *batchCache) get(k batchKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedBatch).recs, true
}

// put keeps recs; a batch over a quarter of the bound is not kept.
func (c *batchCache) put(k batchKey, recs []byte) {
	if len(recs) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok {
		return
	}
	c.byKey[k] = c.lru.PushFront(&cachedBatch{key: k, recs: recs})
	c.size += len(recs)
	for c.size > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cachedBatch)
		delete(c.byKey, old.key)
		c.size -= len(old.recs)
	}
}

// forPartition is the cache as one partition's log.RecordsCache.
func (c *batchCache) forPartition(topic string, partition int32) partitionBatches {
	return partitionBatches{c: c, topic: topic, partition: partition}
}

type partitionBatches struct {
	c         *batchCache
	topic     string
	partition int32
}

func (p partitionBatches) Get(base int64, crc uint32) ([]byte, bool) {
	return p.c.get(batchKey{p.topic, p.partition, base, crc})
}

func (p partitionBatches) Put(base int64, crc uint32, recs []byte) {
	p.c.put(batchKey{p.topic, p.partition, base, crc}, recs)
}
