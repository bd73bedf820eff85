package kafka

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// In a cluster the group and transaction coordinators run on one broker
// each (the leader of partition 0 of __consumer_offsets and of
// __transaction_state), and FindCoordinator names it. A coordinator
// request that reaches another broker anyway closes the connection with a
// logged reason; the client reconnects and asks FindCoordinator again. The
// listings, which admin clients send to every broker, are answered empty:
// this broker coordinates nothing.

// groupKeys are the APIs served by the group coordinator.
var groupKeys = map[int16]bool{8: true, 9: true, 11: true, 12: true, 13: true, 14: true, 15: true, 42: true, 47: true, 68: true, 69: true}

// txnKeys are the APIs served by the transaction coordinator.
var txnKeys = map[int16]bool{24: true, 25: true, 26: true, 28: true, 65: true}

// notCoordinator returns, for a request this broker's missing coordinator
// would serve, either the reply (for listings) or the reason to close.
func (c *conn) notCoordinator(key int16, req kmsg.Request) (finisher, error) {
	b := c.s.broker
	switch {
	case key == 16 && b.Groups() == nil:
		return now(req.(*kmsg.ListGroupsRequest).ResponseKind()), nil
	case key == 66 && b.Txn() == nil:
		return now(req.(*kmsg.ListTransactionsRequest).ResponseKind()), nil
	case groupKeys[key] && b.Groups() == nil,
		txnKeys[key] && b.Txn() == nil,
		key == 22 && req.(*kmsg.InitProducerIDRequest).TransactionalID != nil && b.Txn() == nil,
		key == 0 && req.(*kmsg.ProduceRequest).TransactionID != nil && b.Txn() == nil:
		return nil, fmt.Errorf("%s sent to broker %d, which is not the coordinator; ask FindCoordinator", kmsg.NameForKey(key), b.Config().NodeID)
	}
	return nil, nil
}
