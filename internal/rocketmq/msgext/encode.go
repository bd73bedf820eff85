package msgext

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"

	"github.com/ferry-mq/ferry/internal/log"
)

// Magic is RocketMQ's message format version 1 magic code.
const Magic = 0xDAA320A7

// Header names with a meaning of their own in the encoding.
const (
	FlagHeader          = "rocketmq.flag"
	KeysProperty        = "KEYS"
	ReconsumeProperty   = "RECONSUME_TIME"
	maxPropertiesLength = 1<<15 - 1 // clients read the length as a signed int16
	maxTopicLength      = 255
)

const (
	sysFlagBornHostV6  = 1 << 4
	sysFlagStoreHostV6 = 1 << 5
)

// Queue is what every entry of one pull shares.
type Queue struct {
	Topic     string // the RocketMQ topic name, as the client named it
	QueueID   int32
	StoreHost netip.AddrPort
	// CommitLogOffset maps a record offset to the commitLogOffset field,
	// from which clients build the message id and which they send back in
	// CONSUMER_SEND_MSG_BACK.
	CommitLogOffset func(offset int64) int64
}

// Check reports whether entries for q can be encoded at all.
func (q *Queue) Check() error {
	if len(q.Topic) == 0 || len(q.Topic) > maxTopicLength {
		return fmt.Errorf("topic name of %d bytes cannot be encoded (1 to %d)", len(q.Topic), maxTopicLength)
	}
	return nil
}

// Append encodes r as one entry at the end of dst. q must pass Check.
func Append(dst []byte, q *Queue, r log.StoredRecord) []byte {
	start := len(dst)
	storeV6 := q.StoreHost.Addr().Is6() && !q.StoreHost.Addr().Is4In6()
	var sysFlag int32
	if storeV6 {
		sysFlag |= sysFlagStoreHostV6
	}
	flag, reconsume := int32(0), int32(0)
	r.EachHeader(func(k, v []byte) bool {
		switch string(k) {
		case FlagHeader:
			flag = parseInt32(v)
		case ReconsumeProperty:
			reconsume = parseInt32(v)
		}
		return true
	})
	be := binary.BigEndian
	dst = be.AppendUint32(dst, 0) // totalSize, set below
	dst = be.AppendUint32(dst, Magic)
	dst = be.AppendUint32(dst, crc32.ChecksumIEEE(r.Value)&0x7FFFFFFF)
	dst = be.AppendUint32(dst, uint32(q.QueueID))
	dst = be.AppendUint32(dst, uint32(flag))
	dst = be.AppendUint64(dst, uint64(r.Offset))
	dst = be.AppendUint64(dst, uint64(q.CommitLogOffset(r.Offset)))
	dst = be.AppendUint32(dst, uint32(sysFlag))
	dst = be.AppendUint64(dst, uint64(r.Timestamp))
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // born host 0.0.0.0:0
	dst = be.AppendUint64(dst, uint64(r.Timestamp))
	dst = appendHost(dst, q.StoreHost, storeV6)
	dst = be.AppendUint32(dst, uint32(reconsume))
	dst = be.AppendUint64(dst, 0) // prepared transaction offset
	dst = be.AppendUint32(dst, uint32(len(r.Value)))
	dst = append(dst, r.Value...)
	dst = append(dst, byte(len(q.Topic)))
	dst = append(dst, q.Topic...)
	dst = appendProperties(dst, r)
	be.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

func appendHost(dst []byte, ap netip.AddrPort, v6 bool) []byte {
	if v6 {
		a := ap.Addr().As16()
		dst = append(dst, a[:]...)
	} else {
		a := ap.Addr().Unmap().As4()
		dst = append(dst, a[:]...)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(ap.Port()))
}

// appendProperties appends the length-prefixed properties section.
func appendProperties(dst []byte, r log.StoredRecord) []byte {
	lenAt := len(dst)
	dst = append(dst, 0, 0)
	start := len(dst)
	if r.Key != nil && clean(r.Key) {
		dst = appendProperty(dst, []byte(KeysProperty), r.Key)
	}
	r.EachHeader(func(k, v []byte) bool {
		switch string(k) {
		case FlagHeader, KeysProperty:
			return true
		}
		if !clean(k) || !clean(v) || len(k) == 0 {
			return true
		}
		before := len(dst)
		dst = appendProperty(dst, k, v)
		if len(dst)-start > maxPropertiesLength {
			dst = dst[:before]
		}
		return true
	})
	if len(dst)-start > maxPropertiesLength { // KEYS alone too long
		dst = dst[:start]
	}
	binary.BigEndian.PutUint16(dst[lenAt:], uint16(len(dst)-start))
	return dst
}

func appendProperty(dst, k, v []byte) []byte {
	dst = append(dst, k...)
	dst = append(dst, 1)
	dst = append(dst, v...)
	return append(dst, 2)
}

// clean reports whether b can sit in the properties section.
func clean(b []byte) bool { return bytes.IndexByte(b, 1) < 0 && bytes.IndexByte(b, 2) < 0 }

// parseInt32 reads a decimal header value; anything else is 0.
func parseInt32(b []byte) int32 {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0
	}
	return int32(n)
}
