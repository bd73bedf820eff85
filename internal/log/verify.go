package log

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Verify reads every batch of the partition log in dir and checks it (length,
// magic, CRC32C, offsets within and between segments) without changing
// anything, and returns the damaged ranges it finds together with those
// recorded by earlier opens, ordered by offset. A zero-filled tail of the last
// segment (preallocated space) is not damage; other invalid bytes at its end
// are reported too, although after a crash the next Open would cut them as a
// torn tail. The log must not be open for writing meanwhile.
func Verify(dir string) ([]DamagedRange, error) {
	fs := vfs.Default
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseBase(strings.TrimSuffix(e.Name(), logExt)); ok && strings.HasSuffix(e.Name(), logExt) && !e.IsDir() {
			bases = append(bases, base)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	known, err := readDamaged(fs, dir)
	if err != nil {
		return nil, err
	}
	var found []DamagedRange
	for i, base := range bases {
		nextBase := int64(-1)
		if i+1 < len(bases) {
			nextBase = bases[i+1]
		}
		ranges, err := verifySegment(fs, segmentPath(dir, base, logExt), base, nextBase)
		if err != nil {
			return nil, err
		}
		found = append(found, ranges...)
	}
	out, _ := mergeDamaged(known, found)
	return out, nil
}

func verifySegment(fs vfs.FS, path string, base, nextBase int64) ([]DamagedRange, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	res, err := scanBatches(f, size, scanConfig{base: base, nextBase: nextBase, quarantineTo: size, checkAt: -1}, func(BatchHeader, int64, bool) {})
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", filepath.Base(path), err)
	}
	ranges := res.damaged
	if n := len(ranges); n > 0 && ranges[n-1].EndOffset < 0 {
		// The last segment's end: zeros are preallocated space, not damage.
		last := &ranges[n-1]
		zero, err := zeroTail(f, last.Position, size)
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", filepath.Base(path), err)
		}
		if zero {
			ranges = ranges[:n-1]
		} else {
			last.EndOffset = last.FirstOffset // offsets unknown
		}
	}
	return ranges, nil
}
