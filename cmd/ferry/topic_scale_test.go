package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTopicScaleFollowsTheGroupOntoNewPartitions(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	b := []string{"--brokers", brokers}
	mustRun(t, runTopic, "", append([]string{"create", topic, "--partitions", "2"}, b...)...)

	// A classic group member whose client refreshes metadata often, so
	// it sees the new partitions within a second.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumerGroup("scalers"), kgo.ConsumeTopics(topic),
		kgo.MetadataMaxAge(300*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if out, _, err := runCmd(t, runGroup, "", append([]string{"describe", "scalers"}, b...)...); err == nil && strings.Contains(out, topic) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the group never took the topic")
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := mustRun(t, runTopic, "", append([]string{"scale", topic, "--factor", "3", "--group", "scalers", "--wait", "--timeout", "20s"}, b...)...)
	t.Logf("scale:\n%s", out)
	for _, want := range []string{"now has 6 partitions (was 2)", "partition leaders: broker", "a classic group with 1 member(s)", "owns all 6 partitions of " + topic} {
		if !strings.Contains(out, want) {
			t.Errorf("scale output lacks %q:\n%s", want, out)
		}
	}
}

func TestTopicScaleRefusesUnclearRequests(t *testing.T) {
	for _, args := range [][]string{
		{"scale", "t"},
		{"scale", "t", "--partitions", "4", "--factor", "2"},
		{"scale", "t", "--partitions", "4", "--wait"},
	} {
		if _, _, err := runCmd(t, runTopic, "", append(args, "--brokers", "127.0.0.1:1")...); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
