package rocketmq

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
	"github.com/ferry-mq/ferry/internal/rocketmq/filter"
	"github.com/ferry-mq/ferry/internal/rocketmq/msgext"
)

// Bounds of one pull's work.
const (
	// pullFirstReadBytes is how much of the log a pull reads first: about
	// what 32 messages of a few KB take (a batch bigger than it is read
	// whole). Reads after it, looking past messages a filter skipped,
	// take pullReadBytes.
	pullFirstReadBytes = 128 << 10
	pullReadBytes      = 1 << 20
	// pullMaxBodyBytes bounds a response: messages are added until the
	// body reaches it (one message is sent whatever its size).
	pullMaxBodyBytes = 4 << 20
	// pullScanBytes bounds the log bytes one pull walks looking for
	// messages its filter accepts before it answers
	// PULL_RETRY_IMMEDIATELY with the offset it reached.
	pullScanBytes = 16 << 20
	// maxPullMessages caps maxMsgNums.
	maxPullMessages = 1024
)

// pullStatus is what a read of a queue found.
type pullStatus int

const (
	pullFound       pullStatus = iota // messages in body
	pullNoNew                         // nothing past the offset yet: long-poll
	pullNoMatch                       // scanned pullScanBytes, nothing matched
	pullOffsetMoved                   // the offset is outside the queue
)

// pullResult is one read's outcome; next is nextBeginOffset.
type pullResult struct {
	status      pullStatus
	body        []byte
	messages    int
	next        int64
	minOffset   int64
	maxOffset   int64
	scanned     int64 // log bytes walked
	filteredOut int
}

// readBuffers recycles the buffers batches are read into.
var readBuffers = sync.Pool{New: func() any { b := make([]byte, 0, pullReadBytes); return &b }}

// errPullFull stops the record walk once maxMsgs messages, or
// pullMaxBodyBytes, are encoded.
var errPullFull = errors.New("pull full")

// readQueue reads up to maxMsgs messages of part from offset that f
// accepts, encoded for q, taking decompressed batches from cache. Records of aborted Kafka transactions are
// skipped and nothing past the last stable offset is read, as a
// read_committed Kafka consumer sees the partition.
func readQueue(part *broker.Partition, q *msgext.Queue, offset int64, maxMsgs int, f *filter.Filter, cache log.RecordsCache) (pullResult, error) {
	l := part.Log()
	res := pullResult{minOffset: l.StartOffset(), maxOffset: part.HighWatermark(), next: offset}
	switch {
	case offset < res.minOffset:
		res.status, res.next = pullOffsetMoved, res.minOffset
		return res, nil
	case offset > res.maxOffset:
		res.status, res.next = pullOffsetMoved, res.maxOffset
		return res, nil
	}
	bufp := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(bufp)
	readSize := pullFirstReadBytes
	for res.scanned < pullScanBytes {
		slice, _, aborted, err := part.ReadCommitted(res.next, readSize, true)
		readSize = pullReadBytes
		if err != nil {
			if errors.Is(err, log.ErrOffsetOutOfRange) { // retention moved the start meanwhile
				res.status, res.next = pullOffsetMoved, max(l.StartOffset(), res.next)
				return res, nil
			}
			return res, err
		}
		if slice.Size == 0 {
			break
		}
		data := (*bufp)[:0]
		if int64(cap(data)) < slice.Size {
			data = make([]byte, 0, slice.Size) // one batch over pullReadBytes
		}
		data = data[:slice.Size]
		if n, err := slice.File.ReadAt(data, slice.Pos); n != len(data) {
			return res, err
		}
		res.scanned += slice.Size
		from := res.next
		end, err := log.EachStoredRecordFrom(data, from, cache, func(h log.BatchHeader, r log.StoredRecord) error {
			res.next = r.Offset + 1
			if h.Transactional() && inAborted(aborted, h.ProducerID, r.Offset) {
				return nil
			}
			if !msgext.Matches(f, r) {
				res.filteredOut++
				return nil
			}
			res.body = msgext.Append(res.body, q, r)
			res.messages++
			if res.messages >= maxMsgs || len(res.body) >= pullMaxBodyBytes {
				return errPullFull
			}
			return nil
		})
		if err == errPullFull {
			break
		}
		if err != nil {
			return res, err
		}
		res.next = max(res.next, end)
		if res.messages > 0 {
			break
		}
	}
	switch {
	case res.messages > 0:
		res.status = pullFound
	case res.scanned >= pullScanBytes:
		res.status = pullNoMatch
	default:
		res.status = pullNoNew
	}
	return res, nil
}

// inAborted reports whether the record at offset of producer pid belongs
// to one of the aborted transactions.
func inAborted(aborted []log.AbortedTxn, pid, offset int64) bool {
	for _, a := range aborted {
		if a.ProducerID == pid && a.FirstOffset <= offset && offset <= a.LastOffset {
			return true
		}
	}
	return false
}

// storeHost is the address pulled messages name as their store host: the
// advertised RocketMQ address when its host is an IPv4 address, else
// 0.0.0.0 with its port (as message ids write it, msgid.go).
func storeHost(advertised string) netip.AddrPort {
	host, port, _ := net.SplitHostPort(advertised)
	p, _ := strconv.ParseUint(port, 10, 16)
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Unmap().Is4() {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p))
}

// pullQueue describes the queue of (Ferry) topic's partition for encoding,
// named rocketTopic as the client asked.
func (s *Server) pullQueue(rocketTopic, topic string, partition, queueID int32) *msgext.Queue {
	base := CommitLogOffset(topic, partition, 0)
	return &msgext.Queue{
		Topic: rocketTopic, QueueID: queueID, StoreHost: storeHost(s.advertised),
		CommitLogOffset: func(o int64) int64 { return base | o&(1<<offsetBits-1) },
	}
}
