package main

// ferry cluster elect-leaders: ElectLeaders, preferred (the first replica
// of each partition, when in sync) or unclean (any live replica of an
// offline partition, losing what only the dead leader held).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func clusterElectLeaders(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cluster elect-leaders", "ferry cluster elect-leaders [--topic T] [--unclean] [flags]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ferry cluster elect-leaders [--topic T] [--unclean] [flags]

Moves each partition's leadership to its preferred replica (the first one)
where that replica is in sync and does not lead yet; with --unclean, gives
each OFFLINE partition a leader even if no in-sync replica is live
(acknowledged records only the lost leader held are then lost). Without
--topic, every partition. Exit status 1 if an election failed.

flags:`)
		fs.PrintDefaults()
	}
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "only this topic's partitions")
	unclean := fs.Bool("unclean", false, "unclean election of offline partitions")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: cluster elect-leaders takes only flags", pos)
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	set := kadm.TopicsSet{}
	if *topic != "" {
		n, err := topicPartitions(ctx, adm, *topic)
		if err != nil {
			return err
		}
		for p := range n {
			set.Add(*topic, int32(p))
		}
	}
	how := kadm.ElectPreferredReplica
	if *unclean {
		how = kadm.ElectLiveReplica
	}
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	res, err := adm.ElectLeaders(rctx, how, set)
	if err != nil {
		return fmt.Errorf("elect leaders: %w", err)
	}
	elected, notNeeded, failed := 0, 0, 0
	for _, t := range slices.Sorted(maps.Keys(res)) {
		for _, p := range slices.Sorted(maps.Keys(res[t])) {
			r := res[t][p]
			switch {
			case r.Err == nil:
				elected++
				fmt.Fprintf(stdout, "%s-%d: leader elected\n", t, p)
			case errors.Is(r.Err, kerr.ElectionNotNeeded):
				notNeeded++
			default:
				failed++
				fmt.Fprintf(stdout, "%s-%d: %v%s\n", t, p, r.Err, errMessage(r.Err, r.ErrMessage))
			}
		}
	}
	fmt.Fprintf(stdout, "%d elected, %d not needed, %d failed\n", elected, notNeeded, failed)
	if failed > 0 {
		return fmt.Errorf("%d election(s) failed", failed)
	}
	return nil
}
