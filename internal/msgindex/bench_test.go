package msgindex

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkIndexAdd is the cost of indexing one record with two keys (a
// KEYS word and a UNIQ_KEY), flushing every 1000 records as the tailer
// flushes after each read.
func BenchmarkIndexAdd(b *testing.B) {
	x, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	keys := make([][]string, 1024)
	for i := range keys {
		keys[i] = []string{"order-" + strconv.Itoa(i), "C0A80001000000000000" + strconv.Itoa(100000+i)}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := x.Add(int64(i), int64(i), keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if err := x.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTailerStep is the tailer's cost per record: decode a batch of
// 100 records with headers, extract keys, index them.
func BenchmarkTailerStep(b *testing.B) {
	src := &memSource{}
	for i := 0; i < 100; i++ {
		var recs []kmsg.Record
		for j := 0; j < 100; j++ {
			n := strconv.Itoa(i*100 + j)
			recs = append(recs, rec("order-"+n, "C0A8000100000000"+n, "a body of some length, as messages have them"))
		}
		src.append(int64(i), recs...)
	}
	b.ResetTimer()
	records := 0
	for records < b.N {
		b.StopTimer()
		x, err := Open(b.TempDir(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		t := &tailer{src: src, x: x, decode: decodeUncompressed}
		b.StartTimer()
		for {
			caughtUp, err := t.step()
			if err != nil {
				b.Fatal(err)
			}
			if caughtUp {
				break
			}
		}
		records += 10000
		x.Close()
	}
}
