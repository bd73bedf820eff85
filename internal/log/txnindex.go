package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ferry-mq/ferry/internal/vfs"
)

const txnIndexExt = ".txnindex"

// txnEntrySize is the size of one .txnindex entry (see doc.go).
const txnEntrySize = 28

// AbortedTxn is one aborted transaction of a partition: its producer, the
// offset of its first batch and the offset of its abort marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// TxnIndex is the aborted-transaction index of a partition: one
// <base>.txnindex file per segment that holds abort markers, whose entries
// are kept in memory too, in marker order. The partition's owner writes it
// (after appending the marker) and reads it for read_committed fetches; it
// lives beside the segments without being part of their lifecycle, so
// retention calls Prune.
type TxnIndex struct {
	dir string

	mu      sync.Mutex
	entries []txnEntry // ordered by LastOffset

	damaged []TxnIndexDamage // found by OpenTxnIndex; read-only after it
}

// TxnIndexDamage is a .txnindex file that held entries failing their CRC
// (or naming a first offset past their marker) when it was opened.
type TxnIndexDamage struct {
	File      string
	Base      int64   // the segment the file belongs to
	Positions []int64 // byte positions of the bad entries
}

type txnEntry struct {
	AbortedTxn
	base int64 // the file holding it
}

// OpenTxnIndex loads the index files in dir. Entries at or past end (the
// log end offset: markers lost in a crash) and a torn partial entry at the
// end of a file are cut off. An entry that fails its CRC is dropped, but not
// the valid entries after it, and is reported by Damaged: the transaction
// it described is aborted all the same, so the owner must rebuild the entry
// from the segments (every file changed here is rewritten atomically first,
// so a rebuilt entry is not lost behind a bad one).
func OpenTxnIndex(dir string, end int64) (*TxnIndex, error) {
	x := &TxnIndex{dir: dir}
	names, err := filepath.Glob(filepath.Join(dir, "*"+txnIndexExt))
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base, ok := parseBase(strings.TrimSuffix(filepath.Base(name), txnIndexExt))
		if !ok {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var keep []byte
		var bad []int64
		for pos := 0; pos+txnEntrySize <= len(b); pos += txnEntrySize {
			raw := b[pos : pos+txnEntrySize]
			e, ok := decodeTxnEntry(raw)
			if !ok {
				bad = append(bad, int64(pos))
				continue
			}
			if e.LastOffset >= end {
				continue
			}
			x.entries = append(x.entries, txnEntry{e, base})
			keep = append(keep, raw...)
		}
		if len(bad) > 0 {
			x.damaged = append(x.damaged, TxnIndexDamage{File: name, Base: base, Positions: bad})
		}
		if len(keep) == len(b) {
			continue
		}
		if len(keep) == 0 {
			err = os.Remove(name)
		} else {
			err = writeFileAtomic(vfs.Default, dir, filepath.Base(name), keep)
		}
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(x.entries, func(i, j int) bool { return x.entries[i].LastOffset < x.entries[j].LastOffset })
	return x, nil
}

// Damaged lists the files in which OpenTxnIndex found bad entries, in no
// particular order.
func (x *TxnIndex) Damaged() []TxnIndexDamage { return x.damaged }

func decodeTxnEntry(b []byte) (AbortedTxn, bool) {
	be := binary.BigEndian
	if crc32.Checksum(b[:24], castagnoli) != be.Uint32(b[24:]) {
		return AbortedTxn{}, false
	}
	e := AbortedTxn{int64(be.Uint64(b)), int64(be.Uint64(b[8:])), int64(be.Uint64(b[16:]))}
	return e, e.FirstOffset <= e.LastOffset
}

func encodeTxnEntry(e AbortedTxn) []byte {
	b := make([]byte, txnEntrySize)
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(e.ProducerID))
	be.PutUint64(b[8:], uint64(e.FirstOffset))
	be.PutUint64(b[16:], uint64(e.LastOffset))
	be.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

// Add records an aborted transaction in the file of segment base (the
// segment holding its marker) and fsyncs it.
func (x *TxnIndex) Add(base int64, e AbortedTxn) error {
	b := encodeTxnEntry(e)
	x.mu.Lock()
	defer x.mu.Unlock()
	f, err := os.OpenFile(segmentPath(x.dir, base, txnIndexExt), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("log: txn index: %w", err)
	}
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset > e.LastOffset })
	x.entries = append(x.entries, txnEntry{})
	copy(x.entries[i+1:], x.entries[i:])
	x.entries[i] = txnEntry{e, base}
	return nil
}

// Has reports whether the abort marker at lastOffset is indexed.
func (x *TxnIndex) Has(lastOffset int64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= lastOffset })
	return i < len(x.entries) && x.entries[i].LastOffset == lastOffset
}

// Aborted returns the aborted transactions that may have records in
// [from, to): marker at or after from, first batch before to.
func (x *TxnIndex) Aborted(from, to int64) []AbortedTxn {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []AbortedTxn
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= from })
	for _, e := range x.entries[i:] {
		if e.FirstOffset < to {
			out = append(out, e.AbortedTxn)
		}
	}
	return out
}

// Prune forgets transactions whose markers are below start (the log start
// offset after retention) and removes files left without entries.
func (x *TxnIndex) Prune(start int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= start })
	if i == 0 {
		return nil
	}
	live := map[int64]bool{}
	for _, e := range x.entries[i:] {
		live[e.base] = true
	}
	var errs []error
	for _, e := range x.entries[:i] {
		if !live[e.base] {
			live[e.base] = true // remove once
			if err := os.Remove(segmentPath(x.dir, e.base, txnIndexExt)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	x.entries = append([]txnEntry(nil), x.entries[i:]...)
	return errors.Join(errs...)
}

// TruncateTo forgets the aborted transactions whose markers are at or after
// end (Log.TruncateTo removed them), rewriting each file that held one
// atomically, or removing it when nothing is left in it.
func (x *TxnIndex) TruncateTo(end int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].LastOffset >= end })
	if i == len(x.entries) {
		return nil
	}
	files := map[int64][]byte{}
	for _, e := range x.entries[i:] {
		files[e.base] = nil
	}
	for _, e := range x.entries[:i] {
		if _, ok := files[e.base]; ok {
			files[e.base] = append(files[e.base], encodeTxnEntry(e.AbortedTxn)...)
		}
	}
	var errs []error
	for base, keep := range files {
		name := segmentPath(x.dir, base, txnIndexExt)
		var err error
		if len(keep) == 0 {
			if err = os.Remove(name); errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		} else {
			err = writeFileAtomic(vfs.Default, x.dir, filepath.Base(name), keep)
		}
		errs = append(errs, err)
	}
	x.entries = x.entries[:i:i]
	return errors.Join(errs...)
}

// SegmentBase returns the base offset of the segment holding offset.
func (l *Log) SegmentBase(offset int64) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := max(l.segmentFor(offset), 0)
	return l.segments[i].base
}

// Control record types, in a control batch's record key.
const (
	ControlAbort  = 0
	ControlCommit = 1
	// ControlNone is what ScanTail passes for a batch that is not a
	// control batch (or whose key it cannot read).
	ControlNone = -1
)

// ScanTail calls fn with the header of every batch of the last n segments,
// in order, reading headers only (and the record key of control batches).
// The partition's owner uses it at open to rebuild producer and
// transaction state; appends must not run meanwhile.
func (l *Log) ScanTail(n int, fn func(h BatchHeader, control int) error) error {
	l.mu.RLock()
	segs := append([]*segment(nil), l.segments[max(len(l.segments)-n, 0):]...)
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		sizes[i] = s.size
	}
	l.mu.RUnlock()
	for i, s := range segs {
		if err := scanSegment(s, sizes[i], fn); err != nil {
			return err
		}
	}
	return nil
}

// SegmentsFrom returns how many segments hold offsets at or after the start
// of the segment with base offset base: the n for ScanTail to cover it.
func (l *Log) SegmentsFrom(base int64) int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segments) - max(l.segmentFor(base), 0)
}

// ScanSegmentBefore is ScanTail for the single segment just before the last
// skip ones: ScanSegmentBefore(k, fn) after ScanTail(k, fn) continues
// backward, one segment at a time. It returns false (and calls fn for
// nothing) when the log has no such segment.
func (l *Log) ScanSegmentBefore(skip int, fn func(h BatchHeader, control int) error) (bool, error) {
	l.mu.RLock()
	i := len(l.segments) - 1 - skip
	if skip < 0 || i < 0 {
		l.mu.RUnlock()
		return false, nil
	}
	s := l.segments[i]
	size := s.size
	l.mu.RUnlock()
	return true, scanSegment(s, size, fn)
}

func scanSegment(s *segment, size int64, fn func(h BatchHeader, control int) error) error {
	var buf [batchHeaderSize]byte
	for pos := int64(0); pos < size; {
		if d, ok := damagedFrom(s.damaged, pos); ok {
			pos = d.Position + d.Length // quarantined bytes: no batches there
			continue
		}
		h, err := readHeader(s.file, pos, size, &buf)
		if err != nil {
			return err
		}
		control := ControlNone
		if h.Attributes&0x20 != 0 {
			control = readControlType(s.file, pos, h)
		}
		if err := fn(h, control); err != nil {
			return err
		}
		pos += h.Size()
	}
	return nil
}

// readControlType reads the type from the key of a control batch's first
// record: length, attributes, timestamp delta and offset delta varints,
// the key length varint, then key = version int16, type int16.
func readControlType(f vfs.File, pos int64, h BatchHeader) int {
	n := min(h.Size()-batchHeaderSize, 64)
	if n <= 0 || h.Attributes&0x07 != 0 {
		return ControlNone
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, pos+batchHeaderSize); err != nil && !errors.Is(err, io.EOF) {
		return ControlNone
	}
	return controlTypeOf(b)
}

// controlTypeOf decodes the control type from the records of a control
// batch (the bytes after its header).
func controlTypeOf(b []byte) int {
	if _, k := binary.Varint(b); k > 0 { // record length
		b = b[k:]
	} else {
		return ControlNone
	}
	if len(b) < 1 {
		return ControlNone
	}
	b = b[1:] // attributes
	var keyLen int64
	for range 3 { // timestamp delta, offset delta, key length
		v, k := binary.Varint(b)
		if k <= 0 {
			return ControlNone
		}
		b, keyLen = b[k:], v
	}
	if keyLen == 4 && len(b) >= 4 {
		return int(int16(binary.BigEndian.Uint16(b[2:4])))
	}
	return ControlNone
}
