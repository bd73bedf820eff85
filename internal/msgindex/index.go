package msgindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Options size the index files.
type Options struct {
	Slots    uint32 // hash slots per file (default 1<<15: 128 KiB in memory while written)
	Capacity uint32 // entries per file (default 1<<18: 7 MiB on disk)
}

func (o Options) withDefaults() Options {
	if o.Slots == 0 {
		o.Slots = 1 << 15
	}
	if o.Capacity == 0 {
		o.Capacity = 1 << 18
	}
	o.Capacity = max(o.Capacity, MaxKeysPerRecord)
	return o
}

// MaxKeysPerRecord bounds the entries one record adds; more keys are not
// indexed (RocketMQ clients send a few).
const MaxKeysPerRecord = 32

// Hit is a candidate: a record that may carry the key looked up.
type Hit struct {
	Offset    int64
	Timestamp int64 // ms
}

// sealed is a full file, read on lookups only.
type sealed struct {
	path string
	h    header
}

// Index is one partition's key index. It is safe for one writer (the
// tailer) and concurrent lookups.
type Index struct {
	dir  string
	opts Options

	mu     sync.Mutex
	sealed []sealed // by base, ascending
	act    *activeFile
	next   int64 // when act is nil
	// progress is closed when Next moves (then replaced on demand).
	progress chan struct{}
}

// progressed returns a channel closed when Next next moves.
func (x *Index) progressed() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.progress == nil {
		x.progress = make(chan struct{})
	}
	return x.progress
}

// signalLocked wakes those waiting on progressed. REQUIRES: mu.
func (x *Index) signalLocked() {
	if x.progress != nil {
		close(x.progress)
		x.progress = nil
	}
}

// activeFile is the file being written; its slots live in memory.
type activeFile struct {
	f       *os.File
	path    string
	h       header
	slots   []uint32
	written uint32 // entries on disk; entries [written, h.count) are in pending
	pending []byte
	dirty   bool // slots or header changed since the last flush
}

func fileName(base int64) string { return fmt.Sprintf("%020d.idx", base) }

// Open opens (or creates) the index in dir, recovering from a crash: see
// doc.go. Next says where indexing resumes.
func Open(dir string, opts Options) (*Index, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	x := &Index{dir: dir, opts: opts.withDefaults()}
	names, err := filepath.Glob(filepath.Join(dir, "*.idx"))
	if err != nil {
		return nil, err
	}
	type named struct {
		path string
		base int64
	}
	var files []named
	for _, p := range names {
		base, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(p), ".idx"), 10, 64)
		if err != nil || base < 0 {
			continue // not ours
		}
		files = append(files, named{p, base})
	}
	slices.SortFunc(files, func(a, b named) int { return int(min(max(a.base-b.base, -1), 1)) })
	for i, nf := range files {
		h, herr := readHeader(nf.path)
		last := i == len(files)-1
		if herr == nil && h.base != nf.base {
			herr = fmt.Errorf("%w: header base %d in file for %d", ErrCorrupt, h.base, nf.base)
		}
		if herr == nil && !last && h.flags&flagClean == 0 {
			herr = fmt.Errorf("%w: older file was not sealed", ErrCorrupt)
		}
		if herr == nil && last {
			x.act, herr = openActive(nf.path, h)
		}
		if herr != nil {
			// Drop it and every newer file: indexed again from its base.
			for _, later := range files[i:] {
				if err := os.Remove(later.path); err != nil {
					return nil, err
				}
			}
			x.next = nf.base
			break
		}
		if !last {
			x.sealed = append(x.sealed, sealed{nf.path, h})
			x.next = h.next
		}
	}
	return x, nil
}

func readHeader(path string) (header, error) {
	f, err := os.Open(path)
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return header{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	h, err := decodeHeader(b)
	if err != nil {
		return h, err
	}
	if st, err := f.Stat(); err != nil || st.Size() != h.size() {
		return h, fmt.Errorf("%w: file size", ErrCorrupt)
	}
	return h, nil
}

// openActive reopens the newest file for writing; a slot past the header's
// count (written after the last header of a crashed run) makes it corrupt.
func openActive(path string, h header) (*activeFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 4*int(h.slots))
	if _, err := f.ReadAt(raw, headerSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: slots: %v", ErrCorrupt, err)
	}
	a := &activeFile{f: f, path: path, h: h, slots: make([]uint32, h.slots), written: h.count}
	for i := range a.slots {
		a.slots[i] = binary.BigEndian.Uint32(raw[4*i:])
		if a.slots[i] > h.count {
			f.Close()
			return nil, fmt.Errorf("%w: slot past the entry count", ErrCorrupt)
		}
	}
	a.h.flags &^= flagClean
	a.dirty = true
	return a, nil
}

func (x *Index) createActive(base int64) error {
	path := filepath.Join(x.dir, fileName(base))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	h := header{slots: x.opts.Slots, cap: x.opts.Capacity, base: base, next: base, minTs: math.MaxInt64, maxTs: math.MinInt64}
	if err := f.Truncate(h.size()); err != nil { // sparse: disk grows with entries
		f.Close()
		return err
	}
	x.act = &activeFile{f: f, path: path, h: h, slots: make([]uint32, h.slots), dirty: true}
	return nil
}

// Next is the offset indexing resumes at: every record below it is indexed.
func (x *Index) Next() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.nextLocked()
}

func (x *Index) nextLocked() int64 {
	if x.act != nil {
		return x.act.h.next
	}
	return x.next
}

// Add indexes the record at offset under each key. Records must come in
// offset order; one below Next is ignored (already indexed).
func (x *Index) Add(offset, timestamp int64, keys []string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if offset < x.nextLocked() {
		return nil
	}
	if len(keys) > MaxKeysPerRecord {
		keys = keys[:MaxKeysPerRecord]
	}
	// A record's entries stay in one file, so a file's next is exact.
	if x.act == nil || x.act.h.count+uint32(len(keys)) > x.act.h.cap {
		if err := x.rollLocked(offset); err != nil {
			return err
		}
	}
	a := x.act
	for _, k := range keys {
		if k == "" {
			continue
		}
		hash := hashKey(k)
		s := uint32(hash % uint64(a.h.slots))
		e := entry{hash: hash, offset: offset, timestamp: timestamp, prev: a.slots[s]}
		a.pending = e.appendTo(a.pending)
		a.h.count++
		a.slots[s] = a.h.count
		a.h.minTs, a.h.maxTs = min(a.h.minTs, timestamp), max(a.h.maxTs, timestamp)
		a.dirty = true
	}
	x.advanceLocked(offset + 1)
	return nil
}

// Advance records that every record below next has been indexed (records
// without keys add no entries but move the resume point).
func (x *Index) Advance(next int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.advanceLocked(next)
}

func (x *Index) advanceLocked(next int64) {
	if next <= x.nextLocked() {
		return
	}
	if x.act == nil {
		x.next = next
	} else {
		x.act.h.next = next
		x.act.dirty = true
	}
	x.signalLocked()
}

// rollLocked seals the active file and starts one at base. REQUIRES: mu.
func (x *Index) rollLocked(base int64) error {
	if x.act != nil {
		a := x.act
		a.h.flags |= flagClean
		if err := x.flushLocked(); err != nil {
			return err
		}
		if err := a.f.Sync(); err != nil {
			return err
		}
		if err := a.f.Close(); err != nil {
			return err
		}
		x.sealed = append(x.sealed, sealed{a.path, a.h})
		x.act = nil
	}
	return x.createActive(base)
}

// Flush writes what Add and Advance changed (no fsync: see doc.go).
func (x *Index) Flush() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.flushLocked()
}

func (x *Index) flushLocked() error {
	a := x.act
	if a == nil || !a.dirty {
		return nil
	}
	if len(a.pending) > 0 {
		at := headerSize + 4*int64(a.h.slots) + entrySize*int64(a.written)
		if _, err := a.f.WriteAt(a.pending, at); err != nil {
			return err
		}
		a.written += uint32(len(a.pending) / entrySize)
		a.pending = a.pending[:0]
	}
	raw := make([]byte, 4*len(a.slots))
	for i, v := range a.slots {
		binary.BigEndian.PutUint32(raw[4*i:], v)
	}
	if _, err := a.f.WriteAt(raw, headerSize); err != nil {
		return err
	}
	if _, err := a.f.WriteAt(a.h.encode(), 0); err != nil {
		return err
	}
	a.dirty = false
	return nil
}

// Close flushes, fsyncs and marks the active file clean.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	a := x.act
	if a == nil {
		return nil
	}
	a.h.flags |= flagClean
	a.dirty = true
	err := x.flushLocked()
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	x.next = a.h.next
	x.act = nil
	return err
}

// Prune deletes the sealed files that only index offsets below start.
func (x *Index) Prune(start int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	for len(x.sealed) > 0 && x.sealed[0].h.next <= start {
		if err := os.Remove(x.sealed[0].path); err != nil {
			return err
		}
		x.sealed = x.sealed[1:]
	}
	return nil
}

// Reset deletes every file: the log was truncated below what was indexed,
// or replaced; indexing starts again at from.
func (x *Index) Reset(from int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.act != nil {
		x.act.f.Close()
		if err := os.Remove(x.act.path); err != nil {
			return err
		}
		x.act = nil
	}
	for _, s := range x.sealed {
		if err := os.Remove(s.path); err != nil {
			return err
		}
	}
	x.sealed = nil
	x.next = from
	x.signalLocked()
	return nil
}

// Lookup returns up to limit candidates for key with a timestamp in
// [fromMs, toMs], newest first.
func (x *Index) Lookup(key string, fromMs, toMs int64, limit int) ([]Hit, error) {
	hash := hashKey(key)
	var hits []Hit
	take := func(e entry) bool {
		if e.timestamp >= fromMs && e.timestamp <= toMs {
			hits = append(hits, Hit{Offset: e.offset, Timestamp: e.timestamp})
		}
		return len(hits) < limit
	}
	x.mu.Lock()
	if a := x.act; a != nil && a.h.count > 0 && overlaps(a.h, fromMs, toMs) {
		if err := x.walkActiveLocked(hash, take); err != nil {
			x.mu.Unlock()
			return hits, err
		}
	}
	files := slices.Clone(x.sealed)
	x.mu.Unlock()
	for i := len(files) - 1; i >= 0 && len(hits) < limit; i-- {
		s := files[i]
		if !overlaps(s.h, fromMs, toMs) {
			continue
		}
		if err := walkSealed(s, hash, take); err != nil {
			return hits, fmt.Errorf("msgindex: %s: %w", s.path, err)
		}
	}
	return hits, nil
}

func overlaps(h header, fromMs, toMs int64) bool { return h.maxTs >= fromMs && h.minTs <= toMs }

func (x *Index) walkActiveLocked(hash uint64, fn func(entry) bool) error {
	a := x.act
	for n := a.slots[hash%uint64(a.h.slots)]; n != 0; {
		var e entry
		if n > a.written {
			i := int(n-1-a.written) * entrySize
			e = decodeEntry(a.pending[i : i+entrySize])
		} else {
			var err error
			if e, err = readEntry(a.f, a.h, n-1); err != nil {
				return err
			}
		}
		if e.hash == hash && !fn(e) {
			return nil
		}
		if e.prev >= n {
			return fmt.Errorf("%w: chain does not go back", ErrCorrupt)
		}
		n = e.prev
	}
	return nil
}

func walkSealed(s sealed, hash uint64, fn func(entry) bool) error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // pruned since the lookup listed it
	}
	if err != nil {
		return err
	}
	defer f.Close()
	v, err := readSlot(f, uint32(hash%uint64(s.h.slots)))
	if err != nil {
		return err
	}
	return walk(f, s.h, hash, v, fn)
}
