package halftxn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Record kinds: the first byte of every key.
const (
	kindHalf  = 'H'
	kindCheck = 'C'
)

const (
	tokenSize    = 16
	keySize      = 1 + tokenSize
	valueVersion = 1
)

type token [tokenSize]byte

func recordKey(kind byte, t token) []byte {
	k := make([]byte, 0, keySize)
	k = append(k, kind)
	return append(k, t[:]...)
}

var errMalformed = errors.New("halftxn: malformed record")

func parseKey(k []byte) (kind byte, t token, err error) {
	if len(k) != keySize || (k[0] != kindHalf && k[0] != kindCheck) {
		return 0, t, fmt.Errorf("%w: key of %d bytes", errMalformed, len(k))
	}
	copy(t[:], k[1:])
	return k[0], t, nil
}

// encodeHalf is the value of an H record; see doc.go.
func encodeHalf(h Half) ([]byte, error) {
	if len(h.Topic) > math.MaxUint16 || len(h.Group) > math.MaxUint16 || len(h.UniqKey) > math.MaxUint16 {
		return nil, fmt.Errorf("halftxn: topic, group or message id over %d bytes", math.MaxUint16)
	}
	if len(h.Batch) > math.MaxUint32 {
		return nil, fmt.Errorf("halftxn: batch of %d bytes", len(h.Batch))
	}
	b := make([]byte, 0, 1+2+len(h.Topic)+4+2+len(h.Group)+2+len(h.UniqKey)+4+len(h.Batch))
	b = append(b, valueVersion)
	b = appendString16(b, h.Topic)
	b = binary.BigEndian.AppendUint32(b, uint32(h.Partition))
	b = appendString16(b, h.Group)
	b = appendString16(b, h.UniqKey)
	b = binary.BigEndian.AppendUint32(b, uint32(len(h.Batch)))
	return append(b, h.Batch...), nil
}

func decodeHalf(v []byte) (Half, error) {
	var h Half
	r := reader{b: v}
	if ver := r.u8(); ver != valueVersion {
		return h, fmt.Errorf("%w: half message version %d", errMalformed, ver)
	}
	h.Topic = r.string16()
	h.Partition = int32(r.u32())
	h.Group = r.string16()
	h.UniqKey = r.string16()
	n := int(r.u32())
	h.Batch = r.bytes(n)
	if r.bad || len(r.b) != 0 {
		return Half{}, fmt.Errorf("%w: half message of %d bytes", errMalformed, len(v))
	}
	return h, nil
}

func encodeChecks(checks int, lastMs int64) []byte {
	b := make([]byte, 0, 13)
	b = append(b, valueVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(checks))
	return binary.BigEndian.AppendUint64(b, uint64(lastMs))
}

func decodeChecks(v []byte) (checks int, lastMs int64, err error) {
	r := reader{b: v}
	if ver := r.u8(); ver != valueVersion {
		return 0, 0, fmt.Errorf("%w: check count version %d", errMalformed, ver)
	}
	checks = int(int32(r.u32()))
	lastMs = int64(r.u64())
	if r.bad || len(r.b) != 0 || checks < 0 {
		return 0, 0, fmt.Errorf("%w: check count of %d bytes", errMalformed, len(v))
	}
	return checks, lastMs, nil
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// reader decodes big-endian fields; a short input sets bad instead of
// panicking, and later reads return zero values.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) string16() string {
	var n int
	if b := r.bytes(2); b != nil {
		n = int(binary.BigEndian.Uint16(b))
	}
	return string(r.bytes(n))
}
