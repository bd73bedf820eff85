package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// FindCoordinator: v0-4 (v4 is the batched form, KIP-699).
//
// This node coordinates every group and every transactional id (key type
// 1); other key types are INVALID_REQUEST.

func init() { register(10, 0, 4, handleFindCoordinator) }

func handleFindCoordinator(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.s.advertisedHostPort()
	node := c.s.broker.Config().NodeID
	// In a cluster each coordinator runs on the broker leading partition 0
	// of its internal topic.
	at := func(topic string) (int32, string, int32, *kerr.Error) {
		if !c.s.broker.Clustered() {
			return node, host, port, nil
		}
		bi, ok := c.s.broker.CoordinatorNode(topic)
		if !ok {
			return -1, "", -1, kerr.CoordinatorNotAvailable
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
			return at(broker.ConsumerOffsetsTopic)
		case 1:
			if key == "" {
				return -1, "", -1, kerr.InvalidRequest
			}
			return at(broker.TransactionStateTopic)
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
