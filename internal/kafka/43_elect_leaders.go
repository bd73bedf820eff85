package kafka

import (
	"cmp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// ElectLeaders: v0-2.
//
// PREFERRED (0; the only type before v1) makes each partition's preferred
// replica, Replicas[0], its leader when it is live and in sync
// (PREFERRED_LEADER_NOT_AVAILABLE otherwise, ELECTION_NOT_NEEDED when it
// leads already). UNCLEAN (1) gives an offline partition a leader, from
// its ISR when one is live, else any live replica (acknowledged records
// only the lost leader held are gone); ELECTION_NOT_NEEDED for a
// partition that has a leader. Null topics means every partition; the
// answer then leaves out partitions whose election was not needed.

func init() { register(43, 0, 2, handleElectLeaders) }

func handleElectLeaders(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	typ := broker.ElectionType(req.ElectionType)
	if req.Version == 0 {
		typ = broker.ElectPreferred
	}
	if typ != broker.ElectPreferred && typ != broker.ElectUnclean {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return now(resp)
	}
	var parts []broker.PartitionRef
	if req.Topics != nil {
		parts = []broker.PartitionRef{}
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				parts = append(parts, broker.PartitionRef{Topic: rt.Topic, Partition: p})
			}
		}
	}
	results, err := c.s.broker.ElectLeaders(typ, parts)
	if err != nil {
		resp.ErrorCode = broker.ErrorCode(err)
		if req.Version == 0 {
			// v0 has no top-level code: every partition carries it.
			results = map[broker.PartitionRef]error{}
			for _, p := range parts {
				results[p] = err
			}
		}
	}
	if parts == nil {
		for p := range results {
			parts = append(parts, p)
		}
		sortRefs(parts)
	}
	byTopic := map[string]int{}
	for _, p := range parts {
		perr, ok := results[p]
		if !ok {
			continue
		}
		i, seen := byTopic[p.Topic]
		if !seen {
			i = len(resp.Topics)
			byTopic[p.Topic] = i
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = p.Topic
			resp.Topics = append(resp.Topics, st)
		}
		sp := kmsg.NewElectLeadersResponseTopicPartition()
		sp.Partition = p.Partition
		if perr != nil {
			sp.ErrorCode = broker.ErrorCode(perr)
			msg := broker.ErrorMessage(perr)
			sp.ErrorMessage = &msg
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
	}
	return now(resp)
}

func sortRefs(parts []broker.PartitionRef) {
	slices.SortFunc(parts, func(a, b broker.PartitionRef) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
}
