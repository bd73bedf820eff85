package kafka

import (
	"github.com/twmb/franz-go/pkg/kbin"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/log"
)

// fetchReply is a Fetch response whose record bytes stay in segment files
// until they are sent. Its envelope is encoded here, field for field as
// kmsg.FetchResponse encodes it for versions 4-12 (the test compares the
// two byte for byte); the records of each partition are written with
// sendfile between the envelope's pieces.
type fetchReply struct {
	version   int16
	throttle  int32
	errorCode int16
	sessionID int32
	topics    []fetchTopic
}

type fetchTopic struct {
	name       string
	partitions []fetchPartition
}

type fetchPartition struct {
	partition     int32
	errorCode     int16
	highWatermark int64
	lastStable    int64
	logStart      int64
	aborted       []log.AbortedTxn // read_committed only; nil is encoded as null
	records       log.Slice
	part          *broker.Partition // where records come from, for metrics
}

// piece is a run of envelope bytes followed by a file section.
type piece struct {
	end  int // envelope bytes [previous end, end) precede records
	file log.Slice
}

// encode builds the envelope, returning it and where each partition's
// records go.
func (r *fetchReply) encode(dst []byte) ([]byte, []piece, int64) {
	flex := r.version >= 12
	var pieces []piece
	var fileBytes int64
	dst = kbin.AppendInt32(dst, r.throttle)
	if r.version >= 7 {
		dst = kbin.AppendInt16(dst, r.errorCode)
		dst = kbin.AppendInt32(dst, r.sessionID)
	}
	dst = appendArrayLen(dst, len(r.topics), flex)
	for _, t := range r.topics {
		if flex {
			dst = kbin.AppendCompactString(dst, t.name)
		} else {
			dst = kbin.AppendString(dst, t.name)
		}
		dst = appendArrayLen(dst, len(t.partitions), flex)
		for _, p := range t.partitions {
			dst = kbin.AppendInt32(dst, p.partition)
			dst = kbin.AppendInt16(dst, p.errorCode)
			dst = kbin.AppendInt64(dst, p.highWatermark)
			dst = kbin.AppendInt64(dst, p.lastStable)
			if r.version >= 5 {
				dst = kbin.AppendInt64(dst, p.logStart)
			}
			if flex {
				dst = kbin.AppendCompactNullableArrayLen(dst, len(p.aborted), p.aborted == nil)
			} else {
				dst = kbin.AppendNullableArrayLen(dst, len(p.aborted), p.aborted == nil)
			}
			for _, a := range p.aborted {
				dst = kbin.AppendInt64(dst, a.ProducerID)
				dst = kbin.AppendInt64(dst, a.FirstOffset)
				if flex {
					dst = append(dst, 0) // aborted transaction tags
				}
			}
			if r.version >= 11 {
				dst = kbin.AppendInt32(dst, -1) // preferred read replica: none
			}
			size := p.records.Size
			if flex {
				dst = kbin.AppendUvarint(dst, uint32(size)+1)
			} else {
				dst = kbin.AppendInt32(dst, int32(size))
			}
			if size > 0 {
				pieces = append(pieces, piece{end: len(dst), file: p.records})
				fileBytes += size
			}
			if flex {
				dst = append(dst, 0) // partition tags
			}
		}
		if flex {
			dst = append(dst, 0) // topic tags
		}
	}
	if flex {
		dst = append(dst, 0) // response tags
	}
	return dst, pieces, fileBytes
}

func appendArrayLen(dst []byte, n int, flex bool) []byte {
	if flex {
		return kbin.AppendCompactArrayLen(dst, n)
	}
	return kbin.AppendArrayLen(dst, n)
}

func (r *fetchReply) write(w *replyWriter, h requestHeader) error {
	env, pieces, fileBytes := r.encode(w.scratch[:0])
	defer func() {
		if cap(env) <= 1<<20 {
			w.scratch = env[:0]
		}
	}()
	var hdr [9]byte
	head := responseHeader(hdr[:0], h, len(env)+int(fileBytes), r.version >= 12)
	if _, err := w.bw.Write(head); err != nil {
		return err
	}
	start := 0
	for _, p := range pieces {
		if _, err := w.bw.Write(env[start:p.end]); err != nil {
			return err
		}
		if err := w.sendSection(p.file); err != nil {
			return err
		}
		start = p.end
	}
	_, err := w.bw.Write(env[start:])
	return err
}
