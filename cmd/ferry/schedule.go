package main

// ferry schedule cancel: cancel scheduled records by key.

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const scheduleUsage = `usage: ferry schedule cancel --topic T --key K [flags]

Records produced with a ferry-deliver-at-ms or ferry-delay-ms header to a topic
with message.scheduling.enable=true wait in the broker until they are due.
cancel drops every such record of topic T with key K that is not delivered
yet (it produces one record with key K and a ferry-cancel header, which is
what any Kafka client can do too).`

func runSchedule(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	return runAction(args, scheduleUsage, "action", "cancel", map[string]func([]string) error{
		"cancel": func(args []string) error { return scheduleCancel(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

func scheduleCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schedule cancel", "ferry schedule cancel --topic T --key K [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	topic := fs.String("topic", "", "topic the records were scheduled for (required)")
	key := fs.String("key", "", "record key of the scheduled records to cancel (required)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	if *topic == "" || *key == "" {
		fs.Usage()
		return errors.New("--topic and --key are required")
	}
	cl, err := cf.newClient(ctx, kgo.DefaultProduceTopic(*topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// On a topic without scheduling the cancel would be an ordinary
	// record: refuse before producing it.
	adm := cf.adminFor(cl)
	rctx, rcancel := adm.requestContext(ctx)
	rcs, err := adm.DescribeTopicConfigs(rctx, *topic)
	rcancel()
	var rc kadm.ResourceConfig
	if err == nil {
		if rc, err = rcs.On(*topic, nil); err == nil {
			err = rc.Err
		}
	}
	if err != nil {
		return fmt.Errorf("cannot read the configs of %q: %w", *topic, err)
	}
	enabled := false
	for _, c := range rc.Configs {
		if c.Key == "message.scheduling.enable" && c.Value != nil && *c.Value == "true" {
			enabled = true
		}
	}
	if !enabled {
		return fmt.Errorf("topic %q does not have message.scheduling.enable=true, so nothing is scheduled on it (enable it with `ferry topic alter %s --config message.scheduling.enable=true`)", *topic, *topic)
	}
	rec := &kgo.Record{Key: []byte(*key), Headers: []kgo.RecordHeader{{Key: "ferry-cancel", Value: []byte("1")}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("cancel %q on %s: %w", *key, *topic, err)
	}
	fmt.Fprintf(stdout, "cancelled the records of %s with key %q scheduled until now\n", *topic, *key)
	return nil
}
