package msgindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
)

const (
	headerSize = 64
	entrySize  = 28
	magic      = "FMXI"
	version    = 1
	flagClean  = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt marks an index file that cannot be trusted; Open drops it and
// indexes its range again.
var ErrCorrupt = errors.New("msgindex: corrupt index file")

func hashKey(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

type header struct {
	flags        uint16
	slots, cap   uint32
	base, next   int64
	count        uint32
	minTs, maxTs int64
}

func (h header) encode() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.BigEndian.PutUint16(b[4:], version)
	binary.BigEndian.PutUint16(b[6:], h.flags)
	binary.BigEndian.PutUint32(b[8:], h.slots)
	binary.BigEndian.PutUint32(b[12:], h.cap)
	binary.BigEndian.PutUint64(b[16:], uint64(h.base))
	binary.BigEndian.PutUint64(b[24:], uint64(h.next))
	binary.BigEndian.PutUint32(b[32:], h.count)
	binary.BigEndian.PutUint64(b[40:], uint64(h.minTs))
	binary.BigEndian.PutUint64(b[48:], uint64(h.maxTs))
	binary.BigEndian.PutUint32(b[56:], crc32.Checksum(b[:56], castagnoli))
	return b
}

func decodeHeader(b []byte) (header, error) {
	if len(b) < headerSize || string(b[:4]) != magic {
		return header{}, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if crc32.Checksum(b[:56], castagnoli) != binary.BigEndian.Uint32(b[56:]) {
		return header{}, fmt.Errorf("%w: header checksum", ErrCorrupt)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != version {
		return header{}, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	h := header{
		flags: binary.BigEndian.Uint16(b[6:]),
		slots: binary.BigEndian.Uint32(b[8:]),
		cap:   binary.BigEndian.Uint32(b[12:]),
		base:  int64(binary.BigEndian.Uint64(b[16:])),
		next:  int64(binary.BigEndian.Uint64(b[24:])),
		count: binary.BigEndian.Uint32(b[32:]),
		minTs: int64(binary.BigEndian.Uint64(b[40:])),
		maxTs: int64(binary.BigEndian.Uint64(b[48:])),
	}
	if h.slots == 0 || h.slots > 1<<24 || h.cap == 0 || h.cap > 1<<26 || h.count > h.cap || h.next < h.base || h.base < 0 {
		return header{}, fmt.Errorf("%w: header fields out of range", ErrCorrupt)
	}
	return h, nil
}

func (h header) size() int64 { return headerSize + 4*int64(h.slots) + entrySize*int64(h.cap) }

type entry struct {
	hash      uint64
	offset    int64
	timestamp int64
	prev      uint32
}

func (e entry) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.hash)
	b = binary.BigEndian.AppendUint64(b, uint64(e.offset))
	b = binary.BigEndian.AppendUint64(b, uint64(e.timestamp))
	return binary.BigEndian.AppendUint32(b, e.prev)
}

func decodeEntry(b []byte) entry {
	return entry{
		hash:      binary.BigEndian.Uint64(b),
		offset:    int64(binary.BigEndian.Uint64(b[8:])),
		timestamp: int64(binary.BigEndian.Uint64(b[16:])),
		prev:      binary.BigEndian.Uint32(b[24:]),
	}
}

// readEntry reads entry number n (0-based) of the file f with header h.
func readEntry(f *os.File, h header, n uint32) (entry, error) {
	var b [entrySize]byte
	if _, err := f.ReadAt(b[:], headerSize+4*int64(h.slots)+entrySize*int64(n)); err != nil {
		return entry{}, err
	}
	return decodeEntry(b[:]), nil
}

// walk calls fn for each entry with hash in file f, newest first, until fn
// returns false. slotValue is the slot's value (entry number + 1).
func walk(f *os.File, h header, hash uint64, slotValue uint32, fn func(entry) bool) error {
	for n := slotValue; n != 0; {
		if n > h.count {
			return fmt.Errorf("%w: chain points at entry %d of %d", ErrCorrupt, n, h.count)
		}
		e, err := readEntry(f, h, n-1)
		if err != nil {
			return err
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

// readSlot reads slot s of a sealed file.
func readSlot(f *os.File, s uint32) (uint32, error) {
	var b [4]byte
	if _, err := f.ReadAt(b[:], headerSize+4*int64(s)); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[:]), nil
}
