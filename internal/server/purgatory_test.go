package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
)

// holdSyncFS holds every fsync of segment files (.log) whose path holds
// match until release is closed.
type holdSyncFS struct {
	vfs.FS
	match   string
	release chan struct{}
}

type holdSyncFile struct {
	vfs.File
	release chan struct{}
}

func (f holdSyncFile) Sync() error {
	<-f.release
	return f.File.Sync()
}

func (h holdSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := h.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.Contains(name, h.match) || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return holdSyncFile{File: f, release: h.release}, nil
}

// gauge scrapes /metrics and returns the value of an unlabelled gauge.
func gauge(t *testing.T, httpAddr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fam, ok := fams[name]
	if !ok || len(fam.GetMetric()) != 1 {
		t.Fatalf("%s missing from /metrics", name)
	}
	return fam.GetMetric()[0].GetGauge().GetValue()
}

// waitGauge scrapes until name has value want, failing after 20s.
func waitGauge(t *testing.T, httpAddr, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := gauge(t, httpAddr, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPurgatoryGauges: a Fetch parked for data counts in
// ferry_fetch_purgatory_requests until an append wakes it, and a Produce
// waiting for its fsync counts in ferry_produce_purgatory_requests until
// the fsync is done.
func TestPurgatoryGauges(t *testing.T) {
	release := make(chan struct{})
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TopicDefaults["flush.policy"] = "always"
	cfg.LogFS = holdSyncFS{FS: vfs.Default, match: "held-", release: release}
	s, err := Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	create := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"waits", "held-sync"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		create.Topics = append(create.Topics, rt)
	}
	if _, err := create.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version = 12
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = 30000
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "waits"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fetched := make(chan error, 1)
	go func() { _, err := fetch.RequestWith(ctx, cl); fetched <- err }()
	waitGauge(t, s.HTTPAddr(), "ferry_fetch_purgatory_requests", 1)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "waits", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := <-fetched; err != nil {
		t.Fatal(err)
	}
	waitGauge(t, s.HTTPAddr(), "ferry_fetch_purgatory_requests", 0)

	produced := make(chan error, 1)
	go func() {
		produced <- cl.ProduceSync(ctx, &kgo.Record{Topic: "held-sync", Value: []byte("v")}).FirstErr()
	}()
	waitGauge(t, s.HTTPAddr(), "ferry_produce_purgatory_requests", 1)
	close(release)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitGauge(t, s.HTTPAddr(), "ferry_produce_purgatory_requests", 0)
}
