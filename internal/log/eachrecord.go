package log

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EachRecord calls fn with the key and value of each record in data, whole
// batches read from the log at offset from, and returns the offset after the
// last batch. It reads back the internal topics the coordinators write with
// NewBatch, NewTransactionalBatch and NewControlBatch: the record of a
// control batch is passed too (h.IsControl(); its key holds the control
// type) and a compressed batch is an error.
// Every batch's CRC is checked first: a damaged batch stops the walk with an
// error wrapping ErrCorruptBatch, next being the offset after the last good
// batch, so that no damaged byte is ever applied.
// Errors start with "at <offset>: ", the offset of the batch that failed;
// errors from fn are wrapped with it.
func EachRecord(from int64, data []byte, fn func(h BatchHeader, key, value []byte) error) (next int64, err error) {
	next = from
	for len(data) > 0 {
		if len(data) < logOverhead {
			return next, fmt.Errorf("at %d: %w: truncated batch", next, ErrCorruptBatch)
		}
		size := logOverhead + int(int32(binary.BigEndian.Uint32(data[offLength:])))
		if size < batchHeaderSize || size > len(data) {
			return next, fmt.Errorf("at %d: %w: bad batch length", next, ErrCorruptBatch)
		}
		batch := data[:size]
		data = data[size:]
		h, err := parseStoredBatch(batch)
		if err != nil {
			return next, fmt.Errorf("at %d: %w", next, err)
		}
		if h.Attributes&attrCompressionMask != codecNone {
			return next, fmt.Errorf("at %d: compressed batch; the coordinator writes none", h.BaseOffset)
		}
		err = forEachRecord(batch, h, func(r record) error { return fn(h, r.Key, r.Value) })
		if err != nil {
			return next, fmt.Errorf("at %d: %w", h.BaseOffset, err)
		}
		next = h.LastOffset() + 1
	}
	return next, nil
}

// ReadFunc reads whole batches starting with the one holding offset, about
// maxBytes of them but at least one, and nothing at the end of the log: the
// coordinators' view of their internal topic's partition.
type ReadFunc func(offset int64, maxBytes int) ([]byte, error)

// Damage is a range of offsets Replay skipped because its bytes are damaged.
type Damage struct {
	From, To int64 // [From, To)
	Err      error // what was wrong at From
}

// Replay reads a coordinator's internal topic from offset 0 to its end and
// calls fn for each record, as EachRecord does. A damaged batch (bad CRC,
// bad framing, or a read error wrapping ErrCorruptBatch) is not applied:
// Replay reports its range to onDamage and goes on with the records after
// it, so one bad sector costs the state it held, not the coordinator.
// Errors from read that are not damage, and errors from fn, end the replay.
// It returns the log end and the number of records applied.
func Replay(read ReadFunc, maxBytes int, fn func(h BatchHeader, key, value []byte) error, onDamage func(Damage)) (end int64, records int, err error) {
	var offset int64
	count := func(h BatchHeader, key, value []byte) error {
		records++
		return fn(h, key, value)
	}
	for {
		data, err := read(offset, maxBytes)
		if isDamage(err) {
			// The damage may lie anywhere in the window: read just the
			// batch at offset, to apply every good batch before it.
			data, err = read(offset, 1)
		}
		if err != nil && !isDamage(err) {
			return offset, records, err
		}
		if err == nil && len(data) == 0 {
			return offset, records, nil
		}
		if err == nil {
			var next int64
			next, err = EachRecord(offset, data, count)
			if err != nil && !isDamage(err) {
				return offset, records, err
			}
			if next > offset {
				offset = next // the damage, if any, is read again from next
				continue
			}
		}
		// The batch at offset itself is damaged.
		to, perr := skipDamage(read, offset)
		if perr != nil {
			return offset, records, perr
		}
		onDamage(Damage{From: offset, To: to, Err: err})
		offset = to
	}
}

// isDamage reports whether err says the bytes read are damaged, as opposed
// to an I/O failure or a closed log.
func isDamage(err error) bool { return errors.Is(err, ErrCorruptBatch) }

// skipDamage returns the first offset after from whose batch reads and
// checks out (or the log end), given that the batch at from does not. A
// damaged range is contiguous, so it gallops forward and then bisects:
// a logarithmic number of one-batch reads however long the range is.
func skipDamage(read ReadFunc, from int64) (int64, error) {
	damaged := func(o int64) (bool, error) {
		data, err := read(o, 1)
		if err != nil {
			if isDamage(err) {
				return true, nil
			}
			if errors.Is(err, ErrOffsetOutOfRange) {
				return false, nil
			}
			return false, err
		}
		if len(data) == 0 {
			return false, nil
		}
		_, err = EachRecord(o, firstBatch(data), func(BatchHeader, []byte, []byte) error { return nil })
		if err != nil && !isDamage(err) {
			return false, err
		}
		return err != nil, nil
	}
	lo, step := from, int64(1) // lo is damaged
	hi := from + step
	for {
		bad, err := damaged(hi)
		if err != nil {
			return 0, err
		}
		if !bad {
			break
		}
		if step > 1<<40 {
			// Past any real log: every read claims damage.
			return 0, fmt.Errorf("at %d: %w: no readable batch after it", from, ErrCorruptBatch)
		}
		lo, step = hi, step*2
		hi = from + step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		bad, err := damaged(mid)
		if err != nil {
			return 0, err
		}
		if bad {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// firstBatch returns the first batch of data by its length field, or data
// if that field does not fit (EachRecord then reports the damage).
func firstBatch(data []byte) []byte {
	if len(data) < logOverhead {
		return data
	}
	size := logOverhead + int(int32(binary.BigEndian.Uint32(data[offLength:])))
	if size < batchHeaderSize || size > len(data) {
		return data
	}
	return data[:size]
}
