package log

import (
	"testing"
)

// BenchmarkAppend appends batches of 100 records of 100 bytes each. With
// FlushAlways every append is followed by Sync, from parallel goroutines so that
// group commit can share fsyncs.
func BenchmarkAppend(b *testing.B) {
	for _, policy := range []FlushPolicy{FlushOS, FlushAlways} {
		b.Run(string(policy), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.FlushPolicy = policy
			cfg.RetentionAge = -1
			l := openLog(b, b.TempDir(), cfg, Options{})
			defer l.Close()
			tss := make([]int64, 100)
			for i := range tss {
				tss[i] = 1_700_000_000_000 + int64(i)
			}
			template := makeBatch(b, tss, 100)
			b.SetBytes(int64(len(template)))
			b.ReportAllocs()
			b.SetParallelism(8) // 8 producers per CPU contend for the partition
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				batch := clone(template)
				for pb.Next() {
					res, err := l.Append(batch)
					if err != nil {
						b.Error(err)
						return
					}
					if err := l.Sync(res.LastOffset + 1); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(l.fsyncs.Load())/float64(b.N), "fsyncs/op")
		})
	}
}
