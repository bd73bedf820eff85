package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/group"
	"github.com/ferry-mq/ferry/internal/txn"
)

// Coordinators are partitioned over the brokers (see the broker's
// coordinators.go): each group and transactional id has one coordinator,
// the leader of its partition of __consumer_offsets or
// __transaction_state, which FindCoordinator names. A request for an id
// this broker does not coordinate is answered NOT_COORDINATOR, or
// COORDINATOR_LOAD_IN_PROGRESS while this broker is loading its
// partition; clients look the coordinator up again and retry. Requests
// naming several ids (DescribeGroups, DeleteGroups, OffsetFetch v8,
// ConsumerGroupDescribe, DescribeTransactions) are answered id by id;
// the listings (ListGroups, ListTransactions), which admin clients send to
// every broker, cover the coordinators this broker runs.

// groupCoordinator returns the coordinator of a group, or the error to
// answer with.
func (c *conn) groupCoordinator(groupID string) (*group.Coordinator, *kerr.Error) {
	gc, err := c.s.broker.GroupCoordinatorFor(groupID)
	if err != nil {
		return nil, coordinatorError(err)
	}
	return gc, nil
}

// txnCoordinator returns the coordinator of a transactional id, or the
// error to answer with.
func (c *conn) txnCoordinator(txnID string) (*txn.Coordinator, *kerr.Error) {
	tc, err := c.s.broker.TxnCoordinatorFor(txnID)
	if err != nil {
		return nil, coordinatorError(err)
	}
	return tc, nil
}

// coordinatorError is the Kafka error of a failed coordinator lookup.
func coordinatorError(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke
	}
	return kerr.NotCoordinator
}
