package kafka

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// reply is a response ready to be written.
type reply interface {
	write(w *replyWriter, h requestHeader) error
}

// replyWriter buffers small writes and sends file sections directly. Its
// buffers come from a pool while there are replies to write, so a quiet
// connection holds none.
type replyWriter struct {
	conn    net.Conn
	bw      *bufio.Writer // nil between bursts of replies
	scratch []byte
}

type replyBuffers struct {
	bw      *bufio.Writer
	scratch []byte
}

var replyBufferPool = sync.Pool{New: func() any {
	return &replyBuffers{bw: bufio.NewWriterSize(nil, 64<<10)}
}}

func (w *replyWriter) takeBuffers() {
	if w.bw != nil {
		return
	}
	b := replyBufferPool.Get().(*replyBuffers)
	w.bw, w.scratch = b.bw, b.scratch
	w.bw.Reset(w.conn)
}

// returnBuffers puts the buffers back; anything not flushed is dropped.
func (w *replyWriter) returnBuffers() {
	if w.bw == nil {
		return
	}
	w.bw.Reset(nil)
	replyBufferPool.Put(&replyBuffers{bw: w.bw, scratch: w.scratch[:0]})
	w.bw, w.scratch = nil, nil
}

// header appends the response header: size, correlation id, and the empty
// tag section of flexible responses (never for ApiVersions, whose response
// header stays v0 so old clients can read it).
func responseHeader(dst []byte, h requestHeader, bodySize int, flexible bool) []byte {
	size := 4 + bodySize
	if flexible && h.key != apiVersionsKey {
		size++
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.correlation))
	if flexible && h.key != apiVersionsKey {
		dst = append(dst, 0)
	}
	return dst
}

// msgReply is a response fully encoded by kmsg.
type msgReply struct{ resp kmsg.Response }

func (r msgReply) write(w *replyWriter, h requestHeader) error {
	body := r.resp.AppendTo(w.scratch[:0])
	var hdr [9]byte
	head := responseHeader(hdr[:0], h, len(body), r.resp.IsFlexible())
	if _, err := w.bw.Write(head); err != nil {
		return err
	}
	_, err := w.bw.Write(body)
	if cap(body) <= 1<<20 {
		w.scratch = body[:0]
	}
	return err
}
