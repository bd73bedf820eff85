package kafka_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
)

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// frame encodes req as the next request of c, size prefix included.
func (c *rawClient) frame(req kmsg.Request) ([]byte, int32) {
	c.corr++
	return withSize(req.AppendTo(header(nil, req.Key(), req.GetVersion(), c.corr, req.IsFlexible()))), c.corr
}

// readProduce reads the response to a one-partition produce.
func (c *rawClient) readProduce(corr int32) (int16, int64) {
	c.t.Helper()
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(9)
	if err := resp.ReadFrom(c.readResponse(corr, true)); err != nil {
		c.t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// expectNoResponse requires nothing to arrive on c for a while: the
// broker is holding the request back.
func (c *rawClient) expectNoResponse(d time.Duration) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(d))
	_, err := c.r.Peek(1)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("broker answered (or closed: %v) a request it should hold back", err)
	}
	c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
}

// TestAnnouncedSizeCostsOnlyBytesReceived: connections that announce a
// 100 MB request and send one byte cost the broker about what they sent,
// not a buffer of the announced size (it was 1 MiB each, plus 128 KiB of
// connection buffers).
func TestAnnouncedSizeCostsOnlyBytesReceived(t *testing.T) {
	b := startBroker(t)
	const conns = 200
	before := heapInUse()
	attack := binary.BigEndian.AppendUint32(nil, 100_000_000)
	attack = append(attack, 0)
	for range conns {
		b.dial(t).write(attack)
	}
	// Each connection takes its first chunk of the request budget once
	// the broker has read its size.
	waitFor(t, "the broker to read every size", func() bool {
		return b.srv.KafkaStats().RequestBytesInUse >= conns*4<<10
	})
	const perConn = 64 << 10 // both ends of a connection, generously
	if grew := heapInUse() - before; grew > conns*perConn {
		t.Fatalf("heap grew %d KiB for %d connections that sent 5 bytes each: %d KiB per connection, want under %d", grew>>10, conns, grew/conns>>10, perConn>>10)
	}
	b.checkServes(t)
}

// TestRequestBudgetBackPressure: while half-read requests hold the whole
// --queued-max-request-bytes budget, other connections wait to read
// theirs; they are served, in order, once the budget is released.
func TestRequestBudgetBackPressure(t *testing.T) {
	const budget = 1 << 20
	b := startBroker(t, func(c *config.Config) {
		c.QueuedMaxRequestBytes = budget
		c.MaxRequestBytes = 2 << 20
	})
	const topic = "budget"
	b.dial(t).mustCreate(topic, 1, map[string]string{"max.message.bytes": "2097152"})

	// A request a few hundred bytes short of the budget: once it is half
	// read its buffer (and share) is its whole size.
	a := b.dial(t)
	value := strings.Repeat("a", budget-600)
	big, bigCorr := a.frame(produceReq(topic, 0, makeBatch(noProducer, value)))
	if n := len(big) - 4; n > budget || n < budget-4<<10 {
		t.Fatalf("test request is %d bytes; want just under %d", n, budget)
	}
	a.write(big[:len(big)-100])
	waitFor(t, "the half-read request to hold the budget", func() bool {
		return b.srv.KafkaStats().RequestBytesInUse >= int64(len(big)-4)
	})

	c := b.dial(t)
	small, smallCorr := c.frame(produceReq(topic, 0, makeBatch(noProducer, strings.Repeat("c", 8<<10))))
	c.write(small)
	c.expectNoResponse(300 * time.Millisecond)

	a.write(big[len(big)-100:])
	if code, off := a.readProduce(bigCorr); code != 0 || off != 0 {
		t.Fatalf("big produce: error %d, offset %d", code, off)
	}
	if code, off := c.readProduce(smallCorr); code != 0 || off != 1 {
		t.Fatalf("held-back produce: error %d, offset %d; want offset 1, after the big one", code, off)
	}
	waitFor(t, "the budget to be released", func() bool { return b.srv.KafkaStats().RequestBytesInUse == 0 })
}

// TestRequestLargerThanBudgetRefused: a request that could never fit in
// the budget closes its connection with a reason instead of waiting
// forever.
func TestRequestLargerThanBudgetRefused(t *testing.T) {
	b := startBroker(t, func(c *config.Config) {
		c.QueuedMaxRequestBytes = 1 << 20
		c.MaxRequestBytes = 2 << 20
	})
	c := b.dial(t)
	c.write(binary.BigEndian.AppendUint32(nil, 3<<19))
	c.write(header(nil, 18, 0, 1, false))
	c.expectClosed()
	if !b.logs.contains("--queued-max-request-bytes") {
		t.Error("no logged reason naming --queued-max-request-bytes")
	}
	b.checkServes(t)
}

// longPoll is a fetch from offset 0 of partition 0 that waits up to wait
// for a byte.
func longPoll(topic string, wait time.Duration) *kmsg.FetchRequest {
	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(12)
	fetch.ReplicaID = -1
	fetch.MaxWaitMillis = int32(wait.Milliseconds())
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	return fetch
}

// TestProduceRepliesDoNotPinRequests: produce replies queued behind a long
// poll hold neither their requests' memory nor the budget (each pinned its
// whole request until its reply was written).
func TestProduceRepliesDoNotPinRequests(t *testing.T) {
	b := startBroker(t)
	admin := b.dial(t)
	admin.mustCreate("quiet", 1, nil)
	// flush.policy=os: the high watermark shows appends at once, not
	// after the fsyncs that wait behind the long poll.
	admin.mustCreate("pinned", 1, map[string]string{"flush.policy": "os"})

	c := b.dial(t)
	c.send(longPoll("quiet", 15*time.Second)) // parks the connection's reply pipeline

	const produces = 20
	batch := makeBatch(noProducer, strings.Repeat("p", 900<<10))
	before := heapInUse()
	for range produces {
		req, _ := c.frame(produceReq("pinned", 0, batch))
		c.write(req)
	}
	waitFor(t, "every produce to be appended", func() bool {
		_, end := admin.latestOffset("pinned", 0)
		return end == produces
	})
	grew := heapInUse() - before
	if inUse := b.srv.KafkaStats().RequestBytesInUse; inUse > 64<<10 {
		t.Errorf("%d bytes of the request budget held by appended produces", inUse)
	}
	if grew > 8<<20 {
		t.Fatalf("heap grew %d MiB while %d appended 900 KiB produces waited behind a long poll", grew>>20, produces)
	}
}

// dialFrom connects to the broker from a given loopback address.
func (b *testBroker) dialFrom(t *testing.T, ip string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", b.addr)
	if err != nil {
		t.Fatalf("dial broker from %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return &rawClient{t: t, c: c, r: bufio.NewReader(c)}
}

// served requires an ApiVersions answer on c.
func (c *rawClient) served() {
	c.t.Helper()
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "limits", "1"
	if resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		c.t.Fatalf("ApiVersions: error %d", resp.ErrorCode)
	}
}

// TestConnectionLimits: connections over --max-connections-per-ip or
// --max-connections are closed at once with a logged reason, and a slot
// freed by a closing connection can be used again.
func TestConnectionLimits(t *testing.T) {
	b := startBroker(t, func(c *config.Config) {
		c.MaxConnections = 3
		c.MaxConnectionsPerIP = 2
	})
	first := b.dialFrom(t, "127.0.0.1")
	first.served()
	b.dialFrom(t, "127.0.0.1").served()
	b.dialFrom(t, "127.0.0.1").expectClosed()
	if !b.logs.contains("--max-connections-per-ip") {
		t.Error("no logged reason naming --max-connections-per-ip")
	}
	b.dialFrom(t, "127.0.0.2").served()
	b.dialFrom(t, "127.0.0.3").expectClosed()
	if !b.logs.contains("the broker-wide limit (--max-connections)") {
		t.Error("no logged reason naming --max-connections")
	}

	first.c.Close()
	waitFor(t, "the closed connection to be counted out", func() bool { return b.srv.KafkaStats().Connections == 2 })
	b.dialFrom(t, "127.0.0.1").served()
}

// TestIdleConnectionsClosed: a connection that stops in the middle of a
// request, or sends nothing between requests, is closed with a reason; a
// long poll longer than the idle timeout is not cut short.
func TestIdleConnectionsClosed(t *testing.T) {
	short := func(c *config.Config) {
		c.ConnectionsMaxIdle = time.Second
		c.RequestReadTimeout = 500 * time.Millisecond
	}
	t.Run("partial request", func(t *testing.T) {
		b := startBroker(t, short)
		c := b.dial(t)
		c.write([]byte{0, 0, 0, 100, 0, 18})
		c.expectClosed()
		if !b.logs.contains("--request-read-timeout") {
			t.Error("no logged reason naming --request-read-timeout")
		}
	})
	t.Run("partial size", func(t *testing.T) {
		b := startBroker(t, short)
		c := b.dial(t)
		c.write([]byte{0, 0})
		c.expectClosed()
		if !b.logs.contains("--connections-max-idle") {
			t.Error("no logged reason naming --connections-max-idle")
		}
	})
	t.Run("between requests", func(t *testing.T) {
		b := startBroker(t, short)
		c := b.dial(t)
		c.served()
		c.expectClosed()
		if !b.logs.contains("--connections-max-idle") {
			t.Error("no logged reason naming --connections-max-idle")
		}
	})
	t.Run("long poll", func(t *testing.T) {
		b := startBroker(t, short)
		c := b.dial(t)
		c.mustCreate("quiet", 1, nil)
		resp := c.roundTrip(longPoll("quiet", 2500*time.Millisecond)).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("long poll: error %d/%d", resp.ErrorCode, resp.Topics[0].Partitions[0].ErrorCode)
		}
	})
}
