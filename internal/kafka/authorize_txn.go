package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
)

// authorizeTxnAPI handles InitProducerId and the transaction APIs; ok is
// false for other APIs.
func (c *conn) authorizeTxnAPI(req kmsg.Request, next handlerFunc) (fin finisher, ok bool) {
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		if r.TransactionalID != nil {
			if !c.allow(acl.Write, acl.TransactionalID, *r.TransactionalID) {
				resp.ErrorCode = txnDenied
				return now(resp), true
			}
			break
		}
		// An idempotent producer: IDEMPOTENT_WRITE on the cluster, or
		// (Kafka 2.8+, KIP-679) WRITE on any topic.
		if !c.allowCluster(acl.IdempotentWrite) && !c.s.security.authz.AuthorizeAnyOf(c.effectivePrincipal(), c.host(), acl.Write, acl.Topic) {
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return now(resp), true
		}
	case *kmsg.AddPartitionsToTxnRequest:
		return c.authorizeAddPartitionsToTxn(r, next), true
	case *kmsg.AddOffsetsToTxnRequest:
		resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		switch {
		case !c.allow(acl.Write, acl.TransactionalID, r.TransactionalID):
			resp.ErrorCode = txnDenied
			return now(resp), true
		case !c.allowGroup(acl.Read, r.Group):
			resp.ErrorCode = groupDenied
			return now(resp), true
		}
	case *kmsg.EndTxnRequest:
		if !c.allow(acl.Write, acl.TransactionalID, r.TransactionalID) {
			resp := r.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = txnDenied
			return now(resp), true
		}
	case *kmsg.TxnOffsetCommitRequest:
		return c.authorizeTxnOffsetCommit(r, next), true
	case *kmsg.WriteTxnMarkersRequest:
		// Broker to broker, as in Kafka.
		if !c.allowCluster(acl.ClusterAction) {
			return now(writeTxnMarkersDenied(r)), true
		}
	case *kmsg.DescribeTransactionsRequest:
		kept, denied := keepAllowed(r.TransactionalIDs, func(id *string) bool { return c.allow(acl.Describe, acl.TransactionalID, *id) })
		if denied == nil {
			break
		}
		r.TransactionalIDs = kept
		return withAdded(next(c, r), func(resp kmsg.Response) {
			dr := resp.(*kmsg.DescribeTransactionsResponse)
			for _, id := range denied {
				st := kmsg.NewDescribeTransactionsResponseTransactionState()
				st.TransactionalID, st.ErrorCode = id, txnDenied
				dr.TransactionStates = append(dr.TransactionStates, st)
			}
		}), true
	case *kmsg.ListTransactionsRequest:
		principal, host, az := c.effectivePrincipal(), c.host(), c.s.security.authz
		return withAdded(next(c, r), func(resp kmsg.Response) {
			lr := resp.(*kmsg.ListTransactionsResponse)
			kept := lr.TransactionStates[:0]
			for _, st := range lr.TransactionStates {
				if az.Authorize(principal, host, acl.Describe, acl.TransactionalID, st.TransactionalID) {
					kept = append(kept, st)
				}
			}
			lr.TransactionStates = kept
		}), true
	default:
		return nil, false
	}
	return next(c, req), true
}

// authorizeAddPartitionsToTxn: with the transactional id denied every
// partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED; with a topic
// denied, its partitions get TOPIC_AUTHORIZATION_FAILED and the others
// OPERATION_NOT_ATTEMPTED, none being added (as Kafka does).
// v4+ is broker to broker (KIP-890): CLUSTER_ACTION, as in Kafka.
func (c *conn) authorizeAddPartitionsToTxn(r *kmsg.AddPartitionsToTxnRequest, next handlerFunc) finisher {
	if r.Version >= 4 {
		if !c.allowCluster(acl.ClusterAction) {
			resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return now(resp)
		}
		return next(c, r)
	}
	txnOK := c.allow(acl.Write, acl.TransactionalID, r.TransactionalID)
	anyDenied := !txnOK
	deniedTopic := make(map[string]bool)
	if txnOK {
		for _, t := range r.Topics {
			if !c.allow(acl.Write, acl.Topic, t.Topic) {
				deniedTopic[t.Topic], anyDenied = true, true
			}
		}
	}
	if !anyDenied {
		return next(c, r)
	}
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, t := range r.Topics {
		code := kerr.OperationNotAttempted.Code
		switch {
		case !txnOK:
			code = txnDenied
		case deniedTopic[t.Topic]:
			code = topicDenied
		}
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}

func (c *conn) authorizeTxnOffsetCommit(r *kmsg.TxnOffsetCommitRequest, next handlerFunc) finisher {
	fill := func(resp *kmsg.TxnOffsetCommitResponse, topics []kmsg.TxnOffsetCommitRequestTopic, code int16) {
		for _, t := range topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	code := int16(0)
	switch {
	case !c.allow(acl.Write, acl.TransactionalID, r.TransactionalID):
		code = txnDenied
	case !c.allowGroup(acl.Read, r.Group):
		code = groupDenied
	}
	if code != 0 {
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		fill(resp, r.Topics, code)
		return now(resp)
	}
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.TxnOffsetCommitRequestTopic) bool { return c.allow(acl.Read, acl.Topic, t.Topic) })
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) { fill(resp.(*kmsg.TxnOffsetCommitResponse), denied, topicDenied) })
}

// writeTxnMarkersDenied answers every partition of a WriteTxnMarkers the
// principal may not send with CLUSTER_AUTHORIZATION_FAILED.
func writeTxnMarkersDenied(r *kmsg.WriteTxnMarkersRequest) *kmsg.WriteTxnMarkersResponse {
	resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, rm := range r.Markers {
		sm := kmsg.NewWriteTxnMarkersResponseMarker()
		sm.ProducerID = rm.ProducerID
		for _, rt := range rm.Topics {
			st := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				sp.Partition, sp.ErrorCode = p, kerr.ClusterAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			sm.Topics = append(sm.Topics, st)
		}
		resp.Markers = append(resp.Markers, sm)
	}
	return resp
}
