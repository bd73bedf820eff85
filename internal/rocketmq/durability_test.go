package rocketmq_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
)

// holdSyncFS holds every fsync of segment files of topics named with
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

// TestSendWaitsForFsync: under flush.policy=always a send is answered only
// once its record is fsynced: with the fsync held, the record is in the
// log and the producer still has no answer; released, the answer comes.
func TestSendWaitsForFsync(t *testing.T) {
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	s := startNode(t, func(c *config.Config) {
		c.TopicDefaults["flush.policy"] = "always"
		c.LogFS = holdSyncFS{FS: vfs.Default, match: "held-", release: release}
	})
	p := newProducer(t, s, "pg-durable")
	answered := make(chan error, 1)
	err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) { answered <- err },
		primitive.NewMessage("held-sync", []byte("must be durable first")))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the record in the log", func() bool {
		part, err := s.Broker.Partition("held-sync", 0)
		return err == nil && part.Log().EndOffset() == 1
	})
	select {
	case err := <-answered:
		t.Fatalf("send answered (err %v) before its fsync", err)
	default:
	}
	close(release)
	released = true
	if err := <-answered; err != nil {
		t.Fatalf("send after the fsync: %v", err)
	}
}

// TestSendWaitFalse: a message with WAIT=false is answered without waiting
// for its fsync, and is made durable all the same.
func TestSendWaitFalse(t *testing.T) {
	release := make(chan struct{})
	s := startNode(t, func(c *config.Config) {
		c.TopicDefaults["flush.policy"] = "always"
		c.LogFS = holdSyncFS{FS: vfs.Default, match: "held-", release: release}
	})
	p := newProducer(t, s, "pg-nowait")
	msg := primitive.NewMessage("held-nowait", []byte("fire and forget"))
	msg.WithProperty("WAIT", "false")
	if _, err := p.SendSync(context.Background(), msg); err != nil { // the fsync is still held
		t.Fatal(err)
	}
	part, err := s.Broker.Partition("held-nowait", 0)
	if err != nil {
		t.Fatal(err)
	}
	if hw := part.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before the fsync", hw)
	}
	close(release)
	eventually(t, "the record durable", func() bool { return part.HighWatermark() == 1 })
}
