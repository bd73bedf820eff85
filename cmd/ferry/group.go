package main

// ferry group list|describe|delete|reset-offsets: consumer group
// administration over the Kafka group APIs (ListGroups, DescribeGroups,
// OffsetFetch, ListOffsets, DeleteGroups, OffsetCommit).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const groupUsage = `usage: ferry group <action> [flags]

actions:
  list [--state S]
  describe GROUP
  delete GROUP...
  reset-offsets GROUP --topic T [--partition N]
      (--to-earliest | --to-latest | --to-time RFC3339 | --to-offset N) [--execute]

run 'ferry group <action> -h' for an action's flags`

func runGroup(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	list := func(args []string) error { return groupList(ctx, args, stdout, stderr) }
	return runAction(args, groupUsage, "action", "list, describe, delete or reset-offsets", map[string]func([]string) error{
		"list":          list,
		"ls":            list,
		"describe":      func(args []string) error { return groupDescribe(ctx, args, stdout, stderr) },
		"delete":        func(args []string) error { return groupDelete(ctx, args, stdout, stderr) },
		"reset-offsets": func(args []string) error { return groupResetOffsets(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

// groupStates are the classic group states, as Kafka spells them.
var groupStates = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func groupList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("group list", "ferry group list [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	state := fs.String("state", "", "only groups in this state: "+strings.Join(groupStates, ", "))
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: group list takes no names (use group describe GROUP)", pos)
	}
	var states []string
	if *state != "" {
		s, ok := canonicalState(*state)
		if !ok {
			return fmt.Errorf("--state %q is not valid: use one of %s", *state, strings.Join(groupStates, ", "))
		}
		states = []string{s}
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	listed, err := adm.ListGroups(ctx, states...)
	if err != nil {
		return fmt.Errorf("cannot list groups: %w", err)
	}
	members := make(map[string]int)
	if len(listed) > 0 {
		described, err := adm.DescribeGroups(ctx, listed.Groups()...)
		if err != nil {
			return fmt.Errorf("cannot describe groups: %w", err)
		}
		for name, d := range described {
			members[name] = len(d.Members)
		}
	}
	tw := newTable(stdout, "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS")
	for _, g := range listed.Sorted() {
		// A broker that ignores the filter must not widen it.
		if len(states) > 0 && g.State != "" && g.State != states[0] {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", g.Group, orDash(g.State), orDash(g.ProtocolType), members[g.Group])
	}
	return tw.Flush()
}

func canonicalState(s string) (string, bool) {
	for _, st := range groupStates {
		if strings.EqualFold(s, st) {
			return st, true
		}
	}
	return "", false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func errNoGroup(group string) error {
	return fmt.Errorf("group %q does not exist — see `ferry group list`", group)
}

func groupDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("group describe", "ferry group describe GROUP [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	group, err := parseName(fs, args, "group")
	if err != nil {
		return err
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	lags, err := adm.Lag(ctx, group)
	if err != nil {
		return fmt.Errorf("cannot describe group %q: %w", group, err)
	}
	l, ok := lags[group]
	if !ok {
		return fmt.Errorf("cannot describe group %q: missing from the broker's answer", group)
	}
	if errors.Is(l.DescribeErr, kerr.GroupIDNotFound) || (l.DescribeErr == nil && l.State == "Dead") {
		return errNoGroup(group)
	}
	if err := l.Error(); err != nil {
		return fmt.Errorf("cannot describe group %q: %w", group, err)
	}

	protocol := orDash(l.ProtocolType)
	if l.Protocol != "" {
		protocol += " (" + l.Protocol + ")"
	}
	fmt.Fprintf(stdout, "Group: %s  State: %s  Protocol: %s  Members: %d\n", group, l.State, protocol, len(l.Members))

	if len(l.Members) > 0 {
		fmt.Fprintln(stdout)
		tw := newTable(stdout, "MEMBER\tINSTANCE\tCLIENT-ID\tHOST\tPARTITIONS")
		for _, m := range l.Members {
			inst := "-"
			if m.InstanceID != nil {
				inst = *m.InstanceID
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, inst, orDash(m.ClientID), orDash(m.ClientHost), assignedString(m))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	rows := l.Lag.Sorted()
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "\nno committed offsets and no assigned partitions")
		return nil
	}
	fmt.Fprintln(stdout)
	tw := newTable(stdout, "TOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG\tMEMBER")
	for _, r := range rows {
		committed, end, lag := "-", "-", "-"
		if r.Commit.At >= 0 {
			committed = strconv.FormatInt(r.Commit.At, 10)
		}
		if r.End.Err == nil {
			end = strconv.FormatInt(r.End.Offset, 10)
		}
		if r.Err == nil {
			lag = strconv.FormatInt(r.Lag, 10)
		} else {
			lag = "? (" + r.Err.Error() + ")"
		}
		member := "-"
		if r.Member != nil {
			member = r.Member.MemberID
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, committed, end, lag, member)
	}
	return tw.Flush()
}

// assignedString renders a member's assignment as "topic:0,1 other:2".
func assignedString(m kadm.DescribedGroupMember) string {
	c, ok := m.Assigned.AsConsumer()
	if !ok || len(c.Topics) == 0 {
		return "-"
	}
	topics := make([]string, 0, len(c.Topics))
	for _, t := range c.Topics {
		ps := append([]int32(nil), t.Partitions...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		topics = append(topics, t.Topic+":"+joinInt32(ps))
	}
	sort.Strings(topics)
	return strings.Join(topics, " ")
}

func groupDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("group delete", "ferry group delete GROUP... [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	names, err := parseNames(fs, args, "group")
	if err != nil {
		return err
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	rs, err := adm.DeleteGroups(ctx, names...)
	if err != nil {
		return fmt.Errorf("cannot delete groups: %w", err)
	}
	return reportDeleted(stdout, "group", names, func(name string) string {
		r, ok := rs[name]
		switch {
		case !ok:
			return "missing from the broker's answer"
		case errors.Is(r.Err, kerr.GroupIDNotFound):
			return "no such group"
		case errors.Is(r.Err, kerr.NonEmptyGroup):
			return "the group has active members; stop its consumers first"
		case r.Err != nil:
			return fmt.Sprintf("%v%s", r.Err, errMessage(r.Err, r.ErrMessage))
		}
		return ""
	})
}

func groupResetOffsets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("group reset-offsets",
		"ferry group reset-offsets GROUP --topic T [--partition N] (--to-earliest | --to-latest | --to-time T | --to-offset N) [--execute]", stdout, stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic whose offsets to reset (required)")
	partition := fs.Int("partition", -1, "reset only this partition; -1 resets all")
	toEarliest := fs.Bool("to-earliest", false, "reset to the first offset still in the log")
	toLatest := fs.Bool("to-latest", false, "reset to the log end offset (skip everything not yet read)")
	toTime := fs.String("to-time", "", "reset to the first record at or after this RFC3339 time (2024-05-01T12:00:00Z)")
	toOffset := fs.Int64("to-offset", -1, "reset to this offset (clamped into what the log holds)")
	execute := fs.Bool("execute", false, "commit the new offsets (without it, only print the plan)")
	group, err := parseName(fs, args, "group")
	if err != nil {
		return err
	}
	if *topic == "" {
		fs.Usage()
		return errors.New("--topic is required")
	}
	var chosen []string
	offsetSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "to-earliest", "to-latest":
			if f.Value.String() == "true" {
				chosen = append(chosen, "--"+f.Name)
			}
		case "to-time":
			chosen = append(chosen, "--to-time")
		case "to-offset":
			chosen = append(chosen, "--to-offset")
			offsetSet = true
		}
	})
	if len(chosen) != 1 {
		return fmt.Errorf("give exactly one of --to-earliest, --to-latest, --to-time or --to-offset (got %d)", len(chosen))
	}
	if offsetSet && *toOffset < 0 {
		return fmt.Errorf("--to-offset %d is not valid: offsets start at 0", *toOffset)
	}
	var at time.Time
	if *toTime != "" {
		if at, err = time.Parse(time.RFC3339Nano, *toTime); err != nil {
			return fmt.Errorf("--to-time %q is not valid: use an RFC3339 time such as 2024-05-01T12:00:00Z", *toTime)
		}
	}

	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	n, err := topicPartitions(ctx, adm, *topic)
	if err != nil {
		return err
	}
	if *partition >= n {
		return fmt.Errorf("--partition %d does not exist: topic %q has partitions 0..%d", *partition, *topic, n-1)
	}

	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("cannot describe group %q: %w", group, err)
	}
	state := "Dead" // unknown groups: resetting creates their offsets
	members := 0
	if d, ok := described[group]; ok && d.Err == nil {
		state, members = d.State, len(d.Members)
	} else if ok && !errors.Is(d.Err, kerr.GroupIDNotFound) {
		return fmt.Errorf("cannot describe group %q: %w", group, d.Err)
	}
	active := state != "Empty" && state != "Dead"
	if active && *execute {
		return fmt.Errorf("group %q is %s with %d member(s): offsets can only be reset while the group is Empty — stop its consumers (or wait for their session timeout) and run this again",
			group, state, members)
	}

	current, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("cannot fetch committed offsets of group %q: %w", group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, *topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot list start offsets of %q: %w", *topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, *topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot list end offsets of %q: %w", *topic, err)
	}
	var byTime kadm.ListedOffsets
	if *toTime != "" {
		byTime, err = adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), *topic)
		if err == nil {
			err = byTime.Error()
		}
		if err != nil {
			return fmt.Errorf("cannot look up offsets at %s in %q: %w", *toTime, *topic, err)
		}
	}

	plan := make(kadm.Offsets)
	tw := newTable(stdout, "PARTITION\tCURRENT\tNEW")
	for p := range int32(n) {
		if *partition >= 0 && p != int32(*partition) {
			continue
		}
		s, _ := starts.Lookup(*topic, p)
		e, _ := ends.Lookup(*topic, p)
		var target int64
		switch {
		case *toEarliest:
			target = s.Offset
		case *toLatest:
			target = e.Offset
		case *toTime != "":
			target = e.Offset // no record at or after the time
			if o, ok := byTime.Lookup(*topic, p); ok && o.Offset >= 0 {
				target = o.Offset
			}
		default:
			target = *toOffset
		}
		target = min(max(target, s.Offset), e.Offset)
		cur := "-"
		if o, ok := current.Lookup(*topic, p); ok && o.Err == nil && o.At >= 0 {
			cur = strconv.FormatInt(o.At, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\n", p, cur, target)
		plan.Add(kadm.Offset{Topic: *topic, Partition: p, At: target, LeaderEpoch: -1})
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if !*execute {
		fmt.Fprintf(stdout, "dry run: nothing changed; add --execute to commit these offsets for group %s\n", group)
		if active {
			fmt.Fprintf(stderr, "note: group %q is %s with %d member(s); --execute needs it Empty (stop its consumers first)\n", group, state, members)
		}
		return nil
	}
	rs, err := adm.CommitOffsets(ctx, group, plan)
	if err != nil {
		return fmt.Errorf("cannot commit offsets for group %q: %w", group, err)
	}
	if err := rs.Error(); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) {
			return fmt.Errorf("cannot commit offsets for group %q: %w — a consumer joined the group meanwhile; stop its consumers and run this again", group, err)
		}
		return fmt.Errorf("cannot commit offsets for group %q: %w", group, err)
	}
	fmt.Fprintf(stdout, "committed new offsets for group %s\n", group)
	return nil
}
