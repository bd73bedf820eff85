package kafka

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/txn"
)

// ListTransactions: v0-1.
//
// Lists the transactional ids this broker coordinates (over all its
// partitions of __transaction_state; admin clients ask every broker) with
// their producer id and state, filtered by
// state names (unknown names are echoed in unknown_state_filters), producer
// ids, and (v1) a minimum running time of the open transaction.

func init() { register(66, 0, 1, handleListTransactions) }

func handleListTransactions(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	states := map[string]bool{}
	for _, s := range req.StateFilters {
		if !knownTxnState(s) {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
		states[s] = true
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	var all []txn.Described
	for _, tc := range c.s.broker.TxnCoordinators() {
		all = append(all, tc.List()...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	for _, d := range all {
		if len(states) > 0 && !states[d.State] || len(pids) > 0 && !pids[d.ProducerID] {
			continue
		}
		if req.Version >= 1 && req.DurationFilterMillis >= 0 && (d.Started.IsZero() || time.Since(d.Started).Milliseconds() < req.DurationFilterMillis) {
			continue
		}
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = d.ID, d.ProducerID, d.State
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return now(resp)
}

func knownTxnState(s string) bool {
	for st := int8(0); st <= 7; st++ {
		if txn.StateName(kmsg.TransactionState(st)) == s {
			return true
		}
	}
	return false
}
