package main

// ferry topic scale: the backlog runbook (README, "A backlog that must
// drain ten times faster") as one command. It adds partitions, which the
// brokers place over every live broker that is not draining, shows where
// their leaders went, and with --group follows the consumer group until
// its members own every partition.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// scalePoll is how often --wait looks at the group's assignment.
const scalePoll = 500 * time.Millisecond

func topicScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic scale", "ferry topic scale NAME (--partitions N | --factor F) [--group G [--wait]]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `usage: ferry topic scale NAME (--partitions N | --factor F) [--group G [--wait]]

Adds partitions to a topic so more consumers can share it: the new
partitions are placed over every live broker that is not draining, each
broker leading about as many. With --group, shows how the group will see them:
a KIP-848 group (group.protocol=consumer) at its members' next heartbeat, a
classic group when each member's client next refreshes metadata
(metadata.max.age.ms, librdkafka topic.metadata.refresh.interval.ms;
5 minutes by default) and rejoins. --wait follows the
group until its members own every partition.

Records already written stay in their partitions, and keys map to
partitions anew (hash mod count): per-key order holds from here on only.

flags:`)
		fs.PrintDefaults()
	}
	cf := addClientFlags(fs)
	partitions := fs.Int("partitions", 0, "new total number of partitions")
	factor := fs.Int("factor", 0, "multiply the partition count by this instead")
	group := fs.String("group", "", "consumer group that reads the topic: report how and when it takes the new partitions")
	wait := fs.Bool("wait", false, "with --group, wait until the group's members own every partition")
	name, err := parseName(fs, args, "topic")
	if err != nil {
		return err
	}
	if (*partitions > 0) == (*factor > 0) {
		return errors.New("give either --partitions N (the new total) or --factor F (times the current count)")
	}
	if *wait && *group == "" {
		return errors.New("--wait follows a consumer group: give --group")
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()

	have, err := topicPartitions(ctx, adm, name)
	if err != nil {
		return err
	}
	want := *partitions
	if *factor > 0 {
		want = have * *factor
	}
	if want < have {
		return fmt.Errorf("--partitions %d is fewer than the %d the topic has: partitions can only be added", want, have)
	}
	start := time.Now()
	if want > have {
		rctx, cancel := adm.requestContext(ctx)
		rs, err := adm.UpdatePartitions(rctx, want, name)
		cancel()
		if err == nil {
			var r kadm.CreatePartitionsResponse
			if r, err = rs.On(name, nil); err == nil && r.Err != nil {
				err = fmt.Errorf("%w%s", r.Err, errMessage(r.Err, r.ErrMessage))
			}
		}
		if err != nil {
			return fmt.Errorf("cannot add partitions to %q: %w", name, err)
		}
		fmt.Fprintf(stdout, "topic %s now has %d partitions (was %d)\n", name, want, have)
	} else {
		fmt.Fprintf(stdout, "topic %s already has %d partitions\n", name, have)
	}
	if err := printLeaders(ctx, adm, name, stdout); err != nil {
		return err
	}
	if *group == "" {
		fmt.Fprintf(stdout, "consumers of %s can now run up to %d members per group\n", name, want)
		return nil
	}
	kind := groupKind(ctx, adm, *group)
	fmt.Fprintf(stdout, "group %s is %s\n", *group, kind)
	if !*wait {
		return nil
	}
	return waitGroupOwns(ctx, adm, *group, name, want, start, stdout)
}

// printLeaders prints how many partitions of topic each broker leads.
func printLeaders(ctx context.Context, adm admin, topic string, stdout io.Writer) error {
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	md, err := adm.Metadata(rctx, topic)
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	led := map[int32]int{}
	for _, pd := range md.Topics[topic].Partitions {
		led[pd.Leader]++
	}
	ids := slices.Sorted(func(yield func(int32) bool) {
		for id := range led {
			if !yield(id) {
				return
			}
		}
	})
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("broker %d: %d", id, led[id]))
	}
	fmt.Fprintf(stdout, "partition leaders: %s\n", strings.Join(parts, ", "))
	return nil
}

// groupKind says which protocol group uses and when it sees new
// partitions.
func groupKind(ctx context.Context, adm admin, group string) string {
	rctx, cancel := adm.requestContext(ctx)
	defer cancel()
	if gs, err := adm.DescribeConsumerGroups(rctx, group); err == nil {
		if g, ok := gs[group]; ok && g.Err == nil && len(g.Members) > 0 {
			return fmt.Sprintf("a KIP-848 consumer group with %d member(s): they get the new partitions at their next heartbeat", len(g.Members))
		}
	}
	gs, err := adm.DescribeGroups(rctx, group)
	if err == nil {
		if g, ok := gs[group]; ok && g.Err == nil && len(g.Members) > 0 {
			return fmt.Sprintf("a classic group with %d member(s): each rejoins when its client next refreshes metadata (metadata.max.age.ms, librdkafka topic.metadata.refresh.interval.ms; 5 minutes by default)", len(g.Members))
		}
	}
	return "empty: members that join get the new partitions"
}

// waitGroupOwns polls the group's lag (which names the member owning each
// partition) until every partition of topic has an owner.
func waitGroupOwns(ctx context.Context, adm admin, group, topic string, partitions int, start time.Time, stdout io.Writer) error {
	last := -1
	for {
		rctx, cancel := adm.requestContext(ctx)
		lags, err := adm.Lag(rctx, group)
		cancel()
		if err != nil {
			return fmt.Errorf("describe group %s: %w", group, err)
		}
		l := lags[group]
		owned, members, lag := 0, map[string]bool{}, int64(0)
		for p, ml := range l.Lag[topic] {
			if int(p) < partitions && ml.Member != nil {
				owned++
				members[ml.Member.MemberID] = true
			}
			if ml.Lag > 0 {
				lag += ml.Lag
			}
		}
		if owned != last {
			fmt.Fprintf(stdout, "%s  group %s: %d of %d partitions owned by %d member(s), lag %d\n",
				time.Now().Format(time.TimeOnly), group, owned, partitions, len(members), lag)
			last = owned
		}
		if owned == partitions {
			fmt.Fprintf(stdout, "group %s owns all %d partitions of %s, %s after the partitions were added\n",
				group, partitions, topic, time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(scalePoll):
		}
	}
}
