package kafka

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxInFlight bounds requests read ahead of their responses on one
// connection; clients pipeline up to five produces.
const maxInFlight = 32

// conn serves one client connection with two goroutines: serve reads and
// runs each request's first phase in order; writeLoop runs second phases
// and writes responses in the same order.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger

	clientID string // of the request being handled; read goroutine only
	pending  chan pendingReply
}

type pendingReply struct {
	header requestHeader
	finish finisher
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s:       s,
		nc:      nc,
		log:     s.log.With("remote", nc.RemoteAddr().String()),
		pending: make(chan pendingReply, maxInFlight),
	}
}

func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.pending)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.log.Info("closing connection", "reason", err)
	}
	<-writerDone
	c.nc.Close()
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	maxFrame := c.s.broker.Config().MaxRequestBytes
	for {
		if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 0 || size > maxFrame {
			return fmt.Errorf("request of %d bytes is over the %d-byte limit (--max-request-bytes)", size, maxFrame)
		}
		frame, err := readFrame(r, int(size))
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // mid-request: worth logging
			}
			return fmt.Errorf("reading %d-byte request: %w", size, err)
		}
		h, req, err := parseRequest(frame)
		if err != nil {
			var uv errUnsupportedVersion
			if errors.As(err, &uv) && h.key == apiVersionsKey {
				// Answered, not fatal: the client retries with a version
				// the answer says we support (KIP-511).
				c.pending <- pendingReply{h, now(unsupportedApiVersions(h.version))}
				continue
			}
			return fmt.Errorf("bad request (key %d, version %d, client %q): %w", h.key, h.version, h.clientID, err)
		}
		c.clientID = h.clientID
		fin, err := c.handle(h, req)
		if err != nil {
			return err
		}
		c.pending <- pendingReply{h, fin}
	}
}

// frameChunk is the most a frame's buffer grows ahead of the bytes read.
const frameChunk = 1 << 20

// readFrame reads a size-byte frame. A large frame's buffer grows as its
// bytes arrive, so a client cannot make the broker allocate up to
// --max-request-bytes per connection by sending a 4-byte size.
func readFrame(r io.Reader, size int) ([]byte, error) {
	frame := make([]byte, 0, min(size, frameChunk))
	for len(frame) < size {
		if len(frame) == cap(frame) {
			frame = slices.Grow(frame, min(size-len(frame), len(frame)))
		}
		n, err := io.ReadFull(r, frame[len(frame):min(cap(frame), size)])
		frame = frame[:len(frame)+n]
		if err != nil {
			return nil, err
		}
	}
	return frame, nil
}

// handle runs a request's first phase, turning a panic into a closed
// connection instead of a dead broker.
func (c *conn) handle(h requestHeader, req kmsg.Request) (fin finisher, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("request handler panicked", "api", kmsg.NameForKey(h.key), "version", h.version, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error handling %s", kmsg.NameForKey(h.key))
		}
	}()
	return apis[h.key].handle(c, req), nil
}

func (c *conn) writeLoop() {
	w := &replyWriter{conn: c.nc, bw: bufio.NewWriterSize(c.nc, 64<<10)}
	failed := false
	for p := range c.pending {
		if failed {
			continue // drain so the reader never blocks
		}
		rep, err := c.finish(p)
		if err == nil && rep != nil {
			err = rep.write(w, p.header)
		}
		if err == nil && len(c.pending) == 0 {
			err = w.bw.Flush()
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.log.Info("closing connection", "reason", err)
			}
			failed = true
			c.nc.Close() // unblocks the reader
		}
	}
	if !failed {
		w.bw.Flush()
	}
}

func (c *conn) finish(p pendingReply) (rep reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("request finisher panicked", "api", kmsg.NameForKey(p.header.key), "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error handling %s", kmsg.NameForKey(p.header.key))
		}
	}()
	return p.finish(), nil
}
