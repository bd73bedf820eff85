package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// routeScript plays a partition's leadership over successive lookups and
// records where each marker attempt went.
type routeScript struct {
	leaders []int32 // leader per lookup; the last one repeats
	exists  bool
	results map[int32][]error // per node, per attempt; nil = written
	calls   []string
}

func (s *routeScript) route(self int32) markerRoute {
	lookups := 0
	attempt := map[int32]int{}
	result := func(node int32) error {
		i := attempt[node]
		attempt[node]++
		if i < len(s.results[node]) {
			return s.results[node][i]
		}
		return nil
	}
	return markerRoute{
		self: self,
		leader: func(string, int32) (int32, bool) {
			l := s.leaders[min(lookups, len(s.leaders)-1)]
			lookups++
			return l, s.exists
		},
		local: func(m txnMarker) error {
			s.calls = append(s.calls, fmt.Sprintf("local:%d", self))
			return result(self)
		},
		remote: func(node int32, m txnMarker) error {
			s.calls = append(s.calls, fmt.Sprintf("remote:%d", node))
			return result(node)
		},
		wait:    func(time.Duration) bool { return true },
		timeout: time.Minute,
	}
}

var testMarker = txnMarker{topic: "t", partition: 3, producerID: 7, epoch: 1, commit: true}

func TestMarkerRouteFollowsTheLeader(t *testing.T) {
	notLeader := fmt.Errorf("%w: moved", kerr.NotLeaderForPartition)
	cases := []struct {
		name    string
		script  routeScript
		want    string
		wantErr error
	}{
		{"led here: local append", routeScript{leaders: []int32{1}, exists: true}, "local:1", nil},
		{"led by a peer: WriteTxnMarkers to it", routeScript{leaders: []int32{2}, exists: true}, "remote:2", nil},
		{"leader moved: asks the new one",
			routeScript{leaders: []int32{2, 3}, exists: true, results: map[int32][]error{2: {notLeader}}},
			"remote:2 remote:3", nil},
		{"leader moved here",
			routeScript{leaders: []int32{2, 1}, exists: true, results: map[int32][]error{2: {notLeader}}},
			"remote:2 local:1", nil},
		{"offline, then elected: waits for it",
			routeScript{leaders: []int32{-1, -1, 2}, exists: true},
			"remote:2", nil},
		{"peer unreachable: retried",
			routeScript{leaders: []int32{2}, exists: true, results: map[int32][]error{2: {errors.New("connection refused"), errors.New("i/o timeout")}}},
			"remote:2 remote:2 remote:2", nil},
		{"partition deleted: nothing to write", routeScript{leaders: []int32{2}, exists: false}, "", nil},
		{"stale epoch: not retried",
			routeScript{leaders: []int32{2}, exists: true, results: map[int32][]error{2: {kerr.InvalidProducerEpoch}}},
			"remote:2", kerr.InvalidProducerEpoch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.script.route(1).write(testMarker)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got := strings.Join(tc.script.calls, " "); got != tc.want {
				t.Fatalf("attempts %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMarkerRouteGivesUpAfterItsTimeout(t *testing.T) {
	s := routeScript{leaders: []int32{2}, exists: true, results: map[int32][]error{2: {kerr.NotLeaderForPartition, kerr.NotLeaderForPartition}}}
	r := s.route(1)
	r.timeout = 0 // one attempt; the coordinator's Tick tries again later
	if err := r.write(testMarker); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("err %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if len(s.calls) != 1 {
		t.Fatalf("attempts %v, want one", s.calls)
	}
}

func TestMarkerRouteStopsWhenTheBrokerStops(t *testing.T) {
	s := routeScript{leaders: []int32{-1}, exists: true}
	r := s.route(1)
	waits := 0
	r.wait = func(time.Duration) bool { waits++; return waits < 3 }
	if err := r.write(testMarker); !errors.Is(err, kerr.LeaderNotAvailable) {
		t.Fatalf("err %v, want LEADER_NOT_AVAILABLE", err)
	}
}

// A marker older than the producer's epoch on the partition (a newer
// marker ended the transaction there already) counts as written: the
// coordinator must not retry it for ever.
func TestStaleMarkerCountsAsWritten(t *testing.T) {
	b := newTestBroker(t)
	if _, err := b.CreateTopic("t", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTxnMarker("t", 0, 7, 5, false); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteTxnMarker("t", 0, 7, 3, true); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("stale marker on the partition: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	if err := (txnPartitions{b}).WriteMarker("t", 0, 7, 3, true); err != nil {
		t.Fatalf("coordinator's stale marker: %v, want it counted as written", err)
	}
}
