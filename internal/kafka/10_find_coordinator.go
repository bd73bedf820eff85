package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// FindCoordinator: v0-6 (v4+ is the batched form, KIP-699).
//
// A group's coordinator (key type 0) is the leader of partition
// abs(hash(group)) % N of __consumer_offsets, a transactional id's (key
// type 1) that of __transaction_state, hashed as Kafka does. A partition
// without a live leader answers COORDINATOR_NOT_AVAILABLE (clients
// retry); other key types (share groups, v6) are INVALID_REQUEST.

func init() { register(10, 0, 6, handleFindCoordinator) }

func handleFindCoordinator(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.s.advertisedHostPort()
	at := func(topic, key string) (int32, string, int32, *kerr.Error) {
		bi, err := c.s.broker.CoordinatorFor(topic, key)
		if err != nil {
			return -1, "", -1, coordinatorError(err)
		}
		if !c.s.broker.Clustered() {
			return bi.NodeID, host, port, nil
		}
		h, p := splitHostPort(bi.Addr)
		return bi.NodeID, h, p, nil
	}
	find := func(key string) (int32, string, int32, *kerr.Error) {
		switch req.CoordinatorType {
		case 0:
			if key == "" {
				return -1, "", -1, kerr.InvalidGroupID
			}
			return at(broker.ConsumerOffsetsTopic, key)
		case 1:
			if key == "" {
				return -1, "", -1, kerr.InvalidRequest
			}
			return at(broker.TransactionStateTopic, key)
		default:
			return -1, "", -1, kerr.InvalidRequest
		}
	}
	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key = key
			var err *kerr.Error
			rc.NodeID, rc.Host, rc.Port, err = find(key)
			if err != nil {
				rc.ErrorCode = err.Code
				msg := err.Description
				rc.ErrorMessage = &msg
			}
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return now(resp)
	}
	var err *kerr.Error
	resp.NodeID, resp.Host, resp.Port, err = find(req.CoordinatorKey)
	if err != nil {
		resp.ErrorCode = err.Code
		msg := err.Description
		resp.ErrorMessage = &msg
	}
	return now(resp)
}
