package broker

import (
	"testing"

	"github.com/ferry-mq/ferry/internal/meta"
)

// racingStore is a metadata store on which another broker reserves a
// block of producer ids right after each of this node's reservations
// commits, before this node reads the image back: what a cluster's
// controller may apply between two nodes' proposals.
type racingStore struct {
	meta.Store
	other [][2]int64 // blocks the other broker got: [start, end)
}

func (s *racingStore) Update(fn func(*meta.Image) ([]meta.Record, error)) (*meta.Image, error) {
	img, err := s.Store.Update(fn)
	if err != nil {
		return img, err
	}
	var start int64
	return s.Store.Update(func(img *meta.Image) ([]meta.Record, error) {
		start = img.NextProducerID
		s.other = append(s.other, [2]int64{start, start + producerIDBlock})
		return []meta.Record{{ProducerID: &meta.ProducerIDBlockRecord{Next: start + producerIDBlock}}}, nil
	})
}

// TestProducerIDBlocksDoNotOverlap: a broker hands out only the ids of the
// block it reserved, even when the image it reads back shows another
// broker's block reserved after it. (It used to take the image's
// NextProducerID as the end of its own block, so both brokers handed out
// the other's ids.)
func TestProducerIDBlocksDoNotOverlap(t *testing.T) {
	fs, err := meta.OpenAs(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	store := &racingStore{Store: fs}
	b := &Broker{meta: store}
	b.producerIDs.b = b
	for range 3 * producerIDBlock {
		id, err := b.NewProducerID()
		if err != nil {
			t.Fatal(err)
		}
		for _, blk := range store.other {
			if id >= blk[0] && id < blk[1] {
				t.Fatalf("producer id %d is in block [%d, %d) that another broker reserved", id, blk[0], blk[1])
			}
		}
	}
}
