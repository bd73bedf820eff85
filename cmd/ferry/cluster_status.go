package main

// ferry cluster status: Metadata for the brokers and partitions,
// DescribeCluster for the active controller, DescribeConfigs for each
// topic's min.insync.replicas, and one request to every listed broker to
// see whether it answers; classify (cluster_health.go) finds the problems.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// exitOffline is the exit status of `ferry cluster status` when a
// partition is offline (1 stays "the command failed").
const exitOffline = 2

// brokerProbeTimeout bounds the wait for one broker's answer: a broker
// that is down on loopback refuses at once, one that is stopped
// (SIGSTOP) or cut off never answers.
const brokerProbeTimeout = 3 * time.Second

func clusterStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster status", "ferry cluster status [flags]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ferry cluster status [flags]

Shows the brokers, the active controller, and the partitions that are
under-replicated (ISR smaller than the replicas, not counting those a move
is still adding), under min ISR (ISR smaller
than the topic's min.insync.replicas) or offline (no leader, or a leader that
is not listed or does not answer), then one summary line. Exit status: 0 when
no partition is offline, 2 when one is, 1 when the cluster cannot be asked.

flags:`)
		fs.PrintDefaults()
	}
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: cluster status takes only flags", pos)
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	h, err := collectHealth(ctx, adm, cl)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(h); err != nil {
			return err
		}
	} else {
		printHealth(stdout, h)
	}
	if h.Offline > 0 {
		return &exitStatusError{exitOffline, fmt.Sprintf("%d partition(s) offline", h.Offline)}
	}
	return nil
}

// collectHealth asks the cluster and classifies what it answers.
func collectHealth(ctx context.Context, adm admin, cl *kgo.Client) (clusterHealth, error) {
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	md, err := adm.Metadata(rctx)
	if err != nil {
		return clusterHealth{}, fmt.Errorf("metadata: %w", err)
	}
	controller := activeController(rctx, cl, md.Controller)
	minISR, err := topicMinISR(rctx, adm, md.Topics.Names())
	if err != nil {
		return clusterHealth{}, err
	}
	h := classify(md, controller, minISR, probeBrokers(rctx, cl, md.Brokers), addingReplicas(rctx, cl))
	markDraining(&h, md, drainingBrokers(rctx, adm, md.Brokers.NodeIDs()))
	return h, nil
}

// addingReplicas lists the replicas each moving partition is adding; a
// cluster that cannot list moves (a single node, an older broker) has none.
func addingReplicas(ctx context.Context, cl *kgo.Client) map[string]map[int32][]int32 {
	out := map[string]map[int32][]int32{}
	moving, err := listReassignments(ctx, cl)
	if err != nil {
		return out
	}
	for topic, ps := range moving {
		out[topic] = map[int32][]int32{}
		for p, r := range ps {
			out[topic][p] = r.AddingReplicas
		}
	}
	return out
}

// drainingBrokers asks each broker for its ferry.broker.draining; a broker
// that does not answer (or predates the config) counts as not draining.
func drainingBrokers(ctx context.Context, adm admin, ids []int32) map[int32]bool {
	out := map[int32]bool{}
	if len(ids) == 0 {
		return out
	}
	rcs, _ := adm.DescribeBrokerConfigs(ctx, ids...) // partial results on shard errors
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key == drainingConfig && c.Value != nil && *c.Value == "true" {
				if id, err := strconv.Atoi(rc.Name); err == nil {
					out[int32(id)] = true
				}
			}
		}
	}
	return out
}

// activeController asks DescribeCluster for the controller; a broker that
// does not serve it leaves the one Metadata named.
func activeController(ctx context.Context, cl *kgo.Client, fromMetadata int32) int32 {
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		return fromMetadata
	}
	return resp.ControllerID
}

// topicMinISR reads min.insync.replicas of each topic; a topic whose
// config is absent, unreadable or not a number is left out (classify then
// uses defaultMinISR).
func topicMinISR(ctx context.Context, adm admin, topics []string) (map[string]int, error) {
	out := map[string]int{}
	if len(topics) == 0 {
		return out, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topic configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			continue
		}
		for _, c := range rc.Configs {
			if c.Key != "min.insync.replicas" || c.Value == nil {
				continue
			}
			if n, err := strconv.Atoi(*c.Value); err == nil && n > 0 {
				out[rc.Name] = n
			}
		}
	}
	return out, nil
}

// probeBrokers sends a Metadata request without topics to every listed
// broker at once and returns why each one that did not answer failed.
func probeBrokers(ctx context.Context, cl *kgo.Client, brokers kadm.BrokerDetails) map[int32]string {
	var mu sync.Mutex
	down := map[int32]string{}
	var wg sync.WaitGroup
	for _, b := range brokers {
		wg.Add(1)
		go func(id int32) {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, brokerProbeTimeout)
			defer cancel()
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
			if _, err := cl.Broker(int(id)).Request(pctx, req); err != nil {
				mu.Lock()
				down[id] = err.Error()
				mu.Unlock()
			}
		}(b.NodeID)
	}
	wg.Wait()
	return down
}

func printHealth(w io.Writer, h clusterHealth) {
	controller := "none"
	if h.Controller >= 0 {
		controller = strconv.Itoa(int(h.Controller))
	}
	fmt.Fprintf(w, "Cluster: %s  Controller: %s\n\n", h.ClusterID, controller)
	tw := newTable(w, "BROKER\tADDRESS\tCONTROLLER\tSTATE")
	for _, b := range h.Brokers {
		role := "-"
		if b.ID == h.Controller {
			role = "active"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", b.ID, b.Addr, role, b.state())
	}
	tw.Flush()
	if len(h.Problems) > 0 {
		fmt.Fprintln(w)
		tw = newTable(w, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR\tMIN-ISR\tPROBLEM")
		for _, p := range h.Problems {
			for i, why := range p.Why {
				if i == 0 {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%s\n", p.Topic, p.Partition, p.Leader, int32List(p.Replicas), int32List(p.ISR), p.MinISR, why)
				} else {
					fmt.Fprintf(tw, "\t\t\t\t\t\t%s\n", why)
				}
			}
		}
		tw.Flush()
	}
	for _, e := range h.TopicErrors {
		fmt.Fprintf(w, "topic %s\n", e)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, h.summary())
}
