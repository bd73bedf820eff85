package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// headerBatch builds a stored batch at base offset base whose records have
// the given headers, gzip-compressed when compress is set.
func headerBatch(tb testing.TB, base int64, compress bool, recs []kmsg.Record) []byte {
	tb.Helper()
	var raw []byte
	for i := range recs {
		r := recs[i]
		r.OffsetDelta = int32(i)
		r.TimestampDelta64 = int64(i)
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
	}
	var attrs int16
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		raw, attrs = buf.Bytes(), codecGzip
	}
	b := kmsg.RecordBatch{
		FirstOffset: base, PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs,
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: 1000, MaxTimestamp: 1000 + int64(len(recs)-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: raw,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-logOverhead))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}

func TestEachStoredRecordGivesHeaders(t *testing.T) {
	recs := []kmsg.Record{
		{Key: []byte("k0"), Value: []byte("v0"), Headers: []kmsg.Header{{Key: "TAGS", Value: []byte("A")}, {Key: "n", Value: nil}}},
		{Value: []byte("v1")},
	}
	data := append(headerBatch(t, 10, false, recs), headerBatch(t, 12, true, recs)...)
	type seen struct {
		off, ts    int64
		key, value string
		nilKey     bool
		headers    []string
	}
	var got []seen
	next, err := EachStoredRecord(data, func(h BatchHeader, r StoredRecord) error {
		s := seen{off: r.Offset, ts: r.Timestamp, key: string(r.Key), value: string(r.Value), nilKey: r.Key == nil}
		r.EachHeader(func(k, v []byte) bool {
			s.headers = append(s.headers, string(k)+"="+string(v)+map[bool]string{true: "(nil)"}[v == nil])
			return true
		})
		got = append(got, s)
		return nil
	})
	if err != nil || next != 14 {
		t.Fatalf("next %d err %v", next, err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d records", len(got))
	}
	for i, base := range []int64{10, 12} {
		a, b := got[2*i], got[2*i+1]
		if a.off != base || b.off != base+1 || a.ts != 1000 || b.ts != 1001 {
			t.Errorf("offsets/timestamps %+v %+v", a, b)
		}
		if a.key != "k0" || a.value != "v0" || !b.nilKey || b.value != "v1" {
			t.Errorf("key/value %+v %+v", a, b)
		}
		if len(a.headers) != 2 || a.headers[0] != "TAGS=A" || a.headers[1] != "n=(nil)" || len(b.headers) != 0 {
			t.Errorf("headers %q %q", a.headers, b.headers)
		}
	}
}

func TestEachStoredRecordRefusesDamage(t *testing.T) {
	b := headerBatch(t, 0, false, []kmsg.Record{{Value: []byte("v"), Headers: []kmsg.Header{{Key: "h", Value: []byte("x")}}}})
	// Claim two headers where there is one, and re-checksum so that only
	// the header framing is wrong.
	i := bytes.Index(b, []byte("v\x02\x02h")) // value, count 1 (zigzag 2), key length 1
	if i < 0 {
		t.Fatal("record layout not found")
	}
	b[i+1] = 4
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	_, err := EachStoredRecord(b, func(BatchHeader, StoredRecord) error { t.Fatal("damaged record delivered"); return nil })
	if !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("err = %v, want ErrCorruptBatch", err)
	}
	b[i+1] = 2
	b[offAttributes+5]++ // break the CRC
	if _, err := EachStoredRecord(b, func(BatchHeader, StoredRecord) error { return nil }); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("bad crc: err = %v", err)
	}
}

// FuzzEachStoredRecord: any bytes walk to records or an error, never a
// panic, and every header of a record that is delivered can be read.
func FuzzEachStoredRecord(f *testing.F) {
	f.Add(headerBatch(f, 0, false, []kmsg.Record{{Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{{Key: "TAGS", Value: []byte("A")}}}}))
	f.Add(headerBatch(f, 5, true, []kmsg.Record{{Value: []byte("v")}, {Value: nil, Headers: []kmsg.Header{{Key: "h"}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		EachStoredRecord(data, func(_ BatchHeader, r StoredRecord) error {
			r.EachHeader(func(k, v []byte) bool { return true })
			return nil
		})
		// Re-checksummed, the same bytes reach the record decoding.
		if len(data) >= batchHeaderSize {
			b := append([]byte(nil), data...)
			binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
			EachStoredRecord(b, func(_ BatchHeader, r StoredRecord) error {
				r.EachHeader(func(k, v []byte) bool { return true })
				return nil
			})
		}
	})
}

type mapCache map[int64][]byte

func (m mapCache) Get(base int64, _ uint32) ([]byte, bool) { b, ok := m[base]; return b, ok }
func (m mapCache) Put(base int64, _ uint32, recs []byte)   { m[base] = recs }

// TestEachStoredRecordFrom: records before from are passed over, and a
// compressed batch is decompressed once, then taken from the cache.
func TestEachStoredRecordFrom(t *testing.T) {
	var recs []kmsg.Record
	for i := range 5 {
		recs = append(recs, kmsg.Record{Value: []byte{byte('a' + i)}})
	}
	data := append(headerBatch(t, 0, true, recs[:2]), headerBatch(t, 2, true, recs[2:])...)
	cache := mapCache{}
	walk := func(from int64) string {
		var got []byte
		if _, err := EachStoredRecordFrom(data, from, cache, func(_ BatchHeader, r StoredRecord) error {
			got = append(got, r.Value...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	if got := walk(3); got != "de" {
		t.Fatalf("from 3: %q", got)
	}
	if _, ok := cache[0]; ok {
		t.Error("the batch wholly before from was decompressed")
	}
	cache[2] = []byte("not records") // a cache hit is used as it is
	if _, err := EachStoredRecordFrom(data, 3, cache, func(BatchHeader, StoredRecord) error { return nil }); !errors.Is(err, ErrCorruptBatch) {
		t.Errorf("the cached section was not used: err %v", err)
	}
	delete(cache, 2)
	if got := walk(1); got != "bcde" {
		t.Fatalf("from 1: %q", got)
	}
}
