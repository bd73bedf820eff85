package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/config"
)

// TestMaxPartitionsLimit: topics and added partitions past --max-partitions
// are refused with POLICY_VIOLATION, and nothing is created.
func TestMaxPartitionsLimit(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	cfg.MaxPartitions = 13 // __consumer_offsets, __transaction_state and __scheduled hold 3
	cfg.OffsetsTopicPartitions, cfg.TxnTopicPartitions = 1, 1
	srv, _ := startServer(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, srv.Addr()))

	if _, err := adm.CreateTopic(ctx, 8, 1, nil, "fits"); err != nil {
		t.Fatalf("8 partitions under a limit of 13: %v", err)
	}
	_, err := adm.CreateTopic(ctx, 3, 1, nil, "too-many")
	if !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("creating 3 more partitions: err = %v, want POLICY_VIOLATION", err)
	}
	resp, err := adm.CreatePartitions(ctx, 3, "fits")
	if err == nil {
		err = resp.Error()
	}
	if !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("adding 3 partitions: err = %v, want POLICY_VIOLATION", err)
	}
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tds.Has("too-many") || len(tds["fits"].Partitions) != 8 {
		t.Fatalf("refused changes were applied: %v", tds.Names())
	}
	resp, err = adm.CreatePartitions(ctx, 2, "fits")
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("adding 2 partitions up to the limit: %v", err)
	}
}
