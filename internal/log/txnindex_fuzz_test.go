package log

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzDecodeTxnEntry: any bytes of a .txnindex entry either fail their
// checksum or range check, or decode to an entry that encodes back to the
// same bytes.
func FuzzDecodeTxnEntry(f *testing.F) {
	var good [txnEntrySize]byte
	binary.BigEndian.PutUint64(good[0:], 7)
	binary.BigEndian.PutUint64(good[8:], 100)
	binary.BigEndian.PutUint64(good[16:], 120)
	binary.BigEndian.PutUint32(good[24:], crc32.Checksum(good[:24], castagnoli))
	f.Add(good[:])
	f.Add(make([]byte, txnEntrySize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < txnEntrySize {
			return
		}
		b = b[:txnEntrySize]
		e, ok := decodeTxnEntry(b)
		if !ok {
			return
		}
		if e.FirstOffset > e.LastOffset {
			t.Fatalf("accepted an entry whose first offset %d is after its last %d", e.FirstOffset, e.LastOffset)
		}
		var back [txnEntrySize]byte
		binary.BigEndian.PutUint64(back[0:], uint64(e.ProducerID))
		binary.BigEndian.PutUint64(back[8:], uint64(e.FirstOffset))
		binary.BigEndian.PutUint64(back[16:], uint64(e.LastOffset))
		binary.BigEndian.PutUint32(back[24:], crc32.Checksum(back[:24], castagnoli))
		if !bytes.Equal(back[:], b) {
			t.Fatalf("entry %+v does not encode back to its bytes", e)
		}
	})
}
