//go:build unix

package log

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkParseBatch measures the produce path's validation of one batch per
// codec: "crc" is the header and CRC check alone (all the produce path did
// before the records were checked), "records" adds the record check
// (decompressing if needed). MB/s counts the uncompressed batch, so codecs
// compare on the same data: values of random letters, like `ferry bench`.
// cpu-ns/op is the process's CPU time per batch (getrusage), which other
// processes on a shared machine disturb far less than wall time.
//
//	go test -run '^$' -bench BenchmarkParseBatch -benchtime 1s -count 5 ./internal/log
func BenchmarkParseBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range []struct{ records, valueSize int }{{100, 100}, {1000, 1000}} {
		var raw []byte
		for i := range shape.records {
			v := make([]byte, shape.valueSize)
			for j := range v {
				v[j] = 'A' + byte(rng.IntN(26))
			}
			raw = append(raw, framed(testRecord(int64(i), nil, v))...)
		}
		for _, codec := range []int{codecNone, codecGzip, codecSnappy, codecLz4, codecZstd} {
			batch := rawBatch(attrFor(codec), int32(shape.records-1), int32(shape.records), compressForTest(b, codec, raw))
			for _, check := range []string{"crc", "records"} {
				name := fmt.Sprintf("%dx%dB/%s/%s", shape.records, shape.valueSize, codecName(int16(codec)), check)
				b.Run(name, func(b *testing.B) {
					parse := ParseBatch
					if check == "crc" {
						parse = func(b []byte) (BatchHeader, error) { return parseBatch(b, false) }
					}
					b.SetBytes(int64(batchHeaderSize + len(raw)))
					b.ReportAllocs()
					start, cpu0 := time.Now(), cpuTime()
					for b.Loop() {
						if _, err := parse(batch); err != nil {
							b.Fatal(err)
						}
					}
					cpu := cpuTime() - cpu0
					b.ReportMetric(float64(shape.records)*float64(b.N)/time.Since(start).Seconds(), "records/s")
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}
