package schedule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The bucket index: see doc.go for the files and their format.

const (
	entrySize      = 29
	entryAdd       = 1
	entryDone      = 2
	checkpointName = "checkpoint"
	cancelsName    = "cancels"
	bucketPrefix   = "b-"
	dayPrefix      = "d-"
	bucketSuffix   = ".idx"
	checkpointSize = 25
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorruptIndex marks index files that cannot be trusted: the scheduler
// discards the index and rebuilds it from __scheduled.
var errCorruptIndex = errors.New("schedule: corrupt index")

// entry is one message in the index.
type entry struct {
	deliverAt int64 // unix ms, as stored in the message key
	id        uint64
	offset    int64 // in __scheduled
}

// index owns the directory of bucket files. Messages due before
// splitUpTo are in fine buckets of width ms; later ones in coarse buckets
// ("days") of coarse ms, so a horizon of years costs one file per day, not
// one per minute. As time passes, split moves the next days into fine
// buckets. It buffers appended entries and writes them on flush; it is
// used by the scheduler's goroutine only.
type index struct {
	dir       string
	width     int64               // fine bucket width in ms
	coarse    int64               // coarse bucket width in ms, a multiple of width
	splitUpTo int64               // unix ms, a multiple of coarse
	buf       map[string][]byte   // file name -> encoded entries not yet written
	touched   map[string]struct{} // files written since the last checkpoint
	buckets   map[int64]struct{}  // fine bucket starts on disk or buffered
	days      map[int64]struct{}  // coarse bucket starts on disk or buffered
}

// openIndex opens the index in dir; a new one splits up to splitUpTo.
func openIndex(dir string, width, coarse, splitUpTo int64) (*index, int64, error) {
	ix := &index{dir: dir, width: width, coarse: coarse, splitUpTo: splitUpTo}
	ix.reset()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	indexedTo, err := ix.readCheckpoint()
	if err != nil {
		return ix, 0, err
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, de := range names {
		if start, ok := parseBucketName(de.Name(), bucketPrefix); ok {
			ix.buckets[start] = struct{}{}
		} else if start, ok := parseBucketName(de.Name(), dayPrefix); ok {
			ix.days[start] = struct{}{}
		}
	}
	return ix, indexedTo, nil
}

func (ix *index) reset() {
	ix.buf = map[string][]byte{}
	ix.touched = map[string]struct{}{}
	ix.buckets = map[int64]struct{}{}
	ix.days = map[int64]struct{}{}
}

// floorTo rounds ms down to a multiple of width.
func floorTo(ms, width int64) int64 {
	b := ms - ms%width
	if ms < 0 && ms%width != 0 {
		b -= width
	}
	return b
}

// bucketOf returns the start of the fine bucket holding deliverAt.
func (ix *index) bucketOf(deliverAt int64) int64 { return floorTo(deliverAt, ix.width) }

// fileOf returns the file an entry due at deliverAt goes to, and notes
// that it exists.
func (ix *index) fileOf(deliverAt int64) string {
	if deliverAt >= ix.splitUpTo {
		d := floorTo(deliverAt, ix.coarse)
		ix.days[d] = struct{}{}
		return dayName(d)
	}
	b := ix.bucketOf(deliverAt)
	ix.buckets[b] = struct{}{}
	return bucketName(b)
}

func bucketName(start int64) string {
	return fmt.Sprintf("%s%020d%s", bucketPrefix, start, bucketSuffix)
}

func dayName(start int64) string {
	return fmt.Sprintf("%s%020d%s", dayPrefix, start, bucketSuffix)
}

func parseBucketName(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, bucketSuffix) {
		return 0, false
	}
	v, err := strconv.ParseInt(name[len(prefix):len(name)-len(bucketSuffix)], 10, 64)
	return v, err == nil
}

func (ix *index) add(e entry) {
	ix.appendEntry(entryAdd, e)
}

func (ix *index) done(deliverAt int64, id uint64) {
	ix.appendEntry(entryDone, entry{deliverAt: deliverAt, id: id, offset: -1})
}

func (ix *index) appendEntry(kind byte, e entry) {
	name := ix.fileOf(e.deliverAt)
	var b [entrySize]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(e.deliverAt))
	binary.BigEndian.PutUint64(b[9:], e.id)
	binary.BigEndian.PutUint64(b[17:], uint64(e.offset))
	binary.BigEndian.PutUint32(b[25:], crc32.Checksum(b[:25], castagnoli))
	ix.buf[name] = append(ix.buf[name], b[:]...)
}

// flush writes the buffered entries to their bucket files.
func (ix *index) flush() error {
	for name, data := range ix.buf {
		if err := ix.appendFile(name, data); err != nil {
			return err
		}
		ix.touched[name] = struct{}{}
		delete(ix.buf, name)
	}
	return nil
}

func (ix *index) appendFile(name string, data []byte) error {
	f, err := os.OpenFile(filepath.Join(ix.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkpoint makes every entry written so far durable and records that the
// log below indexedTo is in the files.
func (ix *index) checkpoint(indexedTo int64) error {
	if err := ix.flush(); err != nil {
		return err
	}
	for name := range ix.touched {
		if err := syncFile(filepath.Join(ix.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		delete(ix.touched, name)
	}
	if err := syncFile(filepath.Join(ix.dir, cancelsName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b [checkpointSize]byte
	copy(b[:], "FSCP")
	b[4] = formatVersion
	binary.BigEndian.PutUint64(b[5:], uint64(indexedTo))
	binary.BigEndian.PutUint64(b[13:], uint64(ix.splitUpTo))
	binary.BigEndian.PutUint32(b[21:], crc32.Checksum(b[:21], castagnoli))
	tmp := filepath.Join(ix.dir, checkpointName+".tmp")
	if err := os.WriteFile(tmp, b[:], 0o644); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(ix.dir, checkpointName)); err != nil {
		return err
	}
	return syncFile(ix.dir)
}

// readCheckpoint returns indexedTo (0 without a checkpoint: a new index)
// and sets splitUpTo from it.
func (ix *index) readCheckpoint() (int64, error) {
	b, err := os.ReadFile(filepath.Join(ix.dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != checkpointSize || string(b[:4]) != "FSCP" || b[4] != formatVersion ||
		crc32.Checksum(b[:21], castagnoli) != binary.BigEndian.Uint32(b[21:]) {
		return 0, fmt.Errorf("%w: bad checkpoint file", errCorruptIndex)
	}
	split := int64(binary.BigEndian.Uint64(b[13:]))
	if split%ix.coarse != 0 {
		return 0, fmt.Errorf("%w: checkpoint splits at %d, not a multiple of %d ms", errCorruptIndex, split, ix.coarse)
	}
	ix.splitUpTo = split
	return int64(binary.BigEndian.Uint64(b[5:])), nil
}

// rawEntry is one entry of a bucket file.
type rawEntry struct {
	kind byte
	entry
}

// readEntries reads a bucket file. A torn tail entry (a crash mid-write
// after the last checkpoint) is ignored; a bad CRC anywhere else, an
// unknown kind or an entry outside [from, to) is errCorruptIndex.
func (ix *index) readEntries(name string, from, to int64) ([]rawEntry, error) {
	if err := ix.flush(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(ix.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data = data[:len(data)-len(data)%entrySize]
	out := make([]rawEntry, 0, len(data)/entrySize)
	for pos := 0; pos < len(data); pos += entrySize {
		b := data[pos : pos+entrySize]
		if crc32.Checksum(b[:25], castagnoli) != binary.BigEndian.Uint32(b[25:]) {
			if pos+entrySize == len(data) {
				break // torn by a crash: written after the last checkpoint
			}
			return nil, fmt.Errorf("%w: bad entry at byte %d of %s", errCorruptIndex, pos, name)
		}
		e := rawEntry{kind: b[0], entry: entry{
			deliverAt: int64(binary.BigEndian.Uint64(b[1:])),
			id:        binary.BigEndian.Uint64(b[9:]),
			offset:    int64(binary.BigEndian.Uint64(b[17:])),
		}}
		if e.deliverAt < from || e.deliverAt >= to {
			return nil, fmt.Errorf("%w: entry due at %d in %s", errCorruptIndex, e.deliverAt, name)
		}
		if e.kind != entryAdd && e.kind != entryDone {
			return nil, fmt.Errorf("%w: entry kind %d in %s", errCorruptIndex, e.kind, name)
		}
		out = append(out, e)
	}
	return out, nil
}

// load returns the pending entries of a fine bucket: its adds, once each,
// minus those with a done entry.
func (ix *index) load(start int64) ([]entry, error) {
	raw, err := ix.readEntries(bucketName(start), start, start+ix.width)
	if err != nil {
		return nil, err
	}
	adds := map[uint64]entry{}
	done := map[uint64]struct{}{}
	for _, e := range raw {
		if e.kind == entryAdd {
			adds[e.id] = e.entry
		} else {
			done[e.id] = struct{}{}
		}
	}
	out := make([]entry, 0, len(adds))
	for id, e := range adds {
		if _, ok := done[id]; !ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// split moves the coarse buckets below upTo (a multiple of coarse) into
// fine buckets and returns them; drop them once a checkpoint covers the
// move. A crash before that leaves them in place and the move is redone
// (the fine buckets then hold some entries twice, which load dedups).
func (ix *index) split(upTo int64) ([]int64, error) {
	if upTo <= ix.splitUpTo {
		return nil, nil
	}
	ix.splitUpTo = upTo
	var moved []int64
	for d := range ix.days {
		if d >= upTo {
			continue
		}
		raw, err := ix.readEntries(dayName(d), d, d+ix.coarse)
		if err != nil {
			return nil, err
		}
		for _, e := range raw {
			ix.appendEntry(e.kind, e.entry)
		}
		if err := ix.flush(); err != nil {
			return nil, err
		}
		moved = append(moved, d)
	}
	return moved, nil
}

// dropDays removes coarse buckets that split moved.
func (ix *index) dropDays(days []int64) error {
	for _, d := range days {
		delete(ix.days, d)
		delete(ix.touched, dayName(d))
		if err := os.Remove(filepath.Join(ix.dir, dayName(d))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// remove deletes a bucket whose messages are all done.
func (ix *index) remove(start int64) error {
	delete(ix.buf, bucketName(start))
	delete(ix.touched, bucketName(start))
	delete(ix.buckets, start)
	err := os.Remove(filepath.Join(ix.dir, bucketName(start)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// wipe removes every index file: the index is rebuilt from the log.
func (ix *index) wipe() error {
	ix.reset()
	if err := os.RemoveAll(ix.dir); err != nil {
		return err
	}
	return os.MkdirAll(ix.dir, 0o755)
}

// bucketsBelow returns the known bucket starts in [from, to), unsorted.
func (ix *index) bucketsBelow(from, to int64) []int64 {
	var out []int64
	for start := range ix.buckets {
		if start >= from && start < to {
			out = append(out, start)
		}
	}
	return out
}

// appendCancel records a cancel in the cancels file.
func (ix *index) appendCancel(offset int64, match string) error {
	return ix.appendFile(cancelsName, encodeCancel(nil, offset, match))
}

func encodeCancel(b []byte, offset int64, match string) []byte {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(8+len(match)))
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = append(b, match...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start+4:], castagnoli))
}

// rewriteCancels replaces the cancels file with cancels (after pruning).
func (ix *index) rewriteCancels(cancels map[string]int64) error {
	var b []byte
	for match, off := range cancels {
		b = encodeCancel(b, off, match)
	}
	tmp := filepath.Join(ix.dir, cancelsName+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(ix.dir, cancelsName)); err != nil {
		return err
	}
	return syncFile(ix.dir)
}

// minPendingOffset returns the lowest __scheduled offset of a message
// still pending in any bucket, and false if none is: it reads every bucket
// file, so it is for rare housekeeping only.
func (ix *index) minPendingOffset() (int64, bool, error) {
	lowest, found := int64(0), false
	visit := func(name string, from, to int64) error {
		raw, err := ix.readEntries(name, from, to)
		if err != nil {
			return err
		}
		done := map[uint64]struct{}{}
		for _, e := range raw {
			if e.kind == entryDone {
				done[e.id] = struct{}{}
			}
		}
		for _, e := range raw {
			if _, ok := done[e.id]; e.kind == entryAdd && !ok && (!found || e.offset < lowest) {
				lowest, found = e.offset, true
			}
		}
		return nil
	}
	for b := range ix.buckets {
		if err := visit(bucketName(b), b, b+ix.width); err != nil {
			return 0, false, err
		}
	}
	for d := range ix.days {
		if err := visit(dayName(d), d, d+ix.coarse); err != nil {
			return 0, false, err
		}
	}
	return lowest, found, nil
}

// loadCancels reads the cancels file: the highest cancel offset per match.
func (ix *index) loadCancels() (map[string]int64, error) {
	out := map[string]int64{}
	data, err := os.ReadFile(filepath.Join(ix.dir, cancelsName))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for len(data) > 0 {
		if len(data) < 4 {
			break // torn tail
		}
		n := int(binary.BigEndian.Uint32(data))
		if n < 8 || n > len(data)-8 {
			if n >= 8 && n <= 1<<20 {
				break // torn tail
			}
			return nil, fmt.Errorf("%w: cancel entry of %d bytes", errCorruptIndex, n)
		}
		body := data[4 : 4+n]
		if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[4+n:]) {
			if 4+n+4 == len(data) {
				break
			}
			return nil, fmt.Errorf("%w: bad cancel entry", errCorruptIndex)
		}
		off := int64(binary.BigEndian.Uint64(body))
		match := string(body[8:])
		if off > out[match] {
			out[match] = off
		}
		data = data[4+n+4:]
	}
	return out, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
