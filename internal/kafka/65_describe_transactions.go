package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions: v0.
//
// For operators: each transactional id's producer id and epoch, state
// (Kafka's names: Empty, Ongoing, PrepareCommit, …), timeout, start time of
// the open transaction (-1 if none) and its partitions. Unknown ids get
// TRANSACTIONAL_ID_NOT_FOUND.

func init() { register(65, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		tc, cerr := c.txnCoordinator(id)
		if cerr != nil {
			st.ErrorCode = cerr.Code
			st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		d, ok := tc.Describe(id)
		if !ok {
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
			st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State = d.State
		st.TimeoutMillis = int32(d.Timeout.Milliseconds())
		st.StartTimestamp = -1
		if !d.Started.IsZero() {
			st.StartTimestamp = d.Started.UnixMilli()
		}
		st.ProducerID, st.ProducerEpoch = d.ProducerID, d.Epoch
		for _, p := range d.Partitions {
			n := len(st.Topics)
			if n == 0 || st.Topics[n-1].Topic != p.Topic {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic = p.Topic
				st.Topics = append(st.Topics, t)
				n++
			}
			st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, p.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return now(resp)
}
