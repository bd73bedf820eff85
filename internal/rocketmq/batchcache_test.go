package rocketmq

import "testing"

func TestBatchCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newBatchCache(100)
	p := c.forPartition("t", 0)
	p.Put(0, 1, make([]byte, 20))
	p.Put(10, 2, make([]byte, 20))
	if _, ok := c.forPartition("t", 1).Get(0, 1); ok {
		t.Fatal("another partition's batch was returned")
	}
	if _, ok := p.Get(0, 2); ok {
		t.Fatal("a batch with another CRC was returned")
	}
	p.Get(0, 1) // now the most recently used
	for i := int64(0); i < 4; i++ {
		p.Put(100+i, 3, make([]byte, 20))
	}
	if _, ok := p.Get(10, 2); ok {
		t.Error("the least recently used batch was kept over the bound")
	}
	if _, ok := p.Get(0, 1); !ok {
		t.Error("a batch read after the older one was put was dropped before it")
	}
	p.Put(200, 4, make([]byte, 30))
	if _, ok := p.Get(200, 4); ok {
		t.Error("a batch over a quarter of the bound was kept")
	}
	c.mu.Lock()
	size := c.size
	c.mu.Unlock()
	if size > 100 {
		t.Errorf("cache holds %d bytes, bound 100", size)
	}
}
