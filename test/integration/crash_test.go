package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type ackedRec struct {
	client, goroutine, seq int
	partition              int32
	offset                 int64
}

// TestCrashSIGKILLDuringProduce: several producers write with acks=all to a
// flush.policy=always broker process that is SIGKILLed mid-stream; after a
// restart on the same data dir, every acknowledged record is there at the
// offset it was acknowledged with, offsets are contiguous from 0, nothing is
// duplicated and each producer goroutine's records keep their order within a
// partition.
func TestCrashSIGKILLDuringProduce(t *testing.T) {
	t.Run("large-segments", func(t *testing.T) { testCrashSIGKILLDuringProduce(t) })
	// Many segment rolls while producing: recovery across rolled segments
	// and the recovery point.
	t.Run("small-segments", func(t *testing.T) { testCrashSIGKILLDuringProduce(t, "segment.bytes=16384") })
}

func testCrashSIGKILLDuringProduce(t *testing.T, topicConfigs ...string) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	topic := "crash-sigkill"
	const parts = 4
	createTopic(t, newAdmin(t, proc.addr), topic, parts, topicConfigs...)

	const clients, goroutines = 2, 3
	var (
		mu     sync.Mutex
		acked  []ackedRec
		failed atomic.Int64
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var cls []*kgo.Client
	for c := range clients {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(proc.addr),
			kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(time.Millisecond),
			kgo.MaxBufferedRecords(1000),
			kgo.RecordDeliveryTimeout(3*time.Second),
		)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		cls = append(cls, cl)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; ctx.Err() == nil; seq++ {
					r := &kgo.Record{
						Key:   fmt.Appendf(nil, "c%d-g%d-k%d", c, g, seq%13),
						Value: fmt.Appendf(nil, "c%d-g%d-%09d", c, g, seq),
					}
					cl.Produce(ctx, r, func(r *kgo.Record, err error) {
						if err != nil {
							failed.Add(1)
							return
						}
						mu.Lock()
						acked = append(acked, ackedRec{c, g, seq, r.Partition, r.Offset})
						mu.Unlock()
					})
					if seq%4 == 3 {
						time.Sleep(time.Millisecond) // thousands of records, not millions
					}
				}
			}()
		}
	}
	// Produce until enough is acknowledged (at least ~1.5 s), then kill.
	start := time.Now()
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if time.Since(start) > 1500*time.Millisecond && n >= 500 || time.Since(start) > 15*time.Second {
			break
		}
	}
	if err := proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-proc.exited
	killedAt := time.Now()
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	// Close fails whatever is still buffered or in flight; those records'
	// fate is unknown and they are not counted as acknowledged.
	for _, cl := range cls {
		cl.Close()
	}
	mu.Lock()
	ackedCopy := slices.Clone(acked)
	mu.Unlock()
	t.Logf("SIGKILL after %v: %d acknowledged, %d failed", killedAt.Sub(start), len(ackedCopy), failed.Load())
	if len(ackedCopy) < 100 {
		t.Fatalf("only %d records acknowledged before the kill\n%s", len(ackedCopy), proc.log())
	}

	t.Logf("producers stopped %v after the kill", time.Since(killedAt))
	proc2 := startFerry(t, dataDir)
	t.Logf("restarted %v after the kill", time.Since(killedAt))
	adm := newAdmin(t, proc2.addr)
	end := endOffsets(t, adm, topic)
	if so := startOffsets(t, adm, topic); !maps.Equal(so, map[int32]int64{0: 0, 1: 0, 2: 0, 3: 0}) {
		t.Fatalf("start offsets after restart: %v", so)
	}
	total := 0
	for _, o := range end {
		total += int(o)
	}
	got := consumeN(t, proc2.addr, allFrom(parts, kgo.NewOffset().AtStart()), topic, total)
	checkOffsetsContiguous(t, got, map[int32]int64{})

	type po struct {
		p int32
		o int64
	}
	at := map[po]string{}
	seen := map[string]bool{}
	type gp struct {
		c, g int
		p    int32
	}
	lastSeq := map[gp]int{}
	for _, r := range got {
		v := string(r.Value)
		if seen[v] {
			t.Fatalf("duplicate record %s at %d/%d", v, r.Partition, r.Offset)
		}
		seen[v] = true
		at[po{r.Partition, r.Offset}] = v
		var c, g, seq int
		if _, err := fmt.Sscanf(v, "c%d-g%d-%d", &c, &g, &seq); err != nil {
			t.Fatalf("unexpected value %q at %d/%d", v, r.Partition, r.Offset)
		}
		k := gp{c, g, r.Partition}
		if l, ok := lastSeq[k]; ok && seq <= l {
			t.Fatalf("partition %d: c%d-g%d seq %d stored after seq %d", r.Partition, c, g, seq, l)
		}
		lastSeq[k] = seq
	}
	missing := 0
	for _, a := range ackedCopy {
		want := fmt.Sprintf("c%d-g%d-%09d", a.client, a.goroutine, a.seq)
		if have, ok := at[po{a.partition, a.offset}]; !ok || have != want {
			if missing < 10 {
				t.Errorf("acknowledged %s at %d/%d: after restart that offset holds %q (end offsets %v)", want, a.partition, a.offset, have, end)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged records lost or moved after SIGKILL", missing, len(ackedCopy))
	}
	t.Logf("after restart: %d records in the log (end offsets %v), all %d acknowledged present", total, end, len(ackedCopy))

	// The restarted broker takes new writes at the end of each partition.
	cl := newClient(t, proc2.addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(parts) {
		r := &kgo.Record{Partition: p, Value: []byte("after-restart")}
		produceSync(t, cl, r)
		if r.Offset != end[p] {
			t.Fatalf("partition %d: produce after restart at offset %d, want %d", p, r.Offset, end[p])
		}
	}
}

// TestCrashTornTail damages the tail of the newest segment of a stopped
// broker and checks that the restarted broker keeps every batch before the
// damage, reports the right log end and appends after it.
func TestCrashTornTail(t *testing.T) {
	type variant struct {
		name       string
		sigkill    bool // stop with SIGKILL rather than SIGTERM
		dropMarker bool // remove .clean-shutdown, as after a crash mid-write
		damage     string
	}
	var variants []variant
	for _, damage := range []string{"truncate-mid-batch", "append-random-garbage", "append-zeros"} {
		variants = append(variants,
			variant{"sigterm-" + damage, false, false, damage},
			variant{"sigterm-nomarker-" + damage, false, true, damage},
			variant{"sigkill-" + damage, true, false, damage},
		)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dataDir := t.TempDir()
			proc := startFerry(t, dataDir)
			topic := "torn"
			createTopic(t, newAdmin(t, proc.addr), topic, 1)
			cl, err := kgo.NewClient(kgo.SeedBrokers(proc.addr), kgo.DefaultProduceTopic(topic))
			if err != nil {
				t.Fatal(err)
			}
			const n = 20
			var rs []*kgo.Record
			for i := range n {
				// One batch per record, of varying size.
				r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "value-%d-%s", i, make([]byte, 10*i))}
				produceSync(t, cl, r)
				if r.Offset != int64(i) {
					t.Fatalf("record %d at offset %d", i, r.Offset)
				}
				rs = append(rs, r)
			}
			cl.Close()
			if v.sigkill {
				proc.kill()
			} else {
				proc.stop()
			}

			partDir := filepath.Join(dataDir, topic+"-0")
			if v.dropMarker {
				if err := os.Remove(filepath.Join(partDir, ".clean-shutdown")); err != nil {
					t.Fatalf("clean shutdown marker: %v", err)
				}
			}
			seg := newestSegment(t, partDir)
			starts, endPos := batchStarts(t, seg)
			if len(starts) != n {
				t.Fatalf("segment %s holds %d batches, want %d", seg, len(starts), n)
			}
			wantEnd := int64(n)
			switch v.damage {
			case "truncate-mid-batch":
				last := starts[len(starts)-1]
				if err := os.Truncate(seg, last+(endPos-last)/2); err != nil {
					t.Fatal(err)
				}
				wantEnd = n - 1
			case "append-random-garbage", "append-zeros":
				junk := make([]byte, 333)
				if v.damage == "append-random-garbage" {
					rand.Read(junk)
				}
				f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(junk); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}

			proc2 := startFerry(t, dataDir)
			adm := newAdmin(t, proc2.addr)
			if eo := endOffsets(t, adm, topic)[0]; eo != wantEnd {
				t.Fatalf("end offset after restart %d, want %d\n%s", eo, wantEnd, proc2.log())
			}
			got := consumeN(t, proc2.addr, allFrom(1, kgo.NewOffset().AtStart()), topic, int(wantEnd))
			checkConsumed(t, rs[:wantEnd], got)

			cl2 := newClient(t, proc2.addr, kgo.DefaultProduceTopic(topic))
			next := []*kgo.Record{{Value: []byte("after-restart-1")}, {Value: []byte("after-restart-2")}}
			for i, r := range next {
				produceSync(t, cl2, r)
				if r.Offset != wantEnd+int64(i) {
					t.Fatalf("produce after restart at offset %d, want %d", r.Offset, wantEnd+int64(i))
				}
			}
			all := append(slices.Clone(rs[:wantEnd]), next...)
			checkConsumed(t, all, consumeN(t, proc2.addr, allFrom(1, kgo.NewOffset().AtStart()), topic, len(all)))

			// And it all survives one more clean restart.
			proc2.stop()
			proc3 := startFerry(t, dataDir)
			checkConsumed(t, all, consumeN(t, proc3.addr, allFrom(1, kgo.NewOffset().AtStart()), topic, len(all)))
		})
	}
}

// TestRestartKeepsMetadata: topics, partition counts, configs and deletions
// survive a SIGKILL and a restart of the process.
func TestRestartKeepsMetadata(t *testing.T) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	adm := newAdmin(t, proc.addr)
	ctx := testCtx(t, 30*time.Second)
	createTopic(t, adm, "keep", 2, "retention.ms=7200000")
	createTopic(t, adm, "gone", 1)
	createTopic(t, adm, "grown", 1)
	if _, err := adm.CreatePartitions(ctx, 3, "grown"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: kadm.StringPtr("65536")}}, "keep"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, proc.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, cl, &kgo.Record{Topic: "grown", Partition: 3, Value: []byte("in-new-partition")})
	proc.kill()

	proc2 := startFerry(t, dataDir)
	adm2 := newAdmin(t, proc2.addr)
	tds, err := adm2.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if names := slices.Sorted(maps.Keys(tds)); !slices.Equal(names, []string{"grown", "keep"}) {
		t.Fatalf("topics after restart %v, want [grown keep]", names)
	}
	if n := len(tds["grown"].Partitions); n != 4 {
		t.Fatalf("grown has %d partitions after restart, want 4", n)
	}
	rcs, err := adm2.DescribeTopicConfigs(ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("keep", nil)
	want := map[string]string{"retention.ms": "7200000", "segment.bytes": "65536"}
	for _, c := range rc.Configs {
		if w, ok := want[c.Key]; ok {
			if c.MaybeValue() != w || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
				t.Fatalf("after restart %s = %q (source %v), want %q (dynamic topic config)", c.Key, c.MaybeValue(), c.Source, w)
			}
			delete(want, c.Key)
		}
	}
	if len(want) > 0 {
		t.Fatalf("configs missing after restart: %v", want)
	}
	got := consumeN(t, proc2.addr, map[int32]kgo.Offset{3: kgo.NewOffset().AtStart()}, "grown", 1)
	if string(got[0].Value) != "in-new-partition" || got[0].Offset != 0 {
		t.Fatalf("grown/3 after restart: %q at %d", got[0].Value, got[0].Offset)
	}
}
