package kafka_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Every version of the group APIs over the wire: one member's life and a
// commit/fetch round trip per version. The coordinator's logic is tested in
// internal/group; this checks the version plumbing.

func TestFindCoordinatorVersions(t *testing.T) {
	c := startBroker(t).dial(t)
	for v := int16(0); v <= 4; v++ {
		for _, keyType := range []int8{0, 1} {
			if v == 0 && keyType == 1 {
				continue
			}
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.SetVersion(v)
			req.CoordinatorType = keyType
			req.CoordinatorKey = "g"
			req.CoordinatorKeys = []string{"g", "h"}
			resp := c.roundTrip(req).(*kmsg.FindCoordinatorResponse)
			want := int16(0) // this node coordinates groups and transactions
			if v >= 4 {
				if len(resp.Coordinators) != 2 || resp.Coordinators[0].ErrorCode != want || resp.Coordinators[1].Key != "h" {
					t.Errorf("v%d type %d: %+v", v, keyType, resp.Coordinators)
				}
				if want == 0 && resp.Coordinators[0].Port <= 0 {
					t.Errorf("v%d: no port: %+v", v, resp.Coordinators[0])
				}
				continue
			}
			if resp.ErrorCode != want || (want == 0 && resp.Port <= 0) {
				t.Errorf("v%d type %d: error %d port %d", v, keyType, resp.ErrorCode, resp.Port)
			}
		}
	}
}

func TestGroupMembershipEveryVersion(t *testing.T) {
	b := startBroker(t)
	// Each first join waits out the initial rebalance delay (3s), so the
	// versions run at once, each on its own connection.
	errs := make(chan error, 10)
	for v := int16(0); v <= 9; v++ {
		c := b.dial(t)
		go func() { errs <- membershipAtVersion(c, v) }()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func membershipAtVersion(c *rawClient, v int16) error {
	{
		group := "g" + string(rune('a'+v))
		join := kmsg.NewPtrJoinGroupRequest()
		join.SetVersion(v)
		join.Group = group
		join.SessionTimeoutMillis = 10000
		join.RebalanceTimeoutMillis = 10000
		join.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 1}
		join.Protocols = append(join.Protocols, p)
		jr := c.roundTrip(join).(*kmsg.JoinGroupResponse)
		if v >= 4 {
			if jr.ErrorCode != kerr.MemberIDRequired.Code || jr.MemberID == "" {
				return fmt.Errorf("JoinGroup v%d first join: error %d member %q", v, jr.ErrorCode, jr.MemberID)
			}
			join.MemberID = jr.MemberID
			jr = c.roundTrip(join).(*kmsg.JoinGroupResponse)
		}
		// Kafka holds the first rebalance of an empty group for
		// group.initial.rebalance.delay.ms (3s by default); the join waits.
		if jr.ErrorCode != 0 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 {
			return fmt.Errorf("JoinGroup v%d: %+v", v, jr)
		}
		member, gen := jr.MemberID, jr.Generation

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.SetVersion(min(v, 5))
		sync.Group, sync.MemberID, sync.Generation = group, member, gen
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = member, []byte("mine")
		sync.GroupAssignment = append(sync.GroupAssignment, a)
		sr := c.roundTrip(sync).(*kmsg.SyncGroupResponse)
		if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "mine" {
			return fmt.Errorf("SyncGroup v%d: %+v", sync.Version, sr)
		}

		hb := kmsg.NewPtrHeartbeatRequest()
		hb.SetVersion(min(v, 4))
		hb.Group, hb.MemberID, hb.Generation = group, member, gen
		if r := c.roundTrip(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
			return fmt.Errorf("Heartbeat v%d: error %d", hb.Version, r.ErrorCode)
		}
		hb.Generation = gen + 1
		if r := c.roundTrip(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.IllegalGeneration.Code {
			return fmt.Errorf("Heartbeat v%d, wrong generation: error %d", hb.Version, r.ErrorCode)
		}

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.SetVersion(min(v, 5))
		leave.Group, leave.MemberID = group, member
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = member
		leave.Members = append(leave.Members, lm)
		lr := c.roundTrip(leave).(*kmsg.LeaveGroupResponse)
		if lr.ErrorCode != 0 || (leave.Version >= 3 && (len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0)) {
			return fmt.Errorf("LeaveGroup v%d: %+v", leave.Version, lr)
		}
	}
	return nil
}

func TestOffsetCommitFetchEveryVersion(t *testing.T) {
	c := startBroker(t).dial(t)
	c.mustCreate("t", 2, nil)
	for v := int16(0); v <= 8; v++ {
		group := "simple" + string(rune('a'+v))
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.SetVersion(v)
		oc.Group, oc.Generation = group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		for p := int32(0); p < 3; p++ { // partition 2 does not exist
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, int64(100+v)
			md := "md"
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		oc.Topics = append(oc.Topics, rt)
		ocr := c.roundTrip(oc).(*kmsg.OffsetCommitResponse)
		ps := ocr.Topics[0].Partitions
		if ps[0].ErrorCode != 0 || ps[1].ErrorCode != 0 || ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("OffsetCommit v%d: %+v", v, ps)
		}

		of := kmsg.NewPtrOffsetFetchRequest()
		of.SetVersion(v)
		var got []int64
		if v >= 8 {
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = group
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = "t", []int32{0, 1, 2}
			g.Topics = append(g.Topics, gt)
			of.Groups = append(of.Groups, g)
			r := c.roundTrip(of).(*kmsg.OffsetFetchResponse)
			for _, p := range r.Groups[0].Topics[0].Partitions {
				got = append(got, p.Offset)
			}
		} else {
			of.Group = group
			ot := kmsg.NewOffsetFetchRequestTopic()
			ot.Topic, ot.Partitions = "t", []int32{0, 1, 2}
			of.Topics = append(of.Topics, ot)
			r := c.roundTrip(of).(*kmsg.OffsetFetchResponse)
			for _, p := range r.Topics[0].Partitions {
				got = append(got, p.Offset)
			}
		}
		if want := []int64{int64(100 + v), int64(100 + v), -1}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("OffsetFetch v%d: %v, want %v", v, got, want)
		}
	}
}

func TestConsumerOffsetsIsInternal(t *testing.T) {
	c := startBroker(t).dial(t)
	if code, _ := c.produce("__consumer_offsets", 0, makeBatch(noProducer, "x")); code != kerr.InvalidTopicException.Code {
		t.Errorf("produce to __consumer_offsets: error %d, want INVALID_TOPIC_EXCEPTION", code)
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.SetVersion(5)
	del.TopicNames = []string{"__consumer_offsets"}
	if r := c.roundTrip(del).(*kmsg.DeleteTopicsResponse); r.Topics[0].ErrorCode == 0 {
		t.Errorf("deleting __consumer_offsets succeeded")
	}
}
