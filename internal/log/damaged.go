package log

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// ErrDamaged is wrapped by reads of an offset inside a damaged range: bytes
// that failed validation and were quarantined by recovery (see
// "Damaged ranges" in doc.go). It wraps ErrCorruptBatch, so code that skips
// corrupt batches (Replay) skips these too; the fetch path answers
// CORRUPT_MESSAGE.
var ErrDamaged = fmt.Errorf("%w: offset is in a damaged range", ErrCorruptBatch)

// damagedFile lists the damaged ranges of a partition (format in doc.go).
const damagedFile = "damaged-ranges"

const damagedHeader = "# ferry damaged ranges v1: file position length firstOffset endOffset reason"

// DamagedRange is a run of bytes in a segment file that recovery found invalid
// and left in place instead of cutting the segment: a corrupt batch, garbage
// between batches, or a damaged end of a segment. The offsets it held are
// lost; reads of them fail with ErrDamaged. Length may be 0 for offsets
// missing between two segments.
type DamagedRange struct {
	File        string // segment file name in the partition directory, e.g. 00000000000000000006.log
	Position    int64  // first damaged byte in File
	Length      int64  // damaged bytes
	FirstOffset int64  // first offset lost
	EndOffset   int64  // offset after the last one lost (== FirstOffset: none known)
	Reason      string // what failed validation first
}

func (d DamagedRange) String() string {
	return fmt.Sprintf("%s bytes [%d, %d) offsets [%d, %d): %s", d.File, d.Position, d.Position+d.Length, d.FirstOffset, d.EndOffset, d.Reason)
}

func (d DamagedRange) holds(offset int64) bool {
	return offset >= d.FirstOffset && offset < d.EndOffset
}

// Damaged returns the damaged ranges of the log that are still above its start
// offset, ordered by offset.
func (l *Log) Damaged() []DamagedRange {
	l.mu.RLock()
	defer l.mu.RUnlock()
	start := l.start.Load()
	var out []DamagedRange
	for _, d := range l.damaged {
		if d.EndOffset > start || (d.EndOffset == d.FirstOffset && d.FirstOffset >= start) {
			out = append(out, d)
		}
	}
	return out
}

func encodeDamaged(ranges []DamagedRange) []byte {
	var b bytes.Buffer
	b.WriteString(damagedHeader + "\n")
	for _, d := range ranges {
		reason := strings.Map(func(r rune) rune {
			if r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, d.Reason)
		fmt.Fprintf(&b, "%s %d %d %d %d %s\n", d.File, d.Position, d.Length, d.FirstOffset, d.EndOffset, reason)
	}
	return b.Bytes()
}

func decodeDamaged(data []byte) ([]DamagedRange, error) {
	var out []DamagedRange
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.SplitN(text, " ", 6)
		if len(f) < 5 {
			return out, fmt.Errorf("%s line %d: want at least 5 fields", damagedFile, line)
		}
		d := DamagedRange{File: f[0]}
		for i, p := range []*int64{&d.Position, &d.Length, &d.FirstOffset, &d.EndOffset} {
			n, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return out, fmt.Errorf("%s line %d: %w", damagedFile, line, err)
			}
			*p = n
		}
		if len(f) == 6 {
			d.Reason = f[5]
		}
		if _, ok := parseBase(strings.TrimSuffix(d.File, logExt)); !ok || d.Position < 0 || d.Length < 0 || d.EndOffset < d.FirstOffset {
			return out, fmt.Errorf("%s line %d: implausible range %q", damagedFile, line, text)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// readDamaged returns the ranges recorded in dir; a missing file is none.
func readDamaged(fs vfs.FS, dir string) ([]DamagedRange, error) {
	b, err := vfs.ReadFile(fs, filepath.Join(dir, damagedFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeDamaged(b)
}

// writeDamaged records ranges in dir atomically, or removes the file when
// there are none.
func writeDamaged(fs vfs.FS, dir string, ranges []DamagedRange) error {
	if len(ranges) == 0 {
		if err := fs.Remove(filepath.Join(dir, damagedFile)); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	return writeFileAtomic(fs, dir, damagedFile, encodeDamaged(ranges))
}

// mergeDamaged adds the ranges of found not already in known (same file and
// position) and returns the union ordered by offset, and whether anything was
// added.
func mergeDamaged(known, found []DamagedRange) ([]DamagedRange, bool) {
	out := append([]DamagedRange(nil), known...)
	added := false
	for _, f := range found {
		dup := false
		for _, k := range known {
			if k.File == f.File && k.Position == f.Position {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
			added = true
		}
	}
	sortDamaged(out)
	return out, added
}

func sortDamaged(ranges []DamagedRange) {
	sort.SliceStable(ranges, func(i, j int) bool {
		if ranges[i].FirstOffset != ranges[j].FirstOffset {
			return ranges[i].FirstOffset < ranges[j].FirstOffset
		}
		if ranges[i].File != ranges[j].File {
			return ranges[i].File < ranges[j].File
		}
		return ranges[i].Position < ranges[j].Position
	})
}

// damagedAt returns the damaged range of s holding offset, if any.
func (s *segment) damagedAt(offset int64) (DamagedRange, bool) {
	for _, d := range s.damaged {
		if d.holds(offset) {
			return d, true
		}
	}
	return DamagedRange{}, false
}

// readWindow narrows a header walk in s toward offset around damaged bytes:
// it moves pos (a batch boundary at or before the wanted batch) past any
// damaged range whose offsets all precede offset (recovery resumed at a batch
// boundary right after it), and returns the first damaged position at or after
// pos as the walk's limit (size when there is none).
func (s *segment) readWindow(pos, size, offset int64) (int64, int64) {
	for _, d := range s.damaged {
		if d.EndOffset <= offset && d.Position+d.Length > pos && d.Position+d.Length <= size {
			pos = d.Position + d.Length
		}
	}
	limit := size
	for _, d := range s.damaged {
		if d.Position >= pos && d.Position < limit {
			limit = d.Position
		}
	}
	return pos, limit
}

// damagedFrom returns the damaged range starting at pos, if any.
func damagedFrom(ranges []DamagedRange, pos int64) (DamagedRange, bool) {
	for _, d := range ranges {
		if d.Position == pos && d.Length > 0 {
			return d, true
		}
	}
	return DamagedRange{}, false
}
