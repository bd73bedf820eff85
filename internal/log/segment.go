package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

const (
	logExt       = ".log"
	indexExt     = ".index"
	timeIndexExt = ".timeindex"
)

// preallocChunk is how far ahead of the write position the active segment's
// file is extended with fallocate (never past SegmentBytes). See
// "Preallocation" in doc.go. 1 MiB keeps what every partition reserves ahead
// of its data small while the file-size update is paid once per MiB written.
// A variable for tests.
var preallocChunk int64 = 1 << 20

// fallocateFunc is fallocate, replaceable by tests to simulate a file system
// without it.
var fallocateFunc = fallocate

// closeDelay is how long a deleted segment's file stays open, so that a reader that
// took a Slice just before retention removed the segment can still send it.
var closeDelay = time.Minute

// segment is one .log file with its two sparse indexes. The .log file is opened
// once and stays open (readers use ReadAt/sendfile on it); the index files are kept
// open only while the segment is active, since the entries live in memory too.
type segment struct {
	base int64
	dir  string
	fs   vfs.FS
	file vfs.File

	// Written by the appender holding Log.appendMu and Log.mu; read under either.
	size            int64 // bytes of whole batches in the file: the data end, never the file size
	next            int64 // offset after the last batch; base when empty
	maxTs           int64 // largest batch MaxTimestamp; -1 when unknown
	maxTsOffset     int64 // base offset of the batch holding maxTs
	index           []indexEntry
	times           []timeEntry
	bytesSinceIndex int64
	rollBase        time.Time // SegmentAge is measured from here

	// Ranges of this file quarantined by recovery, by position; set in Open
	// and never changed (see damaged.go).
	damaged []DamagedRange

	// The file's size: size, or more while the active segment is preallocated
	// (see Log.preallocate). REQUIRES: Log.appendMu held.
	alloc int64

	// Active segment only; REQUIRES: Log.appendMu held.
	indexFile, timeFile       vfs.File
	indexWritten, timeWritten int  // entries already in the files
	indexBroken               bool // a write to an index file failed
}

func segmentPath(dir string, base int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, ext))
}

func (s *segment) path(ext string) string { return segmentPath(s.dir, s.base, ext) }

// createSegment makes a new, empty active segment.
func createSegment(fs vfs.FS, dir string, base int64, now time.Time) (*segment, error) {
	f, err := fs.OpenFile(segmentPath(dir, base, logExt), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s := &segment{base: base, dir: dir, fs: fs, file: f, next: base, maxTs: -1, maxTsOffset: -1, rollBase: now}
	if err := s.openIndexFiles(true); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// openSegment opens an existing .log file; the caller loads or rebuilds its state
// (loadSegment or scanSegment set size, the data end). alloc is the file size.
func openSegment(fs vfs.FS, dir string, base int64) (*segment, error) {
	f, err := fs.OpenFile(segmentPath(dir, base, logExt), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &segment{base: base, dir: dir, fs: fs, file: f, alloc: st.Size(), next: base, maxTs: -1, maxTsOffset: -1}, nil
}

// trim cuts the file back to the data end, dropping preallocated space, so that
// sealed segments and cleanly closed logs hold exactly their batches.
// REQUIRES: Log.appendMu held.
func (s *segment) trim() error {
	if s.alloc == s.size {
		return nil
	}
	if err := s.file.Truncate(s.size); err != nil {
		return fmt.Errorf("log: truncate %s to its data end: %w", s.file.Name(), err)
	}
	s.alloc = s.size
	return nil
}

// openIndexFiles opens the index files for appending; truncate rewrites them empty.
func (s *segment) openIndexFiles(truncate bool) error {
	flags := os.O_RDWR | os.O_CREATE
	if truncate {
		flags |= os.O_TRUNC
	}
	var err error
	if s.indexFile, err = s.fs.OpenFile(s.path(indexExt), flags, 0o644); err != nil {
		return err
	}
	if s.timeFile, err = s.fs.OpenFile(s.path(timeIndexExt), flags, 0o644); err != nil {
		s.indexFile.Close()
		s.indexFile = nil
		return err
	}
	return nil
}

func (s *segment) closeIndexFiles() error {
	var errs []error
	for _, f := range []vfs.File{s.indexFile, s.timeFile} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	s.indexFile, s.timeFile = nil, nil
	return errors.Join(errs...)
}

// track accounts for a batch of size bytes written at pos and adds index entries.
// REQUIRES: Log.appendMu and Log.mu held (or exclusive access during recovery).
func (s *segment) track(h BatchHeader, pos int64, interval int) {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.maxTsOffset = h.MaxTimestamp, h.BaseOffset
	}
	if pos == 0 || s.bytesSinceIndex >= int64(interval) {
		s.index = append(s.index, indexEntry{rel: uint32(h.BaseOffset - s.base), pos: uint32(pos)})
		s.addTimeEntry()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
	s.size = pos + h.Size()
	s.next = h.LastOffset() + 1
}

// addTimeEntry records the current max timestamp if it grew since the last entry.
// REQUIRES: as for track.
func (s *segment) addTimeEntry() {
	if s.maxTs < 0 || (len(s.times) > 0 && s.maxTs <= s.times[len(s.times)-1].ts) {
		return
	}
	s.times = append(s.times, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOffset - s.base)})
}

// persistIndexes appends in-memory entries not yet in the index files.
// REQUIRES: Log.appendMu held; the segment is active.
func (s *segment) persistIndexes() error {
	if s.indexFile == nil {
		return nil
	}
	if n := len(s.index); n > s.indexWritten {
		var b []byte
		for _, e := range s.index[s.indexWritten:] {
			b = e.appendTo(b)
		}
		if _, err := s.indexFile.WriteAt(b, int64(s.indexWritten)*indexEntrySize); err != nil {
			s.indexBroken = true
			return fmt.Errorf("write %s: %w", s.indexFile.Name(), err)
		}
		s.indexWritten = n
	}
	if n := len(s.times); n > s.timeWritten {
		var b []byte
		for _, e := range s.times[s.timeWritten:] {
			b = e.appendTo(b)
		}
		if _, err := s.timeFile.WriteAt(b, int64(s.timeWritten)*timeEntrySize); err != nil {
			s.indexBroken = true
			return fmt.Errorf("write %s: %w", s.timeFile.Name(), err)
		}
		s.timeWritten = n
	}
	return nil
}

// rewriteIndexes replaces both index files with the in-memory entries (after a
// rebuild). The files are left open if the segment is active.
func (s *segment) rewriteIndexes(active bool) error {
	if err := s.closeIndexFiles(); err != nil {
		return err
	}
	if err := s.openIndexFiles(true); err != nil {
		return err
	}
	s.indexWritten, s.timeWritten = 0, 0
	if err := s.persistIndexes(); err != nil {
		return err
	}
	if !active {
		return s.closeIndexFiles()
	}
	return nil
}

// readHeader reads the fixed header of the batch at pos (not its records) and
// checks that it is plausible and fits below limit.
func readHeader(f vfs.File, pos, limit int64, buf *[batchHeaderSize]byte) (BatchHeader, error) {
	if limit-pos < batchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %s: %d bytes left at position %d, less than a batch header", ErrCorruptBatch, f.Name(), limit-pos, pos)
	}
	if _, err := f.ReadAt(buf[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			return BatchHeader{}, fmt.Errorf("%w: %s: short header at position %d", ErrCorruptBatch, f.Name(), pos)
		}
		return BatchHeader{}, err
	}
	h := decodeHeader(buf[:])
	if h.Length < minBatchLength || pos+h.Size() > limit || h.Magic != 2 || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: %s: bad batch header at position %d (length %d, magic %d)", ErrCorruptBatch, f.Name(), pos, h.Length, h.Magic)
	}
	return h, nil
}

// findBatch scans headers from pos (a batch boundary at or before the wanted batch)
// to the batch containing offset, and returns its position and header.
func findBatch(f vfs.File, pos, limit, offset int64, buf *[batchHeaderSize]byte) (int64, BatchHeader, error) {
	for {
		h, err := readHeader(f, pos, limit, buf)
		if err != nil {
			return 0, h, err
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += h.Size()
	}
}

func putBaseOffset(b []byte, base int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(base)) }
