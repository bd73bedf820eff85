package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/reqbudget"
)

// maxInFlight bounds requests read ahead of their responses on one
// connection; clients pipeline up to five produces.
const maxInFlight = 32

// readBufferSize is each connection's read buffer: room for a few small
// pipelined requests per system call. Larger requests are read straight
// into their own buffers, so a quiet connection costs little memory.
const readBufferSize = 4 << 10

// firstFrameChunk is the most a request's buffer holds before any of its
// bytes arrive. The buffer then doubles as it fills, so it is never more
// than twice the bytes received (plus this), whatever size the client
// announced.
const firstFrameChunk = 4 << 10

// conn serves one client connection with two goroutines: serve reads and
// runs each request's first phase in order; writeLoop runs second phases
// and writes responses in the same order.
type conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger
	// ctx ends with the connection: a reader waiting for the request
	// budget stops waiting.
	ctx    context.Context
	cancel context.CancelFunc
	// idle is --connections-max-idle; readTimeout --request-read-timeout.
	idle, readTimeout time.Duration

	clientID string             // of the request being handled; read goroutine only
	reqBytes *reqbudget.Request // of the request being handled; read goroutine only
	pending  chan pendingReply
	inFlight atomic.Int32 // requests read whose replies are not yet written
	// parked adds up the nanoseconds the write goroutine has spent parked
	// waiting for something other than work: a Fetch's long poll, a
	// JoinGroup or SyncGroup waiting for the other members. A request's
	// share, since it was read, is not slowness (see requestDone).
	parked atomic.Int64

	// principal is who the client is (principal.go): set by the TLS
	// handshake or SASL on the read goroutine before requests it allows.
	principal string
	sasl      *saslConn // nil when the listener needs no SASL (sasl.go)
	// closing, set by a handler, closes the connection once the replies
	// pushed so far are written (a failed authentication).
	closing error

	sec connSecurity // ACL and quota state (authorize.go, quota.go)
}

type pendingReply struct {
	header requestHeader
	finish finisher
	bytes  *reqbudget.Request // released once finish has run
	start  time.Time          // when its last byte was read; zero for a bare SASL token
	parked int64              // conn.parked when it was read
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	cfg := s.broker.Config()
	return &conn{
		s:           s,
		nc:          nc,
		log:         s.log.With("remote", nc.RemoteAddr().String()),
		ctx:         ctx,
		cancel:      cancel,
		idle:        cfg.ConnectionsMaxIdle,
		readTimeout: cfg.RequestReadTimeout,
		pending:     make(chan pendingReply, maxInFlight),
		principal:   anonymous,
		sasl:        s.sasl.newConn(),
	}
}

func (c *conn) serve() {
	defer c.cancel()
	if err := c.handshakeTLS(); err != nil {
		c.log.Info("closing connection", "reason", err)
		c.nc.Close()
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.pending)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, context.Canceled) {
		c.log.Info("closing connection", "reason", err)
	}
	<-writerDone
	c.nc.Close()
	if c.sec.principal != "" { // counted: security is set
		c.s.security.quotas.leave(c.sec.principal)
	}
}

func (c *conn) readLoop() error {
	r := bufio.NewReaderSize(c.nc, readBufferSize)
	maxFrame := c.s.broker.Config().MaxRequestBytes
	for {
		if err := c.waitThrottle(); err != nil {
			return err
		}
		size, err := c.readSize(r)
		if err != nil {
			return err
		}
		if size < 0 || size > maxFrame {
			return fmt.Errorf("request of %d bytes is over the %d-byte limit (--max-request-bytes)", size, maxFrame)
		}
		if limit := c.s.budget.Limit(); int64(size) > limit {
			// Waiting could never make room for it.
			return fmt.Errorf("request of %d bytes is larger than the whole %d-byte request budget (--queued-max-request-bytes)", size, limit)
		}
		rb := c.s.budget.NewRequest()
		frame, err := c.readFrame(r, int(size), rb)
		if err != nil {
			rb.Release()
			return err
		}
		if c.sasl.rawTokens() {
			// After SaslHandshake v0 the frames are bare SASL tokens.
			err := c.rawSASLToken(frame)
			rb.Release()
			if err == nil {
				err = c.closing
			}
			if err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		h, req, err := parseRequest(frame)
		if err != nil {
			rb.Release()
			var uv errUnsupportedVersion
			if errors.As(err, &uv) && h.key == apiVersionsKey {
				// Answered, not fatal: the client retries with a version
				// the answer says we support (KIP-511).
				c.push(pendingReply{header: h, finish: now(unsupportedApiVersions(h.version)), start: time.Now()})
				continue
			}
			return fmt.Errorf("bad request (key %d, version %d, client %q): %w", h.key, h.version, h.clientID, err)
		}
		if err := c.admit(h.key); err != nil {
			rb.Release()
			return err
		}
		c.clientID = h.clientID
		c.reqBytes = rb
		c.sec.quota.reqSize = size
		fin, err := c.handle(h, req)
		c.reqBytes = nil
		if err != nil {
			rb.Release()
			return err
		}
		c.push(pendingReply{header: h, finish: fin, bytes: rb, start: start})
		if c.closing != nil {
			return c.closing
		}
	}
}

func (c *conn) push(p pendingReply) {
	p.parked = c.parked.Load()
	c.inFlight.Add(1)
	c.pending <- p
}

// releaseRequestBytes gives the budget back the bytes of the request being
// handled, before its reply is due. A handler calls it once nothing it
// keeps refers to the request's bytes (produce, once its batches are
// appended), so replies waiting in the pipeline do not hold the budget.
func (c *conn) releaseRequestBytes() { c.reqBytes.Release() }

// readSize reads the next request's size. A connection may be quiet for
// --connections-max-idle between requests, and longer while a request of
// its own is in flight (a long poll, a rebalance): then the client waits
// for us.
func (c *conn) readSize(r io.Reader) (int32, error) {
	var buf [4]byte
	got := 0
	for got < len(buf) {
		c.nc.SetReadDeadline(time.Now().Add(c.idle))
		n, err := io.ReadFull(r, buf[got:])
		got += n
		switch {
		case err == nil:
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return 0, err
		case n > 0 || c.inFlight.Load() > 0:
			// Not idle: try again with a new deadline.
		default:
			return 0, fmt.Errorf("idle for %v (--connections-max-idle)", c.idle)
		}
	}
	return int32(binary.BigEndian.Uint32(buf[:])), nil
}

// readFrame reads a size-byte request. Its buffer grows as the bytes
// arrive, each growth taken from the request budget first, so announcing a
// size costs nothing and memory follows the bytes received. The whole
// request must arrive within --request-read-timeout of its size, not
// counting time spent waiting for the budget.
func (c *conn) readFrame(r io.Reader, size int, rb *reqbudget.Request) ([]byte, error) {
	deadline := time.Now().Add(c.readTimeout)
	var frame []byte
	for len(frame) < size {
		if len(frame) == cap(frame) {
			grow := min(size, max(firstFrameChunk, 2*len(frame))) - len(frame)
			start := time.Now()
			waited, err := rb.Grow(c.ctx, int64(grow))
			if err != nil {
				return nil, err
			}
			if waited {
				deadline = deadline.Add(time.Since(start))
			}
			bigger := make([]byte, len(frame), len(frame)+grow)
			copy(bigger, frame)
			frame = bigger
		}
		c.nc.SetReadDeadline(deadline)
		n, err := io.ReadFull(r, frame[len(frame):cap(frame)])
		frame = frame[:len(frame)+n]
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fmt.Errorf("%d-byte request incomplete %v after its size arrived, %d bytes came (--request-read-timeout)", size, c.readTimeout, len(frame))
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("reading %d-byte request: %w", size, io.ErrUnexpectedEOF) // mid-request: worth logging
		default:
			return nil, fmt.Errorf("reading %d-byte request: %w", size, err)
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
	if err := c.countPrincipal(); err != nil {
		return nil, err
	}
	start := time.Now()
	return c.throttled(h.key, start, c.authorized(h.key, req, apis[h.key].handle)), nil
}

func (c *conn) writeLoop() {
	w := &replyWriter{conn: c.nc}
	failed := false
	for p := range c.pending {
		if failed {
			p.bytes.Release()
			c.inFlight.Add(-1)
			continue // drain so the reader never blocks
		}
		rep, err := c.finish(p)
		p.bytes.Release()
		if err == nil && rep != nil {
			w.takeBuffers()
			c.nc.SetWriteDeadline(time.Now().Add(c.idle))
			err = rep.write(w, p.header)
		}
		if err == nil && !p.start.IsZero() { // zero: a bare SASL token, no request
			took := time.Since(p.start)
			// Parked time of earlier requests overlaps this one's only
			// partly: never count more than it took.
			waited := min(time.Duration(c.parked.Load()-p.parked), took)
			c.requestDone(p.header, rep, took, waited)
		}
		if err == nil && len(c.pending) == 0 && w.bw != nil {
			err = w.bw.Flush()
			w.returnBuffers() // nothing more to write for now
		}
		c.inFlight.Add(-1)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("replies unread for %v (--connections-max-idle)", c.idle)
			}
			if !errors.Is(err, net.ErrClosed) {
				c.log.Info("closing connection", "reason", err)
			}
			failed = true
			w.returnBuffers()
			c.nc.Close() // unblocks the reader
			c.cancel()   // and ends its wait for the budget
		}
	}
	if !failed && w.bw != nil {
		w.bw.Flush()
		w.returnBuffers()
	}
}

// parkedSince adds the time since start to the connection's parked time:
// a finisher calls it after waiting for data or for other clients.
func (c *conn) parkedSince(start time.Time) { c.parked.Add(int64(time.Since(start))) }

func (c *conn) finish(p pendingReply) (rep reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("request finisher panicked", "api", kmsg.NameForKey(p.header.key), "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error handling %s", kmsg.NameForKey(p.header.key))
		}
	}()
	return p.finish(), nil
}
