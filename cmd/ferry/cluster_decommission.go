package main

// ferry cluster decommission N: mark broker N draining with
// IncrementalAlterConfigs on its BROKER resource (ferry.broker.draining,
// see internal/kafka/44_incremental_alter_configs.go). The active
// controller then moves every replica off it; --wait follows the move in
// Metadata until N holds none, when it can be stopped with no partition
// below its replication factor.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// drainingConfig is the broker config the brokers read (broker.DrainingConfig).
const drainingConfig = "ferry.broker.draining"

// drainPoll is how often --wait asks for the replicas left.
const drainPoll = time.Second

func clusterDecommission(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster decommission", "ferry cluster decommission NODE-ID [flags]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ferry cluster decommission NODE-ID [flags]

Marks the broker draining: no new replica is placed on it and the active
controller moves each replica it holds to the other brokers (a new replica
catches up before the old one is removed, throttled by --replication-throttle).
Once it holds none it is drained ('ferry cluster status' shows it) and can be
stopped without any partition dropping below its replication factor.
--cancel clears the mark; replicas already moved stay where they are.

flags:`)
		fs.PrintDefaults()
	}
	cf := addClientFlags(fs)
	cancel := fs.Bool("cancel", false, "clear the draining mark instead")
	wait := fs.Bool("wait", false, "wait until the broker holds no replica, printing the replicas left")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("decommission takes one broker node id, got %q", pos)
	}
	node, err := strconv.ParseInt(pos[0], 10, 32)
	if err != nil || node < 0 {
		return fmt.Errorf("node id %q is not a non-negative number", pos[0])
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := setDraining(ctx, adm, cl, int32(node), !*cancel); err != nil {
		return err
	}
	if *cancel {
		fmt.Fprintf(stdout, "broker %d is no longer draining\n", node)
		return nil
	}
	fmt.Fprintf(stdout, "broker %d is draining: the controller moves its replicas to the other brokers\n", node)
	if !*wait {
		rctx, cancel := adm.requestContext(ctx)
		if md, err := adm.Metadata(rctx); err == nil {
			warnStuck(stdout, md, int32(node), drainingBrokers(rctx, adm, md.Brokers.NodeIDs()), addingReplicas(rctx, cl))
		}
		cancel()
		fmt.Fprintf(stdout, "follow it with 'ferry cluster status' or 'ferry cluster decommission %d --wait'\n", node)
		return nil
	}
	return waitDrained(ctx, adm, cl, int32(node), stdout)
}

// setDraining sends the config change to the active controller's broker
// (any live broker serves it), not to the broker being drained, which
// may be down: kadm would route a BROKER resource to that broker.
func setDraining(ctx context.Context, adm admin, cl *kgo.Client, node int32, draining bool) error {
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	md, err := adm.BrokerMetadata(rctx)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	target := md.Controller
	if target < 0 && len(md.Brokers) > 0 {
		target = md.Brokers[0].NodeID
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(node))
	rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	rc.Name, rc.Op, rc.Value = drainingConfig, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(strconv.FormatBool(draining))
	rr.Configs = append(rr.Configs, rc)
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(rctx, cl.Broker(int(target)))
	if err != nil {
		return fmt.Errorf("alter broker %d config: %w", node, err)
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			msg := ""
			if r.ErrorMessage != nil {
				msg = ": " + *r.ErrorMessage
			}
			return fmt.Errorf("mark broker %d draining: %w%s", node, err, msg)
		}
	}
	return nil
}

// waitDrained polls Metadata until no partition lists node as a replica.
func waitDrained(ctx context.Context, adm admin, cl *kgo.Client, node int32, stdout io.Writer) error {
	last, lastStuck := -1, 0
	for {
		rctx, cancel := adm.requestContext(ctx)
		md, err := adm.Metadata(rctx)
		var draining map[int32]bool
		var adding map[string]map[int32][]int32
		if err == nil {
			draining, adding = drainingBrokers(rctx, adm, md.Brokers.NodeIDs()), addingReplicas(rctx, cl)
		}
		cancel()
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		left := replicasOn(md, node)
		if left != last {
			fmt.Fprintf(stdout, "%s  broker %d holds %d replica(s)\n", time.Now().Format(time.TimeOnly), node, left)
			last = left
		}
		// Say why the count stops falling (once per change).
		if stuck, _, _ := stuckOnDrain(md, node, draining, adding); stuck != lastStuck {
			warnStuck(stdout, md, node, draining, adding)
			lastStuck = stuck
		}
		if left == 0 {
			fmt.Fprintf(stdout, "broker %d is drained: it can be stopped with no partition below its replication factor\n", node)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(drainPoll):
		}
	}
}

// replicasOn counts the partitions of md that name node as a replica.
func replicasOn(md kadm.Metadata, node int32) int {
	n := 0
	for _, td := range md.Topics {
		for _, pd := range td.Partitions {
			for _, r := range pd.Replicas {
				if r == node {
					n++
				}
			}
		}
	}
	return n
}

// stuckOnDrain counts the replicas on node that cannot move: their
// partition has more replicas than there are other brokers that are up
// (listed in md) and not draining; adding holds the replicas moves are
// adding (addingReplicas). It also returns the largest such
// replication factor and the number of those other brokers.
func stuckOnDrain(md kadm.Metadata, node int32, draining map[int32]bool, adding map[string]map[int32][]int32) (stuck, rf, others int) {
	for _, b := range md.Brokers {
		if b.NodeID != node && !draining[b.NodeID] {
			others++
		}
	}
	for _, td := range md.Topics {
		for _, pd := range td.Partitions {
			// A moving partition lists its new replicas too.
			n := len(pd.Replicas) - len(adding[pd.Topic][pd.Partition])
			if slices.Contains(pd.Replicas, node) && n > others {
				stuck++
				rf = max(rf, n)
			}
		}
	}
	return stuck, rf, others
}

// warnStuck says why a drain cannot finish, when it cannot.
func warnStuck(w io.Writer, md kadm.Metadata, node int32, draining map[int32]bool, adding map[string]map[int32][]int32) int {
	stuck, rf, others := stuckOnDrain(md, node, draining, adding)
	if stuck > 0 {
		fmt.Fprintf(w, "%d replica(s) on broker %d cannot move yet: their partitions have up to %d replicas and only %d other broker(s) are up and not draining; they move once enough brokers join (or 'ferry cluster decommission %d --cancel')\n",
			stuck, node, rf, others, node)
	}
	return stuck
}
