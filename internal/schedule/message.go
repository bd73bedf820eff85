package schedule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Message is one record to append to Topic/Partition at DeliverAt.
type Message struct {
	Topic     string
	Partition int32
	Key       []byte // the delivered record's key, and the key Cancel matches
	Value     []byte
	Headers   []kmsg.Header
	Timestamp time.Time // of the delivered record; zero means the delivery time
	DeliverAt time.Time // zero or past means as soon as possible
}

// Record kinds: the first byte of a __scheduled record's key.
const (
	kindMessage = 'm'
	kindCancel  = 'c'
)

const (
	messageKeyLen  = 17 // 'm' + deliverAt + id
	formatVersion  = 1
	noTimestamp    = -1
	maxHeaderCount = 1 << 16
)

// errMalformed marks a __scheduled record the scheduler cannot read.
var errMalformed = errors.New("schedule: malformed record")

func messageKey(deliverAt int64, id uint64) []byte {
	k := make([]byte, messageKeyLen)
	k[0] = kindMessage
	binary.BigEndian.PutUint64(k[1:], uint64(deliverAt))
	binary.BigEndian.PutUint64(k[9:], id)
	return k
}

func parseMessageKey(k []byte) (deliverAt int64, id uint64, err error) {
	if len(k) != messageKeyLen || k[0] != kindMessage {
		return 0, 0, fmt.Errorf("%w: message key of %d bytes", errMalformed, len(k))
	}
	return int64(binary.BigEndian.Uint64(k[1:])), binary.BigEndian.Uint64(k[9:]), nil
}

// cancelKey is the key of a cancel record; topic names never hold 0x00.
func cancelKey(topic string, key []byte) []byte {
	k := make([]byte, 0, 2+len(topic)+len(key))
	k = append(k, kindCancel)
	k = append(k, topic...)
	k = append(k, 0)
	return append(k, key...)
}

// cancelMatch is what a cancel names: a topic and a record key, as one
// string usable as a map key (topic 0x00 key).
func cancelMatch(topic string, key []byte) string {
	return string(cancelKey(topic, key)[1:])
}

func encodeMessage(m *Message) []byte {
	n := 1 + 8 + 4 + binary.MaxVarintLen64*3 + len(m.Topic) + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, formatVersion)
	ts := int64(noTimestamp)
	if !m.Timestamp.IsZero() {
		ts = m.Timestamp.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Partition))
	b = binary.AppendUvarint(b, uint64(len(m.Topic)))
	b = append(b, m.Topic...)
	b = appendNullable(b, m.Key)
	b = appendNullable(b, m.Value)
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = appendNullable(b, h.Value)
	}
	return b
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(v)))
	return append(b, v...)
}

// decodeMessage decodes a message record's value. Slices alias b.
func decodeMessage(b []byte) (Message, error) {
	var m Message
	d := decoder{b: b}
	if v := d.byte(); v != formatVersion {
		return m, fmt.Errorf("%w: version %d", errMalformed, v)
	}
	ts := int64(d.uint64())
	m.Partition = int32(d.uint32())
	m.Topic = string(d.bytes())
	m.Key = d.nullable()
	m.Value = d.nullable()
	count := d.uvarint()
	if count > maxHeaderCount || count > uint64(len(d.b)) {
		return m, fmt.Errorf("%w: %d headers", errMalformed, count)
	}
	if count > 0 {
		m.Headers = make([]kmsg.Header, count)
	}
	for i := range m.Headers {
		m.Headers[i].Key = string(d.bytes())
		m.Headers[i].Value = d.nullable()
	}
	if d.err != nil {
		return m, d.err
	}
	if len(d.b) != 0 {
		return m, fmt.Errorf("%w: %d trailing bytes", errMalformed, len(d.b))
	}
	if ts != noTimestamp {
		m.Timestamp = time.UnixMilli(ts)
	}
	return m, nil
}

// decoder reads the fields of a message value; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", errMalformed, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("version")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail("int64")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail("int32")
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("bytes")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) nullable() []byte {
	n, k := binary.Varint(d.b)
	if k <= 0 || n < -1 || n > int64(len(d.b)-k) {
		d.fail("bytes")
		return nil
	}
	d.b = d.b[k:]
	if n < 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
