package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The scheduler's figures for BENCHMARKS.md. They take minutes and most of
// the machine, so they run only with FERRY_SCHEDULE_BENCH=1:
//
//	FERRY_SCHEDULE_BENCH=1 go test ./test/integration/ -run TestScheduleBench -v -timeout 30m

func scheduleBench(t *testing.T) {
	if os.Getenv("FERRY_SCHEDULE_BENCH") == "" {
		t.Skip("set FERRY_SCHEDULE_BENCH=1 to run")
	}
}

// produceScheduled produces n records to topic, record i due at due(i),
// with its due time (unix ms) as its value.
func produceScheduled(t *testing.T, addr, topic string, n int, due func(i int) time.Time) time.Duration {
	t.Helper()
	cl := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(200_000))
	defer cl.Close()
	start := time.Now()
	errs := make(chan error, 1)
	for i := range n {
		at := strconv.FormatInt(due(i).UnixMilli(), 10)
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(at),
			Headers: []kgo.RecordHeader{{Key: "ferry-deliver-at-ms", Value: []byte(at)}}}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := cl.Flush(testCtx(t, 10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	return time.Since(start)
}

// TestScheduleBenchLateness: 100k records scheduled over 30 seconds
// starting 20 s after the first is produced; every one is consumed and its
// lateness (fetch time minus due time) measured.
func TestScheduleBenchLateness(t *testing.T) {
	scheduleBench(t)
	proc := startFerry(t, t.TempDir())
	topic := "sched-bench"
	createTopic(t, newAdmin(t, proc.addr), topic, 4, "message.scheduling.enable=true")
	const n = 100_000
	base := time.Now().Add(20 * time.Second)
	took := produceScheduled(t, proc.addr, topic, n, func(i int) time.Time {
		return base.Add(time.Duration(i) * 30 * time.Second / n)
	})
	t.Logf("scheduled %d records in %v; all pending until %v from now", n, took.Round(time.Millisecond), time.Until(base).Round(time.Millisecond))
	if time.Now().After(base) {
		t.Fatalf("producing took past the first due time: lateness would be wrong")
	}
	rss0 := rssKiB(t, proc)

	cons := newClient(t, proc.addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: allFrom(4, kgo.NewOffset().AtStart())}),
		kgo.FetchMaxWait(50*time.Millisecond))
	var late []time.Duration
	type lateAt struct{ due, late time.Duration }
	var worst []lateAt // to tell a stall (one moment) from spread-out delays
	early := 0
	deadline := base.Add(2 * time.Minute)
	for len(late) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			ms, _ := strconv.ParseInt(string(r.Value), 10, 64)
			d := now.Sub(time.UnixMilli(ms))
			if d < 0 {
				early++
			}
			late = append(late, d)
			if d > 100*time.Millisecond {
				worst = append(worst, lateAt{time.UnixMilli(ms).Sub(base).Round(time.Millisecond), d.Round(time.Millisecond)})
			}
		})
	}
	if len(late) != n || early != 0 {
		t.Fatalf("consumed %d of %d, %d before their time", len(late), n, early)
	}
	slices.Sort(late)
	q := func(p float64) time.Duration { return late[int(p*float64(n-1))].Round(100 * time.Microsecond) }
	t.Logf("lateness at %d pending (fetch time - due time, 4 partitions, FetchMaxWait 50ms): p50 %v p90 %v p99 %v p99.9 %v max %v",
		n, q(0.5), q(0.9), q(0.99), q(0.999), late[n-1].Round(time.Millisecond))
	if len(worst) > 0 {
		t.Logf("%d records over 100ms late; first %v, last %v (due time after the first due, lateness)", len(worst), worst[0], worst[len(worst)-1])
	}
	t.Logf("broker RSS with %d pending: %d MiB (peak %d MiB)", n, rss0/1024, hwmKiB(t, proc)/1024)
	logServerLateness(t, proc)
}

// logServerLateness prints the broker's own lateness histogram (due time
// to target acknowledged), which leaves out the consumer's fetch.
func logServerLateness(t *testing.T, proc *ferryProc) {
	t.Helper()
	if proc.httpAddr() == "" {
		return
	}
	fam, ok := scrape(t, proc.httpAddr())["ferry_schedule_lateness_seconds"]
	if !ok || len(fam.GetMetric()) == 0 {
		t.Log("no ferry_schedule_lateness_seconds")
		return
	}
	h := fam.GetMetric()[0].GetHistogram()
	total := float64(h.GetSampleCount())
	quantile := func(q float64) string {
		for _, b := range h.GetBucket() {
			if float64(b.GetCumulativeCount()) >= q*total {
				return fmt.Sprintf("<= %.1f ms", b.GetUpperBound()*1000)
			}
		}
		return "> last bucket"
	}
	t.Logf("broker-side lateness (due -> target durable), %d messages: p50 %s, p90 %s, p99 %s, p99.9 %s",
		int(total), quantile(0.5), quantile(0.9), quantile(0.99), quantile(0.999))
}

// TestScheduleBenchMillion: 1M records scheduled a day ahead cost disk
// (__scheduled and the bucket index), not memory: the broker's RSS after
// producing them and after a restart, and the bytes on disk.
func TestScheduleBenchMillion(t *testing.T) {
	scheduleBench(t)
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	topic := "sched-million"
	createTopic(t, newAdmin(t, proc.addr), topic, 4, "message.scheduling.enable=true")
	time.Sleep(time.Second)
	idle := rssKiB(t, proc)
	const n = 1_000_000
	base := time.Now().Add(24 * time.Hour)
	took := produceScheduled(t, proc.addr, topic, n, func(i int) time.Time {
		return base.Add(time.Duration(i) * 24 * time.Hour / n)
	})
	// Let the scheduler index everything: its files stop changing.
	indexStart := time.Now()
	for last, stable := int64(-1), 0; stable < 5 && time.Since(indexStart) < 3*time.Minute; time.Sleep(time.Second) {
		size, _ := dirSize(filepath.Join(dataDir, "__scheduler"))
		if size == last {
			stable++
		} else {
			last, stable = size, 0
		}
	}
	t.Logf("index settled %v after the last produce", time.Since(indexStart).Round(time.Second))
	after := rssKiB(t, proc)
	t.Logf("scheduled %d records (due over a day, a day ahead) in %v (%.0f records/s)", n, took.Round(time.Millisecond), n/took.Seconds())
	t.Logf("RSS idle %d MiB; with 1M pending %d MiB (peak %d MiB, includes the produce path's garbage)", idle/1024, after/1024, hwmKiB(t, proc)/1024)
	logDisk(t, dataDir)

	proc.stop()
	start := time.Now()
	proc = startFerry(t, dataDir)
	t.Logf("restart with 1M pending: serving after %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(5 * time.Second)
	t.Logf("RSS after the restart with 1M pending: %d MiB (peak %d MiB)", rssKiB(t, proc)/1024, hwmKiB(t, proc)/1024)
	if !strings.Contains(proc.log(), "ferry is serving") {
		t.Fatal("not serving")
	}
}

func logDisk(t *testing.T, dataDir string) {
	t.Helper()
	for _, d := range []string{"__scheduled-0", "__scheduler"} {
		size, files := dirSize(filepath.Join(dataDir, d))
		t.Logf("disk: %s %d MiB in %d files", d, size>>20, files)
	}
}

func dirSize(dir string) (size int64, files int) {
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			size += fi.Size()
			files++
		}
		return nil
	})
	return size, files
}

func procStatus(t *testing.T, p *ferryProc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func rssKiB(t *testing.T, p *ferryProc) int64 { return procStatus(t, p, "VmRSS") }
func hwmKiB(t *testing.T, p *ferryProc) int64 { return procStatus(t, p, "VmHWM") }
