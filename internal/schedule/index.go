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
	bucketSuffix   = ".idx"
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

// index owns the directory of bucket files. It buffers appended entries
// and writes them on flush; it is used by the scheduler's goroutine only.
type index struct {
	dir     string
	width   int64              // bucket width in ms
	buf     map[int64][]byte   // bucket start -> encoded entries not yet written
	touched map[int64]struct{} // written since the last checkpoint
	buckets map[int64]struct{} // bucket files on disk or buffered
}

func openIndex(dir string, width int64) (*index, int64, error) {
	ix := &index{dir: dir, width: width}
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
		if start, ok := parseBucketName(de.Name()); ok {
			ix.buckets[start] = struct{}{}
		}
	}
	return ix, indexedTo, nil
}

func (ix *index) reset() {
	ix.buf = map[int64][]byte{}
	ix.touched = map[int64]struct{}{}
	ix.buckets = map[int64]struct{}{}
}

// bucketOf returns the start of the bucket holding deliverAt.
func (ix *index) bucketOf(deliverAt int64) int64 {
	b := deliverAt - deliverAt%ix.width
	if deliverAt < 0 && deliverAt%ix.width != 0 {
		b -= ix.width
	}
	return b
}

func bucketName(start int64) string {
	return fmt.Sprintf("%s%020d%s", bucketPrefix, start, bucketSuffix)
}

func parseBucketName(name string) (int64, bool) {
	if !strings.HasPrefix(name, bucketPrefix) || !strings.HasSuffix(name, bucketSuffix) {
		return 0, false
	}
	v, err := strconv.ParseInt(name[len(bucketPrefix):len(name)-len(bucketSuffix)], 10, 64)
	return v, err == nil
}

func (ix *index) add(e entry) {
	ix.appendEntry(entryAdd, e)
}

func (ix *index) done(deliverAt int64, id uint64) {
	ix.appendEntry(entryDone, entry{deliverAt: deliverAt, id: id, offset: -1})
}

func (ix *index) appendEntry(kind byte, e entry) {
	start := ix.bucketOf(e.deliverAt)
	var b [entrySize]byte
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], uint64(e.deliverAt))
	binary.BigEndian.PutUint64(b[9:], e.id)
	binary.BigEndian.PutUint64(b[17:], uint64(e.offset))
	binary.BigEndian.PutUint32(b[25:], crc32.Checksum(b[:25], castagnoli))
	ix.buf[start] = append(ix.buf[start], b[:]...)
	ix.buckets[start] = struct{}{}
}

// flush writes the buffered entries to their bucket files.
func (ix *index) flush() error {
	for start, data := range ix.buf {
		if err := ix.appendFile(bucketName(start), data); err != nil {
			return err
		}
		ix.touched[start] = struct{}{}
		delete(ix.buf, start)
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
	for start := range ix.touched {
		if err := syncFile(filepath.Join(ix.dir, bucketName(start))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		delete(ix.touched, start)
	}
	if err := syncFile(filepath.Join(ix.dir, cancelsName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b [17]byte
	copy(b[:], "FSCP")
	b[4] = formatVersion
	binary.BigEndian.PutUint64(b[5:], uint64(indexedTo))
	binary.BigEndian.PutUint32(b[13:], crc32.Checksum(b[:13], castagnoli))
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

// readCheckpoint returns indexedTo; 0 without a checkpoint (a new index).
func (ix *index) readCheckpoint() (int64, error) {
	b, err := os.ReadFile(filepath.Join(ix.dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 17 || string(b[:4]) != "FSCP" || b[4] != formatVersion ||
		crc32.Checksum(b[:13], castagnoli) != binary.BigEndian.Uint32(b[13:]) {
		return 0, fmt.Errorf("%w: bad checkpoint file", errCorruptIndex)
	}
	return int64(binary.BigEndian.Uint64(b[5:])), nil
}

// load returns the pending entries of a bucket: its adds, once each, minus
// those with a done entry. A torn tail entry (a crash mid-write after the
// last checkpoint) is ignored; a bad CRC anywhere else is errCorruptIndex.
func (ix *index) load(start int64) ([]entry, error) {
	if err := ix.flush(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(ix.dir, bucketName(start)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	data = data[:len(data)-len(data)%entrySize]
	adds := map[uint64]entry{}
	done := map[uint64]struct{}{}
	for pos := 0; pos < len(data); pos += entrySize {
		b := data[pos : pos+entrySize]
		if crc32.Checksum(b[:25], castagnoli) != binary.BigEndian.Uint32(b[25:]) {
			if pos+entrySize == len(data) {
				break // torn by a crash: written after the last checkpoint
			}
			return nil, fmt.Errorf("%w: bad entry at byte %d of %s", errCorruptIndex, pos, bucketName(start))
		}
		e := entry{
			deliverAt: int64(binary.BigEndian.Uint64(b[1:])),
			id:        binary.BigEndian.Uint64(b[9:]),
			offset:    int64(binary.BigEndian.Uint64(b[17:])),
		}
		if ix.bucketOf(e.deliverAt) != start {
			return nil, fmt.Errorf("%w: entry due at %d in %s", errCorruptIndex, e.deliverAt, bucketName(start))
		}
		switch b[0] {
		case entryAdd:
			adds[e.id] = e
		case entryDone:
			done[e.id] = struct{}{}
		default:
			return nil, fmt.Errorf("%w: entry kind %d in %s", errCorruptIndex, b[0], bucketName(start))
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

// remove deletes a bucket whose messages are all done.
func (ix *index) remove(start int64) error {
	delete(ix.buf, start)
	delete(ix.touched, start)
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
	b := make([]byte, 4, 4+8+len(match)+4)
	binary.BigEndian.PutUint32(b, uint32(8+len(match)))
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = append(b, match...)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b[4:], castagnoli))
	return ix.appendFile(cancelsName, b)
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
