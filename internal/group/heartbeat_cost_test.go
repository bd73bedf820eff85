package group

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// manyTopics returns topicT and n other topics.
func manyTopics(n int) []TopicInfo {
	out := []TopicInfo{topicT}
	for i := range n {
		id := [16]byte{2, byte(i >> 16), byte(i >> 8), byte(i)}
		out = append(out, TopicInfo{Name: fmt.Sprintf("other-%d", i), ID: id, Partitions: 3})
	}
	return out
}

// TestConsumerHeartbeatSkipsTopicsWhenUnchanged: with a topics version, a
// heartbeat of a settled group does not list the broker's topics (so it
// costs O(the group), not O(all topics)); a new version makes the next
// heartbeat look, and a grown topic is assigned.
func TestConsumerHeartbeatSkipsTopicsWhenUnchanged(t *testing.T) {
	topics := manyTopics(1000)
	version := uint64(1)
	listed := 0
	clk := newFakeClock()
	c := New(testConfig(), &memLog{}, Options{Now: clk.Now,
		Topics:        func() []TopicInfo { listed++; return topics },
		TopicsVersion: func() uint64 { return version },
	})
	a, b := newCM(t, c, "g", "a"), newCM(t, c, "g", "b")
	settle(t, c, "g", a, b)
	listed = 0
	for range 10 {
		a.ok()
		b.ok()
	}
	if listed != 0 {
		t.Fatalf("20 heartbeats of a settled group listed the topics %d times, want 0", listed)
	}
	topics = slices.Clone(topics)
	topics[0].Partitions = 24
	version++
	settle(t, c, "g", a, b)
	if listed == 0 {
		t.Fatal("a new topics version was not looked at")
	}
	if got := counts(a, b); !slices.Equal(got, []int{12, 12}) {
		t.Fatalf("after topic t grew to 24 partitions: %v", got)
	}
}

// BenchmarkConsumerHeartbeat: the cost of one heartbeat of a settled
// 3-member group as the broker's topic count grows, with and without a
// topics version (without one every heartbeat walks every topic).
func BenchmarkConsumerHeartbeat(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		for _, versioned := range []bool{false, true} {
			b.Run(fmt.Sprintf("topics=%d/versioned=%v", n, versioned), func(b *testing.B) {
				topics := manyTopics(n)
				opts := Options{Topics: func() []TopicInfo { return topics }}
				if versioned {
					opts.TopicsVersion = func() uint64 { return 1 }
				}
				c := New(testConfig(), &memLog{}, opts)
				t := &testing.T{}
				ms := []*cm{newCM(t, c, "g", "a"), newCM(t, c, "g", "b"), newCM(t, c, "g", "d")}
				for range 10 {
					for _, m := range ms {
						m.hb()
					}
				}
				reqs := make([]*kmsg.ConsumerGroupHeartbeatRequest, len(ms))
				for i, m := range ms {
					reqs[i] = m.req()
				}
				b.ResetTimer()
				for i := range b.N {
					if resp := c.ConsumerHeartbeat(reqs[i%len(reqs)], "c", "/h"); resp.ErrorCode != 0 {
						b.Fatalf("heartbeat: error %d", resp.ErrorCode)
					}
				}
			})
		}
	}
}
