package chaos

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/test/cluster"
)

var (
	durationFlag = flag.Duration("chaos.duration", 0, "how long the nemesis runs (default $FERRY_CHAOS_DURATION, else 60s; 20s with -short)")
	seedFlag     = flag.Uint64("chaos.seed", 0, "seed of the nemesis's random choices (default: from the clock; the log prints it)")
)

// Generous bounds for the phases after the faults stop: a loaded
// two-core machine may be slow, and none of them is a measurement.
const (
	settleWait = 3 * time.Minute
	partitions = 6
	nodes      = 3
)

// topicConfigs: small segments, so a run rolls segments and recovery
// after a kill spans several of them.
var topicConfigs = map[string]*string{"segment.bytes": kadm.StringPtr("262144")}

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.RemoveBinary()
	os.Exit(code)
}

func chaosDuration(t *testing.T) time.Duration {
	if *durationFlag > 0 {
		return *durationFlag
	}
	if s := os.Getenv("FERRY_CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("FERRY_CHAOS_DURATION=%q: want a positive duration such as 30m", s)
		}
		return d
	}
	if testing.Short() {
		return 20 * time.Second
	}
	return 60 * time.Second
}

// TestChaos runs producers and consumers against a three-node cluster
// while a nemesis kills, restarts, pauses and resumes nodes, then checks
// the recorded history (see doc.go and Check).
func TestChaos(t *testing.T) {
	duration := chaosDuration(t)
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: %v of faults, seed %d (-chaos.seed %d repeats the nemesis's choices)", duration, seed, seed)

	c := cluster.Start(t, cluster.Options{Nodes: nodes})
	bootstrap := c.Bootstrap()
	topic := "chaos-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	admCl, err := kgo.NewClient(clientOpts(bootstrap)...)
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	rf := createTopic(t, adm, topic)
	setupCtx, cancelSetup := context.WithTimeout(context.Background(), settleWait)
	defer cancelSetup()
	if _, err := endOffsets(setupCtx, adm, topic, partitions); err != nil {
		t.Fatalf("topic %s never served every partition: %v", topic, err)
	}

	// The workload. Producers stop when the faults stop; consumers and
	// the watcher once they have read everything.
	rec := &recorder{}
	prog := &progress{}
	var wg sync.WaitGroup
	errc := make(chan error, producers+consumers+1)
	produceCtx, stopProducing := context.WithCancel(context.Background())
	readCtx, stopReading := context.WithCancel(context.Background())
	flushCtx, abort := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	// A test that ends early stops its goroutines before it returns
	// (they log through t); on the normal path they are done already.
	defer func() {
		abort()
		stopProducing()
		stopReading()
		wg.Wait()
		readers.Wait()
	}()
	for id := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- produce(produceCtx, flushCtx, t, id, bootstrap, topic, rec, settleWait)
		}()
	}
	for id := range consumers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			errc <- consume(readCtx, id, bootstrap, topic, partitions, rec, prog)
		}()
	}
	readers.Add(1)
	go func() { defer readers.Done(); errc <- watch(readCtx, bootstrap, topic, rec) }()

	nem := &nemesis{c: c, rng: rand.New(rand.NewPCG(seed, seed>>1)), log: t.Logf}
	faultCtx, stopFaults := context.WithTimeout(context.Background(), duration)
	defer stopFaults()
	nem.run(faultCtx) // returns with every fault healed

	// Heal: every node up, whatever the nemesis managed. A node that
	// exited on its own is a failure (a broker crash), restarted anyway.
	if err := c.Died(); err != nil {
		t.Errorf("%v", err)
	}
	for i := range c.Len() {
		if !c.Node(i).Running() {
			if err := c.Restart(i); err != nil {
				t.Errorf("heal: %v", err)
			}
		}
	}
	stopProducing()
	wg.Wait()
	t.Logf("chaos: producers done; settling")

	settleCtx, cancelSettle := context.WithTimeout(context.Background(), settleWait)
	defer cancelSettle()
	ends, err := endOffsets(settleCtx, adm, topic, partitions)
	if err != nil {
		t.Fatalf("the cluster did not settle within %v: %v", settleWait, err)
	}
	for !prog.caughtUp(ends) && settleCtx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
	}
	if settleCtx.Err() != nil {
		t.Logf("chaos: consumers did not catch up with %v within %v (checked anyway)", ends, settleWait)
	}
	stopReading()
	readers.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("workload: %v", err)
		}
	}
	h := rec.history()
	finalCtx, cancelFinal := context.WithTimeout(context.Background(), settleWait)
	defer cancelFinal()
	if h.Final, err = readFinal(finalCtx, bootstrap, topic, ends); err != nil {
		t.Fatal(err)
	}

	// Nodes that died on their own are a failure; then read every copy
	// of every partition offline.
	if err := c.Died(); err != nil {
		t.Errorf("%v", err)
	}
	if err := c.ShutdownAll(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	dirs := map[int32]string{}
	for i := range c.Len() {
		dirs[c.Node(i).ID] = c.Node(i).DataDir
	}
	if h.Replicas, err = ReadReplicas(dirs, topic); err != nil {
		t.Errorf("offline read of the replicas: %v", err)
	}

	report := Check(h)
	events, faults, nemErrs := nem.report()
	t.Logf("chaos: replication factor %d, %d partitions, faults %v, %d failed produces, %d undecodable values read\n%s",
		rf, partitions, faults, rec.produceErrs.Load(), rec.badValues.Load(), report.Summary(20))
	for _, err := range nemErrs {
		t.Errorf("nemesis: %v", err)
	}
	if report.Acked == 0 {
		t.Errorf("no record was acknowledged: the workload did not run")
	}
	if !report.OK() {
		saveHistory(t, c.Dir, h)
		t.Errorf("chaos: %d violations (nemesis events: %v)", len(report.Violations), events)
	}
}

// createTopic creates the chaos topic with replication factor 3 if the
// cluster accepts it, else 1 (a cluster without replication refuses RF>1
// with INVALID_REPLICATION_FACTOR), and returns the factor used.
func createTopic(t *testing.T, adm *kadm.Client, topic string) int16 {
	t.Helper()
	rf := int16(nodes)
	deadline := time.Now().Add(settleWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		resp, err := adm.CreateTopic(ctx, partitions, rf, topicConfigs, topic)
		cancel()
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			t.Logf("chaos: topic %s: %d partitions, replication factor %d", topic, partitions, rf)
			return rf
		case errors.Is(err, kerr.InvalidReplicationFactor) && rf > 1:
			t.Logf("chaos: replication factor %d refused (%v): this cluster does not replicate; using 1, so the replica comparison has one copy per partition", rf, err)
			rf = 1
			continue
		case errors.Is(err, kerr.TopicAlreadyExists):
			return rf // an earlier attempt committed although its answer was lost
		case time.Now().After(deadline):
			t.Fatalf("create topic %s: %v", topic, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// saveHistory writes the history, gzipped JSON, next to the kept logs for
// a closer look.
func saveHistory(t *testing.T, dir string, h History) {
	path := filepath.Join(dir, "history.json.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Logf("saving the history: %v", err)
		return
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	err = json.NewEncoder(zw).Encode(h)
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Logf("saving the history: %v", err)
		return
	}
	t.Logf("chaos: history saved in %s", path)
}
