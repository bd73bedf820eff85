package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/ferry-mq/ferry/internal/meta"
)

// fsm applies committed entries to the image. Each command entry is a JSON
// array of meta.Record, applied whole or not at all; a rejected entry
// changes nothing on any node and its error is what Apply returns to the
// proposer.
type fsm struct {
	pub     meta.Publisher
	applied atomic.Uint64 // index of the last entry applied (or rejected)
	log     *slog.Logger
}

// rejection is an entry the image refused: the proposal was built on a
// stale image, or it conflicts with an entry committed before it.
type rejection struct{ err error }

func (r rejection) Error() string { return r.err.Error() }

func newFSM(node int32, logger *slog.Logger) *fsm {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &fsm{log: logger}
	f.pub.Store(meta.NewImage(node))
	return f
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	cur := f.pub.Load()
	var recs []meta.Record
	var err error
	next := cur
	if err = json.Unmarshal(l.Data, &recs); err == nil {
		next, err = cur.Apply(recs)
	}
	f.applied.Store(l.Index)
	if err != nil {
		f.log.Debug("metadata entry rejected", "index", l.Index, "err", err)
		f.pub.Store(cur) // wakes whoever waits for this index
		return rejection{err}
	}
	f.pub.Store(next)
	return nil
}

// snapshotJSON is a snapshot's content.
type snapshotJSON struct {
	Index uint64          `json:"index"` // last entry applied to Image
	Image json.RawMessage `json:"image"`
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	// Raft calls Snapshot between Apply calls, so the two agree.
	return &fsmSnapshot{img: f.pub.Load(), index: f.applied.Load()}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var s snapshotJSON
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("read metadata snapshot: %w", err)
	}
	img, err := meta.DecodeImage(s.Image, f.pub.Load().DefaultNode())
	if err != nil {
		return err
	}
	f.applied.Store(s.Index)
	f.pub.Store(img)
	return nil
}

type fsmSnapshot struct {
	img   *meta.Image
	index uint64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	img, err := meta.EncodeImage(s.img)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(snapshotJSON{Index: s.index, Image: img}); err == nil {
			_, err = sink.Write(b)
		}
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
