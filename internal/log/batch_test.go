package log

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestParseBatch(t *testing.T) {
	good := makeBatch(t, []int64{100, 105, 103}, 20)
	h, err := ParseBatch(good)
	if err != nil {
		t.Fatalf("valid batch: %v", err)
	}
	if h.NumRecords != 3 || h.LastOffsetDelta != 2 || h.FirstTimestamp != 100 || h.MaxTimestamp != 105 || h.Magic != 2 {
		t.Fatalf("header decoded wrong: %+v", h)
	}
	if h.Size() != int64(len(good)) {
		t.Fatalf("Size %d, want %d", h.Size(), len(good))
	}

	// Offsets and leader epoch are outside the CRC.
	reoffset := clone(good)
	binary.BigEndian.PutUint64(reoffset[0:], 12345)
	binary.BigEndian.PutUint32(reoffset[12:], 7)
	if _, err := ParseBatch(reoffset); err != nil {
		t.Fatalf("base offset / epoch must not affect the CRC: %v", err)
	}

	cases := map[string][]byte{
		"empty":        nil,
		"short":        good[:60],
		"truncated":    good[:len(good)-1],
		"trailing":     append(clone(good), 0),
		"bad crc":      flip(good, len(good)-1),
		"crc field":    flip(good, 18),
		"magic 1":      set(good, 16, 1),
		"lying length": set32(good, 8, uint32(len(good)-12+1)),
		"tiny length":  set32(good, 8, 10),
		"records":      set32(good, 57, 5),
		"neg records":  set32(good, 57, 0xffffffff),
		"neg delta":    set32(good, 23, 0xffffffff),
	}
	for name, b := range cases {
		if _, err := ParseBatch(b); !errors.Is(err, ErrCorruptBatch) {
			t.Errorf("%s: err = %v, want ErrCorruptBatch", name, err)
		}
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func flip(b []byte, i int) []byte {
	c := clone(b)
	c[i] ^= 0x40
	return c
}

func set(b []byte, i int, v byte) []byte {
	c := clone(b)
	c[i] = v
	return c
}

func set32(b []byte, i int, v uint32) []byte {
	c := clone(b)
	binary.BigEndian.PutUint32(c[i:], v)
	return c
}

func FuzzParseBatch(f *testing.F) {
	good := makeBatch(f, []int64{1, 2, 3}, 5)
	f.Add(good)
	f.Add(good[:61])
	f.Add(flip(good, 30))
	f.Add(set32(good, 8, 49))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatch(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("error does not wrap ErrCorruptBatch: %v", err)
			}
			return
		}
		if h.Size() != int64(len(b)) || h.Magic != 2 || h.LastOffsetDelta < 0 {
			t.Fatalf("accepted inconsistent batch: %+v (len %d)", h, len(b))
		}
	})
}
