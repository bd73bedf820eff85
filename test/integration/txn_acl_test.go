package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The broker-to-broker transaction APIs need CLUSTER_ACTION, as in Kafka:
// a client that may write a topic still cannot write transaction markers
// into it (WriteTxnMarkers), nor use KIP-890's verification
// (AddPartitionsToTxn v4+). A principal with CLUSTER_ACTION can.
func TestBrokerTxnAPIsNeedClusterAction(t *testing.T) {
	p := startACLFerry(t)
	ctx := testCtx(t, 30*time.Second)
	admin := kadm.NewClient(newClient(t, p.addr, as("admin")))
	createTopic(t, admin, "marked", 1)
	if res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("marked").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %+v", err, res)
	}
	if res, err := admin.CreateACLs(ctx, kadm.NewACLs().Allow("User:broker").Clusters().Operations(kadm.OpClusterAction).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %+v", err, res)
	}

	markers := func(cl *kgo.Client) int16 {
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed = 1000, 0, false
		mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		mt.Topic, mt.Partitions = "marked", []int32{0}
		m.Topics = append(m.Topics, mt)
		req.Markers = append(req.Markers, m)
		resp, err := req.RequestWith(ctx, cl.Broker(0))
		if err != nil {
			t.Fatalf("WriteTxnMarkers: %v", err)
		}
		return resp.Markers[0].Topics[0].Partitions[0].ErrorCode
	}
	verify := func(cl *kgo.Client) int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "some-txn", 1000, 0, true
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "marked", []int32{0}
		tx.Topics = append(tx.Topics, tt)
		req.Transactions = append(req.Transactions, tx)
		resp, err := req.RequestWith(ctx, cl.Broker(0))
		if err != nil {
			t.Fatalf("AddPartitionsToTxn v4: %v", err)
		}
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		return resp.Transactions[0].Topics[0].Partitions[0].ErrorCode
	}

	alice := newClient(t, p.addr, as("alice"))
	if code := markers(alice); code != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice WriteTxnMarkers: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	if code := verify(alice); code != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("alice AddPartitionsToTxn v4: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	if ends := endOffsets(t, admin, "marked"); ends[0] != 0 {
		t.Fatalf("a denied marker was written: log end %d", ends[0])
	}

	brokerCl := newClient(t, p.addr, as("broker"))
	if code := markers(brokerCl); code != 0 {
		t.Errorf("CLUSTER_ACTION WriteTxnMarkers: %v", kerr.ErrorForCode(code))
	}
	if ends := endOffsets(t, admin, "marked"); ends[0] != 1 {
		t.Fatalf("the marker was not written: log end %d", ends[0])
	}
	// Allowed, the verification answers for the transaction (unknown here).
	if code := verify(brokerCl); code != kerr.InvalidProducerIDMapping.Code {
		t.Errorf("CLUSTER_ACTION AddPartitionsToTxn v4: %v, want INVALID_PRODUCER_ID_MAPPING", kerr.ErrorForCode(code))
	}
}
