package console

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func (c *Console) listTransactions(ctx context.Context, _ *http.Request) (any, error) {
	listed, err := c.admin.ListTransactions(ctx, nil, nil)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	type txnSummary struct {
		TxnID       string `json:"txn_id"`
		ProducerID  int64  `json:"producer_id"`
		State       string `json:"state"`
		Coordinator int32  `json:"coordinator"`
	}
	out := []txnSummary{}
	for _, t := range listed.Sorted() {
		out = append(out, txnSummary{TxnID: t.TxnID, ProducerID: t.ProducerID, State: t.State, Coordinator: t.Coordinator})
	}
	return map[string]any{"transactions": out}, nil
}

func (c *Console) getTransaction(ctx context.Context, r *http.Request) (any, error) {
	id := r.PathValue("id")
	described, err := c.admin.DescribeTransactions(ctx, id)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	d, ok := described[id]
	if !ok || errors.Is(d.Err, kerr.TransactionalIDNotFound) {
		return nil, errNotFound("transactional id %q does not exist", id)
	}
	if d.Err != nil {
		return nil, d.Err
	}
	v := map[string]any{
		"txn_id": d.TxnID, "state": d.State, "coordinator": d.Coordinator,
		"producer_id": d.ProducerID, "producer_epoch": d.ProducerEpoch,
		"timeout_ms": d.TimeoutMillis, "partitions": map[string][]int32{},
	}
	if d.StartTimestamp > 0 {
		v["started"] = time.UnixMilli(d.StartTimestamp).UTC().Format(time.RFC3339Nano)
	}
	parts := map[string][]int32{}
	for topic, ps := range d.Topics {
		parts[topic] = slices.Sorted(maps.Keys(ps))
	}
	v["partitions"] = parts
	return v, nil
}
