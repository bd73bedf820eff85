package main

// ferry cluster reassign: move partitions' replicas with a plan in Kafka's
// reassignment JSON (AlterPartitionReassignments), show the moves running
// with their progress (ListPartitionReassignments, and DescribeLogDirs for
// the bytes each new replica holds against its leader), or cancel them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignPlan is Kafka's reassignment JSON, as kafka-reassign-partitions
// reads and writes it. log_dirs is accepted and must be "any" if given:
// a Ferry broker has one data dir.
type reassignPlan struct {
	Version    int                 `json:"version"`
	Partitions []reassignPlanEntry `json:"partitions"`
}

type reassignPlanEntry struct {
	Topic     string   `json:"topic"`
	Partition *int32   `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

// parsePlan reads and checks a plan: version 1, every entry naming a
// topic, a partition and at least one replica, no partition twice.
func parsePlan(data []byte) (kadm.AlterPartitionAssignmentsReq, int, error) {
	var plan reassignPlan
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plan); err != nil {
		return nil, 0, fmt.Errorf("plan is not Kafka's reassignment JSON: %w", err)
	}
	if plan.Version != 1 {
		return nil, 0, fmt.Errorf("plan version %d: only version 1 is known", plan.Version)
	}
	if len(plan.Partitions) == 0 {
		return nil, 0, errors.New(`plan lists no partitions ({"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]})`)
	}
	req := kadm.AlterPartitionAssignmentsReq{}
	for i, e := range plan.Partitions {
		switch {
		case e.Topic == "":
			return nil, 0, fmt.Errorf("plan entry %d names no topic", i)
		case e.Partition == nil || *e.Partition < 0:
			return nil, 0, fmt.Errorf("plan entry %d (%s) names no partition", i, e.Topic)
		case len(e.Replicas) == 0:
			return nil, 0, fmt.Errorf("plan entry %d (%s-%d) names no replicas", i, e.Topic, *e.Partition)
		}
		for _, d := range e.LogDirs {
			if d != "any" {
				return nil, 0, fmt.Errorf("plan entry %d (%s-%d) names log dir %q: a Ferry broker has one data dir, use \"any\"", i, e.Topic, *e.Partition, d)
			}
		}
		if _, dup := req[e.Topic][*e.Partition]; dup {
			return nil, 0, fmt.Errorf("plan names %s-%d twice", e.Topic, *e.Partition)
		}
		req.Assign(e.Topic, *e.Partition, e.Replicas)
	}
	return req, len(plan.Partitions), nil
}

func clusterReassign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster reassign", "ferry cluster reassign --plan FILE | --status | --cancel [flags]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ferry cluster reassign --plan FILE.json | --status | --cancel [flags]

--plan starts moving each listed partition to its replicas (Kafka's JSON:
  {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[4,2,3]}]}).
  The first replica becomes the preferred leader. New replicas copy the
  partition from its leader (at --replication-throttle bytes/s if the brokers
  set it) and the old ones are dropped once the new ones are in sync.
--status lists the moves running, with each new replica's bytes against its
  leader's.
--cancel reverts the moves running (those of --plan, if given, else all).

flags:`)
		fs.PrintDefaults()
	}
	cf := addClientFlags(fs)
	planFile := fs.String("plan", "", "reassignment plan, Kafka's JSON (`FILE`; - reads stdin)")
	status := fs.Bool("status", false, "list running moves and their progress")
	cancelMoves := fs.Bool("cancel", false, "cancel running moves")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: cluster reassign takes only flags", pos)
	}
	if *status == (*planFile != "" || *cancelMoves) || (*status && *cancelMoves) {
		fs.Usage()
		return errors.New("give --plan FILE, --status, or --cancel (with or without --plan)")
	}
	var plan kadm.AlterPartitionAssignmentsReq
	if *planFile != "" {
		data, err := readPlanFile(*planFile)
		if err != nil {
			return err
		}
		if plan, _, err = parsePlan(data); err != nil {
			return err
		}
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	switch {
	case *status:
		return reassignStatus(rctx, adm, cl, stdout)
	case *cancelMoves:
		return reassignCancel(rctx, adm, cl, plan, stdout)
	}
	resp, err := adm.AlterPartitionAssignments(rctx, plan)
	if err != nil {
		return fmt.Errorf("reassign: %w", err)
	}
	return reportAssignments(resp, "moving to", plan, stdout)
}

func readPlanFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return data, nil
}

// reportAssignments prints one line per partition and fails if any did.
func reportAssignments(resp kadm.AlterPartitionAssignmentsResponses, did string, plan kadm.AlterPartitionAssignmentsReq, stdout io.Writer) error {
	failed := 0
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			failed++
			fmt.Fprintf(stdout, "%s-%d: %v%s\n", r.Topic, r.Partition, r.Err, errMessage(r.Err, r.ErrMessage))
			continue
		}
		if replicas := plan[r.Topic][r.Partition]; replicas != nil {
			fmt.Fprintf(stdout, "%s-%d: %s %v\n", r.Topic, r.Partition, did, replicas)
		} else {
			fmt.Fprintf(stdout, "%s-%d: %s\n", r.Topic, r.Partition, did)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d partition(s) failed", failed, len(resp.Sorted()))
	}
	return nil
}

// reassignCancel cancels the moves of plan, or every running move.
func reassignCancel(ctx context.Context, adm admin, cl *kgo.Client, plan kadm.AlterPartitionAssignmentsReq, stdout io.Writer) error {
	req := kadm.AlterPartitionAssignmentsReq{}
	if plan != nil {
		for t, ps := range plan {
			for p := range ps {
				req.CancelAssign(t, p)
			}
		}
	} else {
		moving, err := listReassignments(ctx, cl)
		if err != nil {
			return err
		}
		for t, ps := range moving {
			for p := range ps {
				req.CancelAssign(t, p)
			}
		}
	}
	if len(req) == 0 {
		fmt.Fprintln(stdout, "no reassignment in progress")
		return nil
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	return reportAssignments(resp, "move cancelled", nil, stdout)
}

// reassignStatus prints the running moves and, for each new replica, the
// bytes it holds against the leader's (DescribeLogDirs of both brokers).
func reassignStatus(ctx context.Context, adm admin, cl *kgo.Client, stdout io.Writer) error {
	moving, err := listReassignments(ctx, cl)
	if err != nil {
		return err
	}
	if len(moving) == 0 {
		fmt.Fprintln(stdout, "no reassignment in progress")
		return nil
	}
	set := kadm.TopicsSet{}
	var topics []string
	for t, ps := range moving {
		topics = append(topics, t)
		for p := range ps {
			set.Add(t, p)
		}
	}
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	// Progress is best effort: a broker that does not answer shows "?" and
	// why.
	type brokerDirs struct {
		dirs kadm.DescribedLogDirs
		err  error
	}
	asked := map[int32]brokerDirs{}
	size := func(broker int32, t string, p int32) (int64, bool) {
		if broker < 0 {
			return 0, false
		}
		bd, ok := asked[broker]
		if !ok {
			bd.dirs, bd.err = adm.DescribeBrokerLogDirs(ctx, broker, set)
			if bd.err == nil {
				bd.err = bd.dirs.Error()
			}
			asked[broker] = bd
		}
		if bd.err != nil {
			return 0, false
		}
		// A broker that answers without the partition has not opened
		// its new replica yet: nothing copied.
		dp, _ := bd.dirs.LookupPartition(t, p)
		return dp.Size, true
	}
	tw := newTable(stdout, "TOPIC\tPARTITION\tREPLICAS\tADDING\tREMOVING\tLEADER\tPROGRESS")
	var rows []kadm.ListPartitionReassignmentsResponse
	for _, ps := range moving {
		for _, r := range ps {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b kadm.ListPartitionReassignmentsResponse) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	for _, r := range rows {
		leader := int32(-1)
		if pd, ok := md.Topics[r.Topic].Partitions[r.Partition]; ok {
			leader = pd.Leader
		}
		leaderSize, leaderOK := size(leader, r.Topic, r.Partition)
		var progress []string
		for _, a := range r.AddingReplicas {
			s, ok := size(a, r.Topic, r.Partition)
			switch {
			case !ok:
				progress = append(progress, fmt.Sprintf("%d: ? (broker %d does not answer: down? the move waits for it)", a, a))
			case !leaderOK:
				progress = append(progress, fmt.Sprintf("%d: ? (leader %d does not answer)", a, leader))
			case leaderSize == 0:
				progress = append(progress, fmt.Sprintf("%d: %d/0 B", a, s))
			default:
				progress = append(progress, fmt.Sprintf("%d: %d/%d B (%.0f%%)", a, s, leaderSize, 100*float64(s)/float64(leaderSize)))
			}
		}
		if len(progress) == 0 {
			progress = []string{"removing only"}
		}
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t%v\t%d\t%s\n", r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas, leader, strings.Join(progress, ", "))
	}
	return tw.Flush()
}

// listReassignments lists every running move: ListPartitionReassignments
// with null topics (kadm asks only about partitions it is given).
func listReassignments(ctx context.Context, cl *kgo.Client) (map[string]map[int32]kadm.ListPartitionReassignmentsResponse, error) {
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list reassignments: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("list reassignments: %w%s", err, errMessage(err, deref(resp.ErrorMessage)))
	}
	out := map[string]map[int32]kadm.ListPartitionReassignmentsResponse{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if out[t.Topic] == nil {
				out[t.Topic] = map[int32]kadm.ListPartitionReassignmentsResponse{}
			}
			out[t.Topic][p.Partition] = kadm.ListPartitionReassignmentsResponse{Topic: t.Topic, Partition: p.Partition,
				Replicas: p.Replicas, AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas}
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
