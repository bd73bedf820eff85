package chaos

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	flog "github.com/ferry-mq/ferry/internal/log"
)

// ReadReplicas reads every copy of topic's partitions from the data dirs
// of stopped nodes (node id -> data dir), read-only: partition -> node id
// -> batches. A partition dir is "<topic>-<partition>" (internal/broker).
func ReadReplicas(dataDirs map[int32]string, topic string) (map[int32]map[int32][]Batch, error) {
	out := map[int32]map[int32][]Batch{}
	for node, dir := range dataDirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), topic+"-")
			if !ok || !e.IsDir() {
				continue
			}
			p, err := strconv.ParseInt(rest, 10, 32)
			if err != nil {
				continue // another topic whose name starts like ours
			}
			batches, err := ReadPartitionDir(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("node %d: %w", node, err)
			}
			if out[int32(p)] == nil {
				out[int32(p)] = map[int32][]Batch{}
			}
			out[int32(p)][node] = batches
		}
	}
	return out, nil
}

// ReadPartitionDir scans a partition directory's segment files in offset
// order, batch by batch (format in internal/log's doc.go), and decodes
// every record. The log must be closed: a cleanly closed log holds
// exactly its batches, so anything after the last whole batch other than
// zeros is an error, as is a batch that fails its CRC.
func ReadPartitionDir(dir string) ([]Batch, error) {
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	slices.Sort(segs) // zero-padded base offsets sort as numbers
	var out []Batch
	for _, seg := range segs {
		b, err := os.ReadFile(seg)
		if err != nil {
			return nil, err
		}
		for pos := 0; pos < len(b); {
			size := 0
			if len(b)-pos >= 12 {
				size = 12 + int(int32(binary.BigEndian.Uint32(b[pos+8:])))
			}
			if size <= 12 || pos+size > len(b) {
				if err := checkZeros(seg, b, pos); err != nil {
					return nil, err
				}
				break
			}
			batch, err := decodeBatch(b[pos : pos+size])
			if err != nil {
				return nil, fmt.Errorf("%s at byte %d: %w", seg, pos, err)
			}
			out = append(out, batch)
			pos += size
		}
	}
	return out, nil
}

// decodeBatch decodes one stored batch; its records' offsets count up
// from the base offset (the chaos topic is never compacted). Control
// batches have no records.
func decodeBatch(raw []byte) (Batch, error) {
	if len(raw) < 27 {
		return Batch{}, fmt.Errorf("batch of %d bytes is shorter than its header", len(raw))
	}
	b := Batch{
		BaseOffset:  int64(binary.BigEndian.Uint64(raw)),
		LeaderEpoch: int32(binary.BigEndian.Uint32(raw[12:])),
		CRC:         binary.BigEndian.Uint32(raw[17:]),
	}
	b.LastOffset = b.BaseOffset + int64(int32(binary.BigEndian.Uint32(raw[23:])))
	_, err := flog.EachRecord(b.BaseOffset, raw, func(h flog.BatchHeader, _, value []byte) error {
		e := Entry{Offset: h.BaseOffset + int64(len(b.Records))}
		if v, err := DecodeValue(value); err == nil {
			e.Value = v
		} else {
			e.Raw = string(value)
		}
		b.Records = append(b.Records, e)
		return nil
	})
	return b, err
}

// checkZeros accepts a tail of zeros (preallocation) at pos, nothing else.
func checkZeros(seg string, b []byte, pos int) error {
	for i := pos; i < len(b); i++ {
		if b[i] != 0 {
			return fmt.Errorf("%s: %d bytes after the last whole batch at byte %d", seg, len(b)-pos, pos)
		}
	}
	return nil
}
