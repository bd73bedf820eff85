package group

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memLog is an in-memory Log: batches with offsets assigned, all durable.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	next    int64
}

func (l *memLog) Append(batch []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append([]byte(nil), batch...)
	binary.BigEndian.PutUint64(b, uint64(l.next))
	l.next += int64(binary.BigEndian.Uint32(b[57:])) // record count
	l.batches = append(l.batches, b)
	return l.next, nil
}

func (l *memLog) Sync(int64) error { return nil }

func (l *memLog) Read(offset int64, maxBytes int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, b := range l.batches {
		base := int64(binary.BigEndian.Uint64(b))
		last := base + int64(binary.BigEndian.Uint32(b[23:]))
		if last < offset {
			continue
		}
		if len(out) > 0 && len(out)+len(b) > maxBytes {
			break
		}
		out = append(out, b...)
	}
	return out, nil
}

// fakeClock is moved by tests only.
type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time          { return f.now }
func (f *fakeClock) advance(d time.Duration) { f.now = f.now.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }
func testConfig() Config {
	c := DefaultConfig()
	c.MinSessionTimeout = time.Second
	c.InitialRebalanceDelay = 0
	return c
}
func newTestCoordinator(l *memLog, clk *fakeClock) *Coordinator {
	return New(testConfig(), l, Options{Now: clk.Now})
}

const (
	session   = 10 * time.Second
	rebalance = 30 * time.Second
)

type joinOpt func(*kmsg.JoinGroupRequest)

func withInstance(id string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = &id }
}

func withVersion(v int16) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }

func withProtocols(names ...string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) {
		r.Protocols = nil
		for _, n := range names {
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = n, []byte("meta-"+n)
			r.Protocols = append(r.Protocols, p)
		}
	}
}

func joinReq(groupID, memberID string, opts ...joinOpt) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group = groupID
	r.MemberID = memberID
	r.SessionTimeoutMillis = int32(session / time.Millisecond)
	r.RebalanceTimeoutMillis = int32(rebalance / time.Millisecond)
	r.ProtocolType = "consumer"
	withProtocols("range")(r)
	for _, o := range opts {
		o(r)
	}
	return r
}

// ready returns the response if the channel has one, else nil.
func ready[T any](ch <-chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

func mustReady[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	v, ok := ready(ch)
	if !ok {
		t.Fatalf("%s: no response yet", what)
	}
	return v
}

func mustWait[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	if v, ok := ready(ch); ok {
		t.Fatalf("%s: answered %+v, want it to wait", what, v)
	}
}

func wantCode(t *testing.T, what string, got int16, want error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.(*kerr.Error).Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// newMember joins with the v4+ two-step and returns the member id and the
// channel of the second join.
func newMember(t *testing.T, c *Coordinator, groupID string, opts ...joinOpt) (string, <-chan *kmsg.JoinGroupResponse) {
	t.Helper()
	first := mustReady(t, c.Join(joinReq(groupID, "", opts...), "client", "/127.0.0.1"), "first join")
	wantCode(t, "first join", first.ErrorCode, kerr.MemberIDRequired)
	return first.MemberID, c.Join(joinReq(groupID, first.MemberID, opts...), "client", "/127.0.0.1")
}

func syncReq(groupID, memberID string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation = groupID, memberID, gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	return r
}

func heartbeat(c *Coordinator, groupID, memberID string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation = groupID, memberID, gen
	return c.Heartbeat(r).ErrorCode
}

func describe(t *testing.T, c *Coordinator, groupID string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{groupID}
	return c.DescribeGroups(r).Groups[0]
}

func commit(c *Coordinator, groupID, memberID string, gen int32, topic string, offsets map[int32]int64) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.MemberID, r.Generation = groupID, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		md := "md"
		rp.Metadata = &md
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
	return c.CommitOffsets(r)()
}

func fetchAll(c *Coordinator, groupID string) map[string]map[int32]int64 {
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = groupID
	r.Groups = append(r.Groups, rg)
	out := map[string]map[int32]int64{}
	for _, g := range c.FetchOffsets(r).Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if out[t.Topic] == nil {
					out[t.Topic] = map[int32]int64{}
				}
				out[t.Topic][p.Partition] = p.Offset
			}
		}
	}
	return out
}
