package msgindex

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// PartitionRef names a local partition and its log.
type PartitionRef struct {
	Topic   string
	Index   int32
	TopicID [16]byte // a recreated topic gets a new id: its index starts over
	Source  Source
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Dir        string // one subdirectory per partition
	Logger     *slog.Logger
	Partitions func() []PartitionRef // the partitions to index, read at each rescan
	Decode     DecodeFunc
	Rescan     time.Duration // how often the partition list is read (default 2s)
	Index      Options
}

// Manager runs one tailer per local partition and answers lookups.
type Manager struct {
	opts ManagerOptions
	lg   *slog.Logger

	mu      sync.Mutex
	running map[partKey]*indexed

	stop chan struct{}
	done chan struct{}
}

type partKey struct {
	topic string
	index int32
}

type indexed struct {
	ref PartitionRef
	x   *Index
	t   *tailer
}

// NewManager returns a manager; Start begins indexing.
func NewManager(opts ManagerOptions) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 2 * time.Second
	}
	return &Manager{opts: opts, lg: opts.Logger, running: map[partKey]*indexed{}}
}

// Start rescans now and then every Rescan until Close.
func (m *Manager) Start() {
	m.Rescan()
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.opts.Rescan)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.Rescan()
			}
		}
	}()
}

// Close stops every tailer and closes the indexes.
func (m *Manager) Close() {
	if m.stop != nil {
		close(m.stop)
		<-m.done
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, ix := range m.running {
		m.stopLocked(ix, false)
		delete(m.running, k)
	}
}

// Rescan starts tailers for new partitions and stops those of partitions
// gone from this node (deleting their index).
func (m *Manager) Rescan() {
	refs := m.opts.Partitions()
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[partKey]bool{}
	for _, ref := range refs {
		k := partKey{ref.Topic, ref.Index}
		seen[k] = true
		if ix, ok := m.running[k]; ok {
			if ix.ref.Source == ref.Source && ix.ref.TopicID == ref.TopicID {
				continue
			}
			m.stopLocked(ix, ix.ref.TopicID != ref.TopicID)
			delete(m.running, k)
		}
		ix, err := m.open(ref)
		if err != nil {
			m.lg.Error("cannot open the message index", "topic", ref.Topic, "partition", ref.Index, "err", err)
			continue
		}
		m.running[k] = ix
	}
	for k, ix := range m.running {
		if !seen[k] {
			m.stopLocked(ix, true)
			delete(m.running, k)
		}
	}
}

func (m *Manager) dir(topic string, index int32) string {
	return filepath.Join(m.opts.Dir, topic+"-"+strconv.Itoa(int(index)))
}

const topicIDFile = "topic-id"

func (m *Manager) open(ref PartitionRef) (*indexed, error) {
	dir := m.dir(ref.Topic, ref.Index)
	id := hex.EncodeToString(ref.TopicID[:])
	if old, err := os.ReadFile(filepath.Join(dir, topicIDFile)); err != nil || string(old) != id {
		// Another incarnation of the topic, or a new index.
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, topicIDFile), []byte(id), 0o644); err != nil {
			return nil, err
		}
	}
	x, err := Open(dir, m.opts.Index)
	if err != nil {
		return nil, err
	}
	t := &tailer{src: ref.Source, x: x, decode: m.opts.Decode,
		lg: m.lg.With("topic", ref.Topic, "partition", ref.Index), stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return &indexed{ref: ref, x: x, t: t}, nil
}

// stopLocked stops a tailer and closes (or deletes) its index. REQUIRES: mu.
func (m *Manager) stopLocked(ix *indexed, remove bool) {
	close(ix.t.stop)
	<-ix.t.done
	if err := ix.x.Close(); err != nil {
		m.lg.Error("cannot close the message index", "topic", ix.ref.Topic, "partition", ix.ref.Index, "err", err)
	}
	if remove {
		if err := os.RemoveAll(m.dir(ix.ref.Topic, ix.ref.Index)); err != nil {
			m.lg.Error("cannot delete the message index", "topic", ix.ref.Topic, "partition", ix.ref.Index, "err", err)
		}
	}
}

// Found is a record that carries the key looked up.
type Found struct {
	Topic     string
	Partition int32
	Record    Record
}

// Query says what Find looks for.
type Query struct {
	Key            string
	Topics         func(topic string) bool // which topics; nil = all
	FromMs, ToMs   int64                   // record timestamps, inclusive; ToMs 0 = no bound
	Limit          int                     // at most this many (0 = 64)
	WaitIndexedFor time.Duration           // wait this long for the index to reach the log's end first
}

// Find returns the records carrying q.Key, ordered by topic, partition and
// offset. Each candidate from the index is read back and checked. It
// rescans the partitions first.
func (m *Manager) Find(q Query) ([]Found, error) {
	if q.Limit <= 0 {
		q.Limit = 64
	}
	if q.ToMs == 0 {
		q.ToMs = 1<<63 - 1
	}
	m.Rescan() // a topic created since the last rescan is searched too
	m.mu.Lock()
	var parts []*indexed
	for _, ix := range m.running {
		if q.Topics == nil || q.Topics(ix.ref.Topic) {
			parts = append(parts, ix)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(parts, func(a, b *indexed) int {
		return cmp.Or(cmp.Compare(a.ref.Topic, b.ref.Topic), cmp.Compare(a.ref.Index, b.ref.Index))
	})
	deadline := time.Now().Add(q.WaitIndexedFor)
	var out []Found
	var errs []error
	for _, ix := range parts {
		waitIndexed(ix, ix.ref.Source.HighWatermark(), deadline)
		hits, err := ix.x.Lookup(q.Key, q.FromMs, q.ToMs, q.Limit)
		if err != nil {
			errs = append(errs, err)
		}
		var found []Found
		for _, h := range hits {
			r, ok, err := readRecord(ix.ref.Source, m.opts.Decode, h.Offset)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s-%d at %d: %w", ix.ref.Topic, ix.ref.Index, h.Offset, err))
				continue
			}
			if ok && HasKey(r, q.Key) {
				found = append(found, Found{Topic: ix.ref.Topic, Partition: ix.ref.Index, Record: r})
			}
		}
		slices.SortFunc(found, func(a, b Found) int { return cmp.Compare(a.Record.Offset, b.Record.Offset) })
		out = append(out, found...)
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, errors.Join(errs...)
}

// waitIndexed waits until ix has indexed below target or deadline passes.
func waitIndexed(ix *indexed, target int64, deadline time.Time) {
	for ix.x.Next() < target && time.Now().Before(deadline) {
		select {
		case <-ix.t.done:
			return
		case <-ix.x.progressed():
		case <-time.After(time.Until(deadline)):
			return
		}
	}
}

// readRecord reads the record at offset; ok is false when the log no longer
// holds it.
func readRecord(src Source, decode DecodeFunc, offset int64) (Record, bool, error) {
	if offset < src.StartOffset() || offset >= src.HighWatermark() {
		return Record{}, false, nil
	}
	data, err := src.Read(offset, 1)
	if err != nil {
		return Record{}, false, err
	}
	var found Record
	var ok bool
	err = decode(data, func(r Record) error {
		if r.Offset == offset {
			found, ok = r.clone(), true
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Record{}, false, err
	}
	return found, ok, nil
}
