package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeController answers every forwarded proposal with rep.
func fakeController(t *testing.T, rep forwardReply) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var kind [1]byte
			c.Read(kind[:])
			var req forwardRequest
			json.NewDecoder(c).Decode(&req)
			json.NewEncoder(c).Encode(rep)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// Only a proposal that surely did not reach the Raft log may be sent
// again. Before the fix every forward error was retried, and an entry the
// old leader had committed just before losing its leadership was applied
// twice (TestUpdatesFromLaggingNodesAreRetriedNotLost saw 130 for 120).
func TestForwardErrorsSayWhetherRetryIsSafe(t *testing.T) {
	data := []byte(`[]`)
	_, _, err := forward(nil, fakeController(t, forwardReply{Err: "leadership lost while committing log"}), data, 5*time.Second)
	if err == nil || errors.Is(err, errNotSent) {
		t.Fatalf("leadership lost after append: %v; want an error that forbids a retry", err)
	}
	_, _, err = forward(nil, fakeController(t, forwardReply{Err: "node is not the leader", NotApplied: true}), data, 5*time.Second)
	if !errors.Is(err, errNotSent) {
		t.Fatalf("not the leader: %v; want errNotSent", err)
	}
	_, _, err = forward(nil, "127.0.0.1:1", data, time.Second)
	if !errors.Is(err, errNotSent) {
		t.Fatalf("dial failure: %v; want errNotSent", err)
	}
	_, rejected, err := forward(nil, fakeController(t, forwardReply{Index: 7, Rejected: "topic exists"}), data, 5*time.Second)
	if err != nil || rejected == nil {
		t.Fatalf("rejection: %v / %v", rejected, err)
	}
}

func TestRaftLogLinesKeepTheirLevel(t *testing.T) {
	var buf bytes.Buffer
	w := slogWriter{slog.New(slog.NewTextHandler(&buf, nil))}
	w.Write([]byte("[WARN]  raft: heartbeat timeout reached, starting election\n"))
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, `msg="raft: heartbeat timeout reached, starting election"`) {
		t.Fatalf("logged %q", got)
	}
}
