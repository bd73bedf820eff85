package rocketmq_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/norace"
)

// wireTap is a TCP proxy in front of the RocketMQ listener that counts
// what the broker sends to clients and whether a marker ever crossed.
type wireTap struct {
	lis      net.Listener
	target   atomic.Value // string: the broker's address, set once it listens
	marker   []byte
	toClient atomic.Int64
	seen     atomic.Bool
	wg       sync.WaitGroup
}

func newWireTap(t *testing.T, marker string) *wireTap {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireTap{lis: lis, marker: []byte(marker)}
	t.Cleanup(func() { lis.Close() })
	go w.accept()
	return w
}

func (w *wireTap) accept() {
	for {
		client, err := w.lis.Accept()
		if err != nil {
			return
		}
		go func() {
			defer client.Close()
			broker, err := net.Dial("tcp", w.target.Load().(string))
			if err != nil {
				return
			}
			defer broker.Close()
			go func() { io.Copy(broker, client); broker.Close() }()
			w.scan(client, broker)
		}()
	}
}

// scan copies the broker's bytes to the client, looking for the marker
// across read boundaries.
func (w *wireTap) scan(dst io.Writer, src io.Reader) {
	buf := make([]byte, 64<<10)
	var tail []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			w.toClient.Add(int64(n))
			window := append(tail, buf[:n]...)
			if bytes.Contains(window, w.marker) {
				w.seen.Store(true)
			}
			tail = append([]byte(nil), window[max(0, len(window)-len(w.marker)+1):]...)
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestFiltersRunOnTheBroker: push consumers subscribed by tag and by SQL92
// get exactly the messages they asked for, and the messages they did not
// ask for never cross the network (a proxy between client and broker
// watches every byte for them).
func TestFiltersRunOnTheBroker(t *testing.T) {
	if norace.Rerun(t, clientRaces) {
		return
	}
	tap := newWireTap(t, "UNWANTED")
	s := startNode(t, func(c *config.Config) { c.RocketMQ.AdvertisedAddr = tap.lis.Addr().String() })
	tap.target.Store(s.RocketMQAddr())
	createTopic(t, s, "mixed", 2)
	p := newProducer(t, s, "pm")
	var wantTag, wantSQL []string
	for i := range 40 {
		tag := []string{"TagA", "TagB", "TagC"}[i%3]
		body := fmt.Sprintf("UNWANTED-%d", i)
		if tag == "TagA" {
			body = fmt.Sprintf("tag-%d", i)
			wantTag = append(wantTag, body)
		}
		if i >= 30 {
			body = fmt.Sprintf("sql-%d", i)
			wantSQL = append(wantSQL, body)
			if tag == "TagA" {
				wantTag[len(wantTag)-1] = body
			}
		}
		msg := primitive.NewMessage("mixed", []byte(body))
		msg.WithTag(tag)
		msg.WithProperty("n", strconv.Itoa(i))
		if _, err := p.SendSync(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, rec *received, want []string) {
		wantSet := map[string]int{}
		for _, b := range want {
			wantSet[b] = 1
		}
		msgs := rec.waitFor(t, name+" messages", hasAll(wantSet))
		for b := range bodies(msgs) {
			if wantSet[b] == 0 {
				t.Errorf("%s consumer got %q", name, b)
			}
		}
	}
	recTag, recSQL := newReceived(), newReceived()
	newPushConsumer(t, s, "tagc", "mixed", consumer.MessageSelector{Type: consumer.TAG, Expression: "TagA"}, recTag, nil,
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{tap.lis.Addr().String()})))
	newPushConsumer(t, s, "sqlc", "mixed", consumer.MessageSelector{Type: consumer.SQL92, Expression: "n >= 30"}, recSQL, nil,
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{tap.lis.Addr().String()})))
	check("tag", recTag, wantTag)
	check("SQL92", recSQL, wantSQL)
	if tap.seen.Load() {
		t.Error("a message no subscription accepts crossed the network")
	}
	t.Logf("broker sent %d bytes to the consumers", tap.toClient.Load())
}
