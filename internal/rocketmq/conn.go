package rocketmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// maxLater bounds the requests of one connection waiting off the read
// goroutine (sends waiting for an fsync, long polls); the reader stops
// reading while that many wait.
const maxLater = 1024

// Conn is one client connection. Requests are read and handled in order
// on its read goroutine; responses and server→client requests go out
// through its write goroutine, in any order (RocketMQ matches them by
// opaque).
type Conn struct {
	s   *Server
	nc  net.Conn
	log *slog.Logger

	out    chan *Command
	closed chan struct{} // closed when the connection ends
	once   sync.Once
	// ctx ends with the connection (or the server): it stops a wait for
	// the request budget.
	ctx    context.Context
	cancel context.CancelFunc

	later chan struct{} // semaphore of requests handled off the read goroutine
	// held are Later work not started yet: the read goroutine starts it
	// once it has handled every frame already buffered, so that sends
	// arriving together are all appended before the first of them waits
	// for an fsync, and one group-commit fsync covers them all. Only the
	// read goroutine touches it.
	held []func()

	nextOpaque atomic.Int32
	pendingMu  sync.Mutex
	pending    map[int32]chan *Command // server→client requests awaiting answers
}

func newConn(s *Server, nc net.Conn) *Conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &Conn{
		s: s, nc: nc, log: s.log.With("remote", nc.RemoteAddr().String()),
		out: make(chan *Command, 256), closed: make(chan struct{}), ctx: ctx, cancel: cancel,
		later: make(chan struct{}, maxLater), pending: map[int32]chan *Command{},
	}
}

// Server is the server the connection belongs to.
func (c *Conn) Server() *Server { return c.s }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() string { return c.nc.RemoteAddr().String() }

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.closed }

func (c *Conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.cancel()
		c.nc.Close()
	})
}

func (c *Conn) serve() {
	defer c.close()
	defer c.startHeld()
	go c.writeLoop()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		if r.Buffered() == 0 {
			c.startHeld()
		}
		if c.s.idle > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.idle))
		}
		// Once a frame has begun, the rest must come within the request
		// read timeout: a client may not hold a frame half-sent.
		if _, err := r.Peek(4); err != nil {
			c.logReadError(err)
			return
		}
		if c.s.readTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.readTimeout))
		}
		// The frame's bytes come from the listener's request budget as
		// they arrive, and go back once it is handled (its body is
		// appended or copied by then; Later work keeps only its answer).
		rb := c.s.budget.NewRequest()
		cmd, err := readFrame(r, c.s.maxFrame, func(n int) error {
			_, err := rb.Grow(c.ctx, int64(n))
			return err
		})
		if err != nil {
			rb.Release()
			c.logReadError(err)
			return
		}
		if cmd.IsResponse() {
			c.deliver(cmd)
		} else if resp := c.handle(cmd); resp != nil && !cmd.IsOneway() {
			c.send(resp)
		}
		rb.Release()
	}
}

func (c *Conn) logReadError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.log.Debug("connection closed")
	case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrBadFrame):
		c.log.Warn("closing connection: bad remoting frame", "err", err)
	case errors.As(err, &ne) && ne.Timeout():
		c.log.Debug("closing idle connection", "idle", c.s.idle)
	default:
		c.log.Debug("connection read failed", "err", err)
	}
}

// handle runs the request's handler; an unknown code or a handler panic
// gets an error response, never a dead broker.
func (c *Conn) handle(req *Command) (resp *Command) {
	c.s.metrics.countRequest(req.Code)
	c.log.Debug("request", "code", req.Code, "opaque", req.Opaque, "fields", len(req.ExtFields), "body_bytes", len(req.Body))
	h, ok := handlers[req.Code]
	if !ok {
		c.log.Debug("request code not supported", "code", req.Code)
		return errorResponse(req, ResRequestCodeNotSupported, fmt.Sprintf("request code %d is not supported by Ferry", req.Code))
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("request handler panicked", "code", req.Code, "panic", p, "stack", string(debug.Stack()))
			resp = errorResponse(req, ResSystemError, fmt.Sprintf("internal error handling request code %d", req.Code))
		}
	}()
	return h(c, req)
}

// Later runs fn off the read goroutine and sends its response (unless
// req is oneway or fn returns nil); a handler returns Later's nil. Use it
// for work that waits: an fsync, replication, a long poll. fn starts once
// the frames already received are handled (see held), and the reader
// waits while maxLater such requests are in flight. Call it only from a
// handler.
func (c *Conn) Later(req *Command, fn func() *Command) *Command {
	select {
	case c.later <- struct{}{}:
	default:
		// Full: what is held must run to make room, or the reader
		// would wait for work that only it can start.
		c.startHeld()
		select {
		case c.later <- struct{}{}:
		case <-c.closed:
			return nil
		}
	}
	c.held = append(c.held, func() {
		defer func() { <-c.later }()
		var resp *Command
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.log.Error("request handler panicked", "code", req.Code, "panic", p, "stack", string(debug.Stack()))
					resp = errorResponse(req, ResSystemError, fmt.Sprintf("internal error handling request code %d", req.Code))
				}
			}()
			resp = fn()
		}()
		if resp != nil && !req.IsOneway() {
			c.send(resp)
		}
	})
	return nil
}

// startHeld starts the Later work held so far.
func (c *Conn) startHeld() {
	for _, run := range c.held {
		go run()
	}
	clear(c.held)
	c.held = c.held[:0]
}

// send queues cmd for the write goroutine; it is dropped once the
// connection has ended.
func (c *Conn) send(cmd *Command) {
	select {
	case c.out <- cmd:
	case <-c.closed:
	}
}

func (c *Conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	var buf []byte
	for {
		var cmd *Command
		select {
		case cmd = <-c.out:
		case <-c.closed:
			return
		}
		for cmd != nil {
			var err error
			buf, err = AppendFrame(buf[:0], cmd)
			if err != nil {
				c.log.Error("cannot encode response; dropped", "code", cmd.Code, "err", err)
			} else if _, err := w.Write(buf); err != nil {
				c.close()
				return
			}
			select {
			case cmd = <-c.out: // write what is queued, then flush once
			default:
				cmd = nil
			}
		}
		if err := w.Flush(); err != nil {
			c.close()
			return
		}
	}
}

// Invoke sends request req to the client and waits for its answer (or
// ctx's end, or the connection's): how the broker asks a producer for a
// transaction's state. The opaque is assigned here.
func (c *Conn) Invoke(ctx context.Context, req *Command) (*Command, error) {
	ch := make(chan *Command, 1)
	req.Opaque = c.nextOpaque.Add(1)
	req.Flag &^= flagResponse | flagOneway
	c.pendingMu.Lock()
	c.pending[req.Opaque] = ch
	c.pendingMu.Unlock()
	defer func() {
		c.pendingMu.Lock()
		delete(c.pending, req.Opaque)
		c.pendingMu.Unlock()
	}()
	c.send(req)
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.closed:
		return nil, fmt.Errorf("connection to %s closed", c.RemoteAddr())
	}
}

// Oneway sends request req to the client expecting no answer (how the
// broker tells consumers their group changed, or asks a producer to
// check a transaction: CHECK_TRANSACTION_STATE is oneway in RocketMQ).
func (c *Conn) Oneway(req *Command) {
	req.Opaque = c.nextOpaque.Add(1)
	req.Flag = req.Flag&^flagResponse | flagOneway
	c.send(req)
}

func (c *Conn) deliver(resp *Command) {
	c.pendingMu.Lock()
	ch, ok := c.pending[resp.Opaque]
	c.pendingMu.Unlock()
	if !ok {
		c.log.Debug("response to no pending request", "opaque", resp.Opaque, "code", resp.Code)
		return
	}
	select {
	case ch <- resp:
	default:
	}
}
