package log

import (
	"fmt"
	"io"
	"math"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// scanWindow is how much of a segment file a scan reads at once.
const scanWindow = 1 << 20

// window reads a file sequentially through a buffer, so that a walk over
// small batches costs one read per window, not one per header.
type window struct {
	f     vfs.File
	size  int64 // file size
	buf   []byte
	start int64 // file position of buf[0]
}

// bytes returns bytes [pos, pos+n) of the file, valid until the next call.
func (w *window) bytes(pos int64, n int) ([]byte, error) {
	if pos >= w.start && pos+int64(n) <= w.start+int64(len(w.buf)) {
		return w.buf[pos-w.start:][:n], nil
	}
	want := int(min(max(int64(n), scanWindow), w.size-pos))
	if want < n {
		return nil, fmt.Errorf("read %s: %d bytes at %d: %w", w.f.Name(), n, pos, io.ErrUnexpectedEOF)
	}
	if cap(w.buf) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	m, err := w.f.ReadAt(w.buf, pos)
	if m < want {
		w.buf, w.start = w.buf[:0], 0
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %s at %d: %w", w.f.Name(), pos, err)
	}
	w.start = pos
	return w.buf[:n], nil
}

// scanConfig says how to validate one segment file.
type scanConfig struct {
	base int64
	// nextBase is the next segment's base offset, which the batches of this
	// one must stay below; < 0 for the last segment, whose offsets must also
	// be contiguous (sealed segments may have compaction's gaps).
	nextBase int64
	// Batches starting before crcFrom get only the cheap header checks: the
	// fsynced prefix of the active segment below the recovery point.
	crcFrom int64
	// A bad batch starting before quarantineTo is damage: it is skipped and
	// the scan resumes at the next valid batch. At or after it, a bad batch
	// is the torn tail and ends the scan. Sealed segments: the file size.
	quarantineTo int64
	// checkAt is a position where the recovery point says a batch (or the
	// data end) begins; the scan reports the offset expected there in nextAt.
	// -1: none.
	checkAt int64
	// from is where the scan starts, a batch boundary where offset
	// fromOffset begins (0: the segment's start).
	from, fromOffset int64
}

// scanResult is what a scan found.
type scanResult struct {
	end  int64 // data end: after the last good batch, or after a damaged tail
	next int64 // offset after the last good batch (base if none)
	// tail is why the scan stopped at end before the file end (the torn
	// tail); "" when it reached the file end.
	tail    string
	damaged []DamagedRange // in position order; a damaged tail of the last segment has EndOffset -1
	// nextAt is the offset expected at position checkAt if the walk landed
	// on it (a batch boundary), else -1.
	nextAt    int64
	straddled bool // a good batch spans checkAt: it is not a batch boundary
	crcBytes  int64
}

// scanBatches validates the batches of f (fileSize bytes) from position 0 and
// calls track for each good one; resumed is true for the first batch after a
// damaged range. I/O errors are returned, never taken for corruption.
func scanBatches(f vfs.File, fileSize int64, cfg scanConfig, track func(h BatchHeader, pos int64, resumed bool)) (scanResult, error) {
	w := &window{f: f, size: fileSize}
	res := scanResult{next: cfg.base, nextAt: -1}
	if cfg.from > 0 {
		res.next = cfg.fromOffset
	}
	name := f.Name()
	resumed, tailDamaged := false, false
	pos := cfg.from
	for pos < fileSize {
		if pos == cfg.checkAt {
			res.nextAt = res.next
		}
		h, reason, err := checkBatchAt(w, pos, res.next, cfg, &res.crcBytes)
		if err != nil {
			return res, err
		}
		if reason == "" {
			if pos < cfg.checkAt && pos+h.Size() > cfg.checkAt {
				res.straddled = true
			}
			track(h, pos, resumed)
			resumed = false
			pos += h.Size()
			res.next = h.LastOffset() + 1
			continue
		}
		if pos >= cfg.quarantineTo {
			res.tail = reason
			break
		}
		q, qh, found, err := resync(w, pos, h, res.next, cfg, &res.crcBytes)
		if err != nil {
			return res, err
		}
		d := DamagedRange{File: baseName(name), Position: pos, FirstOffset: res.next, Reason: reason}
		if !found {
			d.Length, d.EndOffset = fileSize-pos, cfg.nextBase
			if cfg.nextBase < 0 {
				d.EndOffset = -1 // decided by the caller
			}
			res.damaged = append(res.damaged, d)
			pos, tailDamaged = fileSize, true
			break
		}
		d.Length, d.EndOffset = q-pos, qh.BaseOffset
		res.damaged = append(res.damaged, d)
		pos, resumed, res.next = q, true, qh.BaseOffset
	}
	if pos == cfg.checkAt && res.nextAt < 0 && !tailDamaged {
		res.nextAt = res.next
	}
	res.end = pos
	if res.tail == "" && cfg.nextBase >= 0 && res.next < cfg.nextBase && (len(res.damaged) == 0 || res.damaged[len(res.damaged)-1].Position+res.damaged[len(res.damaged)-1].Length < fileSize) {
		res.damaged = append(res.damaged, DamagedRange{File: baseName(name), Position: pos, FirstOffset: res.next, EndOffset: cfg.nextBase,
			Reason: fmt.Sprintf("segment ends at offset %d but the next one starts at %d", res.next, cfg.nextBase)})
	}
	return res, nil
}

// checkBatchAt validates the batch at pos, expected to start at offset next
// (or later, in a sealed segment). It returns the header and "" if the batch
// is good, else what is wrong with it.
func checkBatchAt(w *window, pos, next int64, cfg scanConfig, crcBytes *int64) (BatchHeader, string, error) {
	if w.size-pos < batchHeaderSize {
		return BatchHeader{}, fmt.Sprintf("torn batch header: %d bytes left", w.size-pos), nil
	}
	hb, err := w.bytes(pos, batchHeaderSize)
	if err != nil {
		return BatchHeader{}, "", err
	}
	h := decodeHeader(hb)
	switch {
	case h.Length < minBatchLength:
		return h, fmt.Sprintf("batch length %d below minimum", h.Length), nil
	case pos+h.Size() > w.size:
		return h, fmt.Sprintf("torn batch: length %d but %d bytes left", h.Length, w.size-pos-logOverhead), nil
	case h.Magic != 2:
		return h, fmt.Sprintf("magic %d", h.Magic), nil
	case h.LastOffsetDelta < 0:
		return h, fmt.Sprintf("last offset delta %d", h.LastOffsetDelta), nil
	}
	if pos >= cfg.crcFrom {
		b, err := w.bytes(pos, int(h.Size()))
		if err != nil {
			return h, "", err
		}
		*crcBytes += h.Size()
		if _, err := parseStoredBatch(b); err != nil {
			return h, err.Error(), nil
		}
	}
	// Offsets are contiguous in the last segment. A sealed segment may have
	// been compacted, which drops emptied batches (but never the last one, so
	// the segment still ends where the next one starts): there they must only
	// increase. See "Compaction" in doc.go.
	if cfg.nextBase < 0 && h.BaseOffset != next {
		return h, fmt.Sprintf("base offset %d, want %d", h.BaseOffset, next), nil
	}
	if cfg.nextBase >= 0 && (h.BaseOffset < next || h.LastOffset() >= cfg.nextBase) {
		return h, fmt.Sprintf("offsets [%d, %d] outside [%d, %d)", h.BaseOffset, h.LastOffset(), next, cfg.nextBase), nil
	}
	return h, "", nil
}

// resync finds where valid batches resume after the bad batch at pos: right
// after it when its length field is intact, else at the first later position
// holding a plausible header, a valid CRC and offsets in range (at or after
// next; below the next segment, or for the last segment no more offsets than
// bytes skipped).
func resync(w *window, pos int64, bad BatchHeader, next int64, cfg scanConfig, crcBytes *int64) (int64, BatchHeader, bool, error) {
	plausible := func(q int64) (BatchHeader, bool, error) {
		hc := cfg
		hc.crcFrom = 0 // always check the CRC of a candidate
		if cfg.nextBase < 0 {
			// Offsets are lost in between, so contiguity cannot hold; bound
			// the jump by the bytes skipped instead.
			hc.nextBase = math.MaxInt64
		}
		h, reason, err := checkBatchAt(w, q, next, hc, crcBytes)
		if err != nil || reason != "" {
			return h, false, err
		}
		if cfg.nextBase < 0 && h.BaseOffset-next > q-pos {
			return h, false, nil
		}
		return h, true, nil
	}
	if bad.Length >= minBatchLength && pos+bad.Size() < w.size {
		if h, ok, err := plausible(pos + bad.Size()); err != nil || ok {
			return pos + bad.Size(), h, ok, err
		}
	}
	for q := pos + 1; q+batchHeaderSize <= w.size; q++ {
		hb, err := w.bytes(q, batchHeaderSize)
		if err != nil {
			return 0, BatchHeader{}, false, err
		}
		// Cheap filters before the CRC: magic, length, base offset.
		if hb[offMagic] != 2 {
			continue
		}
		h := decodeHeader(hb)
		if h.Length < minBatchLength || q+h.Size() > w.size || h.BaseOffset < next {
			continue
		}
		if h, ok, err := plausible(q); err != nil || ok {
			return q, h, ok, err
		}
	}
	return 0, BatchHeader{}, false, nil
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == '\\' {
			return path[i+1:]
		}
	}
	return path
}
