package rocketmq_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/rocketmq"
	"github.com/ferry-mq/ferry/internal/server"
)

// rawConn is a hand-driven remoting connection.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, s *server.Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.RocketMQAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// call sends req and returns the response.
func (c *rawConn) call(req *rocketmq.Command) *rocketmq.Command {
	c.t.Helper()
	frame, err := rocketmq.AppendFrame(nil, req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(frame)
	resp, err := rocketmq.ReadFrame(c.r, 1<<30)
	if err != nil {
		c.t.Fatal(err)
	}
	if !resp.IsResponse() || resp.Opaque != req.Opaque {
		c.t.Fatalf("got %+v, want the response to opaque %d", resp, req.Opaque)
	}
	return resp
}

// expectClosed fails unless the server closes the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	_, err := c.r.ReadByte()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(fmtErr(err), "reset") {
		c.t.Fatalf("connection still open (read: %v), want it closed", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sendRequest(code int16, fields map[string]string, body []byte) *rocketmq.Command {
	return &rocketmq.Command{Code: code, Version: 317, Opaque: 11, ExtFields: fields, Body: body, Serialize: rocketmq.SerializeJSON}
}

func validSendFields(topic string) map[string]string {
	return map[string]string{
		"producerGroup": "pg", "topic": topic, "queueId": "0", "sysFlag": "0",
		"bornTimestamp": "1700000000000", "flag": "0", "properties": "",
	}
}

// TestUnknownRequestCode: an unknown code is answered
// REQUEST_CODE_NOT_SUPPORTED on a connection that stays usable; the
// binary header encoding works as well as JSON.
func TestUnknownRequestCode(t *testing.T) {
	s := startNode(t, nil)
	c := dialRaw(t, s)
	for _, st := range []rocketmq.SerializeType{rocketmq.SerializeJSON, rocketmq.SerializeBinary} {
		req := sendRequest(9999, nil, nil)
		req.Serialize = st
		resp := c.call(req)
		if resp.Code != rocketmq.ResRequestCodeNotSupported || !strings.Contains(resp.Remark, "9999") {
			t.Fatalf("serialize %d: code %d remark %q", st, resp.Code, resp.Remark)
		}
		if resp.Serialize != st {
			t.Errorf("answered in serialize type %d to a request in %d", resp.Serialize, st)
		}
	}
	route := sendRequest(105, map[string]string{"topic": "no|pe"}, nil)
	if resp := c.call(route); resp.Code != rocketmq.ResTopicNotExist {
		t.Fatalf("route of a topic Kafka cannot name: code %d", resp.Code)
	}
}

// TestOversizeFrameCloses: a frame over --max-request-bytes closes the
// connection from its length alone; others are unaffected.
func TestOversizeFrameCloses(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.MaxRequestBytes = 1 << 20 })
	c := dialRaw(t, s)
	c.write(binary.BigEndian.AppendUint32(nil, 2<<20))
	c.expectClosed()
	other := dialRaw(t, s)
	if resp := other.call(sendRequest(9999, nil, nil)); resp.Code != rocketmq.ResRequestCodeNotSupported {
		t.Fatalf("other connection: code %d", resp.Code)
	}
}

// TestMalformedFrameCloses: a header that does not parse closes the
// connection.
func TestMalformedFrameCloses(t *testing.T) {
	s := startNode(t, nil)
	for name, frame := range map[string][]byte{
		"bad json":         {0, 0, 0, 8, 0, 0, 0, 4, '{', 'x', 'y', 'z'},
		"header past end":  {0, 0, 0, 6, 0, 0, 0, 200, '{', '}'},
		"unknown encoding": {0, 0, 0, 6, 9, 0, 0, 2, '{', '}'},
	} {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, s)
			c.write(frame)
			c.expectClosed()
		})
	}
}

// TestBadSends: a send without its required header fields, with a batch
// body that does not parse, or to a name Kafka cannot hold gets an error
// code saying why, and stores nothing.
func TestBadSends(t *testing.T) {
	s := startNode(t, nil)
	c := dialRaw(t, s)
	missing := validSendFields("bad")
	delete(missing, "queueId")
	if resp := c.call(sendRequest(10, missing, []byte("x"))); resp.Code != rocketmq.ResInvalidParameter || !strings.Contains(resp.Remark, "queueId") {
		t.Errorf("missing queueId: code %d remark %q", resp.Code, resp.Remark)
	}
	v2 := map[string]string{"a": "pg", "b": "bad", "e": "0", "f": "0", "g": "1", "h": "0"}
	if resp := c.call(sendRequest(320, v2, []byte{0, 0, 0, 99, 1, 2})); resp.Code != rocketmq.ResMessageIllegal {
		t.Errorf("garbled batch: code %d remark %q", resp.Code, resp.Remark)
	}
	if resp := c.call(sendRequest(10, validSendFields("a|b"), []byte("x"))); resp.Code != rocketmq.ResTopicNotExist || !strings.Contains(resp.Remark, "[a-zA-Z0-9._-]") {
		t.Errorf("bad name: code %d remark %q", resp.Code, resp.Remark)
	}
	compressed := validSendFields("bad")
	compressed["sysFlag"] = "1"
	if resp := c.call(sendRequest(10, compressed, []byte("not zlib"))); resp.Code != rocketmq.ResMessageIllegal {
		t.Errorf("bad compressed body: code %d remark %q", resp.Code, resp.Remark)
	}
	// The topic was created by the first request naming it; none of them stored a record.
	if p, err := s.Broker.Partition("bad", 0); err == nil && p.Log().EndOffset() != 0 {
		t.Fatalf("bad sends stored %d records", p.Log().EndOffset())
	}
}

// TestUnknownTopicAutoCreateOff: with automatic topic creation off, a
// real producer's send to an unknown topic fails with a clear error, the
// route of TBW102 is refused too, and no topic appears.
func TestUnknownTopicAutoCreateOff(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.AutoCreateTopics = false })
	c := dialRaw(t, s)
	if resp := c.call(sendRequest(10, validSendFields("ghost"), []byte("x"))); resp.Code != rocketmq.ResTopicNotExist || !strings.Contains(resp.Remark, "auto-create") {
		t.Errorf("send to unknown topic: code %d remark %q", resp.Code, resp.Remark)
	}
	if resp := c.call(sendRequest(105, map[string]string{"topic": "ghost"}, nil)); resp.Code != rocketmq.ResTopicNotExist {
		t.Errorf("route of an unknown topic with auto-create off: code %d", resp.Code)
	}
	if resp := c.call(sendRequest(105, map[string]string{"topic": "TBW102"}, nil)); resp.Code != rocketmq.ResTopicNotExist {
		t.Errorf("route of TBW102 with auto-create off: code %d", resp.Code)
	}
	p := newProducer(t, s, "pg-ghost")
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("ghost", []byte("x"))); err == nil {
		t.Fatal("send to an unknown topic with auto-create off succeeded")
	}
	if _, ok := s.Broker.Image().Topic("ghost"); ok {
		t.Fatal("topic ghost was created")
	}
}

// TestHalfSentFrameCloses: a connection that starts a frame and stops
// sending is closed after --request-read-timeout, not held open.
func TestHalfSentFrameCloses(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.RequestReadTimeout = 200 * time.Millisecond })
	c := dialRaw(t, s)
	c.write([]byte{0, 0, 1, 0, 0, 0})
	c.expectClosed()
}

// TestConnectionLimit: connections past --max-connections are closed at
// once; the ones within it are served.
func TestConnectionLimit(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.MaxConnections = 2 })
	a, b := dialRaw(t, s), dialRaw(t, s)
	for _, c := range []*rawConn{a, b} {
		if resp := c.call(sendRequest(9999, nil, nil)); resp.Code != rocketmq.ResRequestCodeNotSupported {
			t.Fatalf("code %d", resp.Code)
		}
	}
	dialRaw(t, s).expectClosed()
}

// TestSendOverMaxMessageBytes: a message over the topic's
// max.message.bytes is refused with MESSAGE_ILLEGAL, as Kafka produce
// refuses it, and nothing is stored.
func TestSendOverMaxMessageBytes(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.TopicDefaults["max.message.bytes"] = "1024" })
	p := newProducer(t, s, "pg-big")
	_, err := p.SendSync(context.Background(), primitive.NewMessage("big", make([]byte, 2000)))
	if err == nil || !strings.Contains(err.Error(), "max.message.bytes") || !strings.Contains(err.Error(), "13") {
		t.Fatalf("oversized send: %v, want MESSAGE_ILLEGAL (13) naming max.message.bytes", err)
	}
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("big", make([]byte, 100))); err != nil {
		t.Fatalf("small send after a refused one: %v", err)
	}
	part, err := s.Broker.Partition("big", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := part.Log().EndOffset(); n != 1 {
		t.Fatalf("stored %d records, want only the small one", n)
	}
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEveryCodeSurvivesGarbage: every served request code, sent with no
// header fields, with nonsense in the usual ones, and with a garbage body,
// is handled without a handler panic (which the server would turn into
// SYSTEM_ERROR and log).
func TestEveryCodeSurvivesGarbage(t *testing.T) {
	var logs lockedBuffer
	s := startNodeLogged(t, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	c := dialRaw(t, s)
	garbage := map[string]string{}
	for _, f := range []string{"topic", "queueId", "group", "consumerGroup", "producerGroup", "offset", "commitLogOffset",
		"timestamp", "maxMsgNums", "queueOffset", "sysFlag", "clientID", "msgId", "key", "a", "b", "e", "f", "g", "h", "i"} {
		garbage[f] = "\x01-9x%"
	}
	opaque := int32(100)
	for _, code := range rocketmq.RegisteredCodes() {
		for _, fields := range []map[string]string{nil, garbage} {
			for _, body := range [][]byte{nil, []byte("{\x00garbage")} {
				opaque++
				frame, err := rocketmq.AppendFrame(nil, &rocketmq.Command{Code: code, Opaque: opaque, ExtFields: fields, Body: body, Serialize: rocketmq.SerializeJSON})
				if err != nil {
					t.Fatal(err)
				}
				c.write(frame)
			}
		}
	}
	// A last request; its answer comes after the others were handled
	// (long polls aside, which answer later or never here).
	c.write(mustFrame(t, &rocketmq.Command{Code: 9999, Opaque: 1, Serialize: rocketmq.SerializeJSON}))
	for {
		resp, err := rocketmq.ReadFrame(c.r, 1<<30)
		if err != nil {
			t.Fatalf("connection closed while garbage was handled: %v\n%s", err, logs.String())
		}
		if resp.Opaque == 1 {
			break
		}
	}
	if strings.Contains(logs.String(), "panicked") {
		t.Fatalf("a handler panicked:\n%s", logs.String())
	}
}

func mustFrame(t *testing.T, cmd *rocketmq.Command) []byte {
	t.Helper()
	b, err := rocketmq.AppendFrame(nil, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFrameBytesFromBudget: a half-sent frame holds the bytes that came
// (from --queued-max-request-bytes, not its announced size), and gives
// them back when its connection closes.
func TestFrameBytesFromBudget(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.QueuedMaxRequestBytes = 1 << 20 })
	a := dialRaw(t, s)
	a.write(append(binary.BigEndian.AppendUint32(nil, 1000_000), make([]byte, 300_000)...))
	eventually(t, "the half-sent frame to hold budget", func() bool {
		n := s.RocketMQ().RequestBytesInUse()
		return n >= 300_000 && n < 1000_000
	})
	a.nc.Close()
	eventually(t, "the budget to be released", func() bool { return s.RocketMQ().RequestBytesInUse() == 0 })
	if resp := dialRaw(t, s).call(sendRequest(9999, nil, nil)); resp.Code != rocketmq.ResRequestCodeNotSupported {
		t.Fatalf("code %d", resp.Code)
	}
}
