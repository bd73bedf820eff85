package main

// ferry topic create|list|describe|alter|scale|delete: topic administration over
// the Kafka admin APIs (CreateTopics, Metadata, ListOffsets, DescribeConfigs,
// CreatePartitions, IncrementalAlterConfigs, DeleteTopics).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const topicUsage = `usage: ferry topic <action> [flags]

actions:
  create NAME [--partitions N] [--replication-factor R] [--config k=v ...]
  list
  describe NAME
  alter NAME [--partitions N] [--config k=v ...] [--delete-config k ...]
  scale NAME (--partitions N | --factor F) [--group G [--wait]]
      add partitions spread over the brokers and follow a group onto them
  delete NAME...

run 'ferry topic <action> -h' for an action's flags`

func runTopic(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	list := func(args []string) error { return topicList(ctx, args, stdout, stderr) }
	return runAction(args, topicUsage, "action", "create, list, describe, alter, scale or delete", map[string]func([]string) error{
		"create":   func(args []string) error { return topicCreate(ctx, args, stdout, stderr) },
		"list":     list,
		"ls":       list,
		"describe": func(args []string) error { return topicDescribe(ctx, args, stdout, stderr) },
		"alter":    func(args []string) error { return topicAlter(ctx, args, stdout, stderr) },
		"scale":    func(args []string) error { return topicScale(ctx, args, stdout, stderr) },
		"delete":   func(args []string) error { return topicDelete(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

func topicCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic create", "ferry topic create NAME [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	partitions := fs.Int("partitions", 1, "number of partitions (unless --timeout is given, create waits 30s + 50ms per partition for the broker to open them)")
	rf := fs.Int("replication-factor", -1, "copies of each partition; -1 takes the broker's default (a cluster's --default-replication-factor, min(3, live brokers) unless set)")
	var configs keyValueList
	fs.Var(&configs, "config", "topic config `key=value` (repeatable), e.g. retention.ms=86400000")
	name, err := parseName(fs, args, "topic")
	if err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("--partitions %d is not valid: a topic needs at least 1 partition", *partitions)
	}
	if (*rf < 1 && *rf != -1) || *rf > 32767 {
		return fmt.Errorf("--replication-factor %d is not valid: use 1 or more (at most the number of brokers), or -1 for the broker's default", *rf)
	}
	if !timeoutGiven(fs) {
		cf.timeout = createTimeout(*partitions)
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	cfg := make(map[string]*string, len(configs))
	for _, kv := range configs {
		cfg[kv.key] = kadm.StringPtr(kv.value)
	}
	resp, err := adm.CreateTopic(ctx, int32(*partitions), int16(*rf), cfg, name)
	if err != nil {
		return fmt.Errorf("cannot create topic %q: %w%s", name, err, errMessage(err, resp.ErrMessage))
	}
	fmt.Fprintf(stdout, "created topic %s with %d partition(s), replication factor %d\n", name, *partitions, resp.ReplicationFactor)
	return nil
}

// createTimePerPartition is how long `topic create` allows the broker per
// partition on top of the default --timeout. The broker answers
// CreateTopics once every partition is open (directories, files, fsyncs),
// so its time grows with the count; this is several times what a busy
// 2-core machine needs (BENCHMARKS.md).
const createTimePerPartition = 50 * time.Millisecond

// createTimeout is how long `topic create` waits for the broker (and the
// timeout_ms it sends) when neither --timeout nor FERRY_TIMEOUT is given:
// long enough for the broker to finish a large topic instead of giving up
// while the broker still works (3000 partitions: 3m).
func createTimeout(partitions int) time.Duration {
	return min(defaultTimeout+time.Duration(partitions)*createTimePerPartition, 30*time.Minute)
}

// timeoutGiven reports whether the user chose the timeout, by flag or
// environment.
func timeoutGiven(fs *flag.FlagSet) bool {
	given := os.Getenv(timeoutEnv) != ""
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "timeout" })
	return given
}

func topicList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic list", "ferry topic list [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	internal := fs.Bool("internal", false, "include internal topics such as __consumer_offsets")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: topic list takes no names (use topic describe NAME)", pos)
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	list := adm.ListTopics
	if *internal {
		list = adm.ListTopicsWithInternal
	}
	tds, err := list(ctx)
	if err != nil {
		return fmt.Errorf("cannot list topics: %w", err)
	}
	tw := newTable(stdout, "TOPIC\tPARTITIONS\tREPLICATION")
	for _, td := range tds.Sorted() {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", td.Topic, len(td.Partitions), replicationOf(td))
	}
	return tw.Flush()
}

func replicationOf(td kadm.TopicDetail) int {
	rf := 0
	for _, p := range td.Partitions {
		rf = max(rf, len(p.Replicas))
	}
	return rf
}

func topicDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic describe", "ferry topic describe NAME [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	name, err := parseName(fs, args, "topic")
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

	if _, err := topicPartitions(ctx, adm, name); err != nil {
		return err
	}
	tds, err := adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe topic %q: %w", name, err)
	}
	td := tds[name]
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot list start offsets of %q: %w", name, err)
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot list end offsets of %q: %w", name, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot describe configs of %q: %w", name, err)
	}

	fmt.Fprintf(stdout, "Topic: %s  Partitions: %d  Replication: %d", name, len(td.Partitions), replicationOf(td))
	if td.ID != (kadm.TopicID{}) {
		fmt.Fprintf(stdout, "  ID: %s", td.ID)
	}
	fmt.Fprintln(stdout)

	tw := newTable(stdout, "PARTITION\tLEADER\tREPLICAS\tISR\tSTART\tEND")
	for _, p := range td.Partitions.Sorted() {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", p.Partition, p.Leader,
			joinInt32(p.Replicas), joinInt32(p.ISR),
			offsetCell(starts, name, p.Partition), offsetCell(ends, name, p.Partition))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	// Only configs set on the topic itself; defaults would drown them.
	var set []kadm.Config
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("cannot describe configs of %q: %w%s", name, rc.Err, errMessage(rc.Err, rc.ErrMessage))
		}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				set = append(set, c)
			}
		}
	}
	sort.Slice(set, func(i, j int) bool { return set[i].Key < set[j].Key })
	fmt.Fprintln(stdout)
	if len(set) == 0 {
		fmt.Fprintln(stdout, "Configs: none set on the topic (broker defaults apply)")
		return nil
	}
	fmt.Fprintln(stdout, "Configs set on the topic:")
	tw = newTable(stdout, "KEY\tVALUE")
	for _, c := range set {
		v := c.MaybeValue()
		if c.Sensitive {
			v = "(sensitive)"
		}
		fmt.Fprintf(tw, "%s\t%s\n", c.Key, v)
	}
	return tw.Flush()
}

func offsetCell(l kadm.ListedOffsets, topic string, p int32) string {
	o, ok := l.Lookup(topic, p)
	if !ok {
		return "?"
	}
	if o.Err != nil {
		return "error: " + o.Err.Error()
	}
	return fmt.Sprint(o.Offset)
}

func joinInt32(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func topicAlter(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic alter", "ferry topic alter NAME [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	partitions := fs.Int("partitions", 0, "new total number of partitions (can only grow)")
	var configs keyValueList
	fs.Var(&configs, "config", "set topic config `key=value` (repeatable)")
	var deletes stringList
	fs.Var(&deletes, "delete-config", "remove a topic config `key`, back to the default (repeatable)")
	name, err := parseName(fs, args, "topic")
	if err != nil {
		return err
	}
	if *partitions == 0 && len(configs) == 0 && len(deletes) == 0 {
		return errors.New("nothing to alter: give --partitions, --config or --delete-config")
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()

	have, err := topicPartitions(ctx, adm, name)
	if err != nil {
		return err
	}
	if *partitions != 0 {
		switch {
		case *partitions < have:
			return fmt.Errorf("--partitions %d is fewer than the %d the topic has: partitions can only be added", *partitions, have)
		case *partitions == have:
			fmt.Fprintf(stdout, "topic %s already has %d partitions\n", name, have)
		default:
			rs, err := adm.UpdatePartitions(ctx, *partitions, name)
			if err == nil {
				var r kadm.CreatePartitionsResponse
				r, err = rs.On(name, nil)
				if err == nil && r.Err != nil {
					err = fmt.Errorf("%w%s", r.Err, errMessage(r.Err, r.ErrMessage))
				}
			}
			if err != nil {
				return fmt.Errorf("cannot add partitions to %q: %w", name, err)
			}
			fmt.Fprintf(stdout, "topic %s now has %d partitions (was %d)\n", name, *partitions, have)
		}
	}

	if len(configs) > 0 || len(deletes) > 0 {
		var alters []kadm.AlterConfig
		for _, kv := range configs {
			alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv.key, Value: kadm.StringPtr(kv.value)})
		}
		for _, k := range deletes {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
		rs, err := adm.AlterTopicConfigs(ctx, alters, name)
		if err == nil {
			var r kadm.AlterConfigsResponse
			r, err = rs.On(name, nil)
			if err == nil && r.Err != nil {
				err = fmt.Errorf("%w%s", r.Err, errMessage(r.Err, r.ErrMessage))
			}
		}
		if err != nil {
			return fmt.Errorf("cannot alter configs of %q: %w", name, err)
		}
		for _, kv := range configs {
			fmt.Fprintf(stdout, "set %s=%s on topic %s\n", kv.key, kv.value, name)
		}
		for _, k := range deletes {
			fmt.Fprintf(stdout, "removed %s from topic %s\n", k, name)
		}
	}
	return nil
}

func topicDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("topic delete", "ferry topic delete NAME... [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	names, err := parseNames(fs, args, "topic")
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

	rs, err := adm.DeleteTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("cannot delete topics: %w", err)
	}
	return reportDeleted(stdout, "topic", names, func(name string) string {
		r, ok := rs[name]
		switch {
		case !ok:
			return "missing from the broker's answer"
		case r.Err != nil:
			return fmt.Sprintf("%v%s", r.Err, errMessage(r.Err, r.ErrMessage))
		}
		return ""
	})
}
