package rocketmq

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// Property names (RocketMQ's MessageConst) the front reads or writes.
const (
	PropKeys              = "KEYS"
	PropTags              = "TAGS"
	PropUniqKey           = "UNIQ_KEY"
	PropDelayLevel        = "DELAY"
	PropTransaction       = "TRAN_MSG"
	PropProducerGroup     = "PGROUP"
	PropReconsumeTime     = "RECONSUME_TIME"
	PropMaxReconsumeTimes = "MAX_RECONSUME_TIMES"
	PropOriginMessageID   = "ORIGIN_MESSAGE_ID"
	PropRetryTopic        = "RETRY_TOPIC"
	PropRealTopic         = "REAL_TOPIC"
	PropRealQueueID       = "REAL_QID"
	PropTimerDeliverMS    = "TIMER_DELIVER_MS"
	PropTimerDelaySec     = "TIMER_DELAY_SEC"
	PropTimerDelayMS      = "TIMER_DELAY_MS"
	PropStartDeliverTime  = "__STARTDELIVERTIME"
	PropWaitStoreMsgOK    = "WAIT"
)

// HeaderFlag is the record header holding a message's flag when it is not 0.
const HeaderFlag = "rocketmq.flag"

// Property separators of RocketMQ's properties string: name\x01value\x02.
const (
	nameValueSep = '\x01'
	propertySep  = '\x02'
)

// sysFlag bits of a message (MessageSysFlag).
const (
	sysFlagCompressed      = 0x1
	sysFlagMultiTags       = 0x2
	sysFlagTxnPrepared     = 0x1 << 2
	sysFlagTxnCommit       = 0x2 << 2
	sysFlagTxnRollback     = 0x3 << 2
	sysFlagTxnMask         = 0x3 << 2
	sysFlagBornHostV6      = 0x1 << 4
	sysFlagStoreHostV6     = 0x1 << 5
	sysFlagCompressionMask = 0x7 << 8
	sysFlagCompressionZlib = 0x3 << 8
)

// Property is one message property.
type Property struct{ Name, Value string }

// Message is a RocketMQ message as the broker receives it: what a send
// request carries for one message.
type Message struct {
	Topic          string // the RocketMQ name (%RETRY%G stays so)
	Flag           int32
	Body           []byte // decompressed
	Properties     []Property
	BornTimestamp  int64 // Unix ms
	ReconsumeTimes int32
}

// Property returns the value of property name ("" when absent).
func (m *Message) Property(name string) string {
	for _, p := range m.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// SetProperty sets property name, replacing its value if present.
func (m *Message) SetProperty(name, value string) {
	for i, p := range m.Properties {
		if p.Name == name {
			m.Properties[i].Value = value
			return
		}
	}
	m.Properties = append(m.Properties, Property{name, value})
}

// RemoveProperty removes property name.
func (m *Message) RemoveProperty(name string) {
	for i, p := range m.Properties {
		if p.Name == name {
			m.Properties = append(m.Properties[:i], m.Properties[i+1:]...)
			return
		}
	}
}

// ParseProperties decodes RocketMQ's properties string. Items without a
// separator are skipped, as RocketMQ's decoder does.
func ParseProperties(s string) []Property {
	var props []Property
	for s != "" {
		item := s
		if i := strings.IndexByte(s, propertySep); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if i := strings.IndexByte(item, nameValueSep); i > 0 {
			props = append(props, Property{item[:i], item[i+1:]})
		}
	}
	return props
}

// AppendProperties encodes props as RocketMQ's properties string.
func AppendProperties(dst []byte, props []Property) []byte {
	for _, p := range props {
		dst = append(dst, p.Name...)
		dst = append(dst, nameValueSep)
		dst = append(dst, p.Value...)
		dst = append(dst, propertySep)
	}
	return dst
}

// Record maps a message to a Ferry record (the table in doc.go): value =
// body; key = the KEYS property (nil when absent); every other property a
// header of the same name; the flag a header when not 0; timestamp = the
// born timestamp.
func (m *Message) Record() log.Record {
	rec := log.Record{Value: m.Body, Timestamp: m.BornTimestamp}
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	for _, p := range m.Properties {
		if p.Name == PropKeys {
			rec.Key = []byte(p.Value)
			continue
		}
		rec.Headers = append(rec.Headers, kmsg.Header{Key: p.Name, Value: []byte(p.Value)})
	}
	if m.Flag != 0 {
		rec.Headers = append(rec.Headers, kmsg.Header{Key: HeaderFlag, Value: strconv.AppendInt(nil, int64(m.Flag), 10)})
	}
	return rec
}

// MessageFromRecord maps a Ferry record back to a message: body = value,
// KEYS = key, properties = headers (the flag header becomes the flag),
// born timestamp = the record's timestamp. topic is the RocketMQ name.
func MessageFromRecord(topic string, key, value []byte, headers []kmsg.Header, timestamp int64) Message {
	m := Message{Topic: topic, Body: value, BornTimestamp: timestamp}
	if key != nil {
		m.Properties = append(m.Properties, Property{PropKeys, string(key)})
	}
	for _, h := range headers {
		if h.Key == HeaderFlag {
			if f, err := strconv.ParseInt(string(h.Value), 10, 32); err == nil {
				m.Flag = int32(f)
			}
			continue
		}
		m.Properties = append(m.Properties, Property{h.Key, string(h.Value)})
	}
	return m
}

// decompressBody undoes the client's compression of a body (sysFlag bit
// 0; zlib, the only codec the clients use by default), refusing output
// over limit bytes.
func decompressBody(body []byte, sysFlag int32, limit int) ([]byte, error) {
	if sysFlag&sysFlagCompressed == 0 {
		return body, nil
	}
	if t := sysFlag & sysFlagCompressionMask; t != 0 && t != sysFlagCompressionZlib {
		return nil, fmt.Errorf("compression type %d is not supported (only zlib)", t>>8)
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("compressed body: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("compressed body: %v", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("body decompresses to more than %d bytes", limit)
	}
	return out, nil
}

// errBatch marks a malformed batch body.
var errBatch = errors.New("malformed batch body")

// decodeBatchBody splits a SEND_BATCH_MESSAGE body into its messages:
// each is TOTALSIZE(4) MAGIC(4) BODYCRC(4) FLAG(4) BODYLEN(4) BODY
// PROPLEN(2) PROPERTIES, as the clients' batch encoders write them.
func decodeBatchBody(b []byte) ([]Message, error) {
	var msgs []Message
	for len(b) > 0 {
		if len(b) < 20 {
			return nil, fmt.Errorf("%w: %d bytes left, less than a message header", errBatch, len(b))
		}
		total := int(binary.BigEndian.Uint32(b))
		if total < 22 || total > len(b) {
			return nil, fmt.Errorf("%w: message size %d with %d bytes left", errBatch, total, len(b))
		}
		one := b[:total]
		b = b[total:]
		m := Message{Flag: int32(binary.BigEndian.Uint32(one[12:]))}
		bodyLen := int(binary.BigEndian.Uint32(one[16:]))
		if bodyLen < 0 || 20+bodyLen+2 > total {
			return nil, fmt.Errorf("%w: body of %d bytes in a message of %d", errBatch, bodyLen, total)
		}
		m.Body = one[20 : 20+bodyLen]
		rest := one[20+bodyLen:]
		propLen := int(binary.BigEndian.Uint16(rest))
		if 2+propLen != len(rest) {
			return nil, fmt.Errorf("%w: properties of %d bytes where %d remain", errBatch, propLen, len(rest)-2)
		}
		m.Properties = ParseProperties(string(rest[2:]))
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: no messages", errBatch)
	}
	return msgs, nil
}
