package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceAt writes values to partition 0 of topic with the given timestamps.
func produceAt(t *testing.T, brokers, topic string, values []string, times []time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, v := range values {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v), Timestamp: times[i]}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("producing %q: %v", v, err)
		}
	}
}

func TestConsumeFrom(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	b := []string{"--brokers", brokers}

	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var values []string
	var times []time.Time
	for i := range 10 {
		values = append(values, fmt.Sprintf("r%d", i))
		times = append(times, base.Add(time.Duration(i)*time.Minute))
	}
	produceAt(t, brokers, topic, values, times)

	for _, tc := range []struct {
		from string
		want string
	}{
		{"earliest", "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9"},
		{"7", "r7 r8 r9"},
		{"0", "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9"},
		{"10", ""},   // the end: nothing yet
		{"1000", ""}, // past the end is clamped to the end
		{"latest", ""},
		{"2024-05-01T12:05:00Z", "r5 r6 r7 r8 r9"},
		{"2024-05-01T12:04:30Z", "r5 r6 r7 r8 r9"},
		{"2024-05-01T14:05:00+02:00", "r5 r6 r7 r8 r9"},
		{"2024-05-01T11:00:00Z", "r0 r1 r2 r3 r4 r5 r6 r7 r8 r9"},
		{"2030-01-01T00:00:00Z", ""},
	} {
		out := mustRun(t, runConsume, "", append([]string{"--topic", topic, "--from", tc.from}, b...)...)
		if got := strings.Join(strings.Fields(out), " "); got != tc.want {
			t.Errorf("--from %s: got %q, want %q", tc.from, got, tc.want)
		}
	}

	out := mustRun(t, runConsume, "", append([]string{"--topic", topic, "--from", "2", "--max", "3"}, b...)...)
	if out != "r2\nr3\nr4\n" {
		t.Errorf("--from 2 --max 3: got %q", out)
	}

	out = mustRun(t, runConsume, "", append([]string{"--topic", topic, "--from", "9", "--format", "json"}, b...)...)
	if !strings.Contains(out, `"timestamp":"2024-05-01T12:09:00.000Z"`) || !strings.Contains(out, `"offset":9`) {
		t.Errorf("json timestamp/offset wrong: %s", out)
	}

	for _, from := range []string{"-1", "yesterday", "2024-05-01"} {
		if _, _, err := runCmd(t, runConsume, "", append([]string{"--topic", topic, "--from", from}, b...)...); err == nil || !strings.Contains(err.Error(), "--from") {
			t.Errorf("--from %s: want a --from error, got %v", from, err)
		}
	}
}

func TestConsumeStopsAtEndOfEveryPartition(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 4)
	b := []string{"--brokers", brokers}

	// Keys spread the records over the partitions; partition order is kept.
	var in strings.Builder
	for i := range 200 {
		fmt.Fprintf(&in, "key%d\t%d\n", i, i)
	}
	mustRun(t, runProduce, in.String(), append([]string{"--topic", topic, "--key-separator", "\t"}, b...)...)

	out := mustRun(t, runConsume, "", append([]string{"--topic", topic, "--format", "kv"}, b...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")
	sort.Strings(lines)
	sort.Strings(want)
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("consumed %d records, want the 200 produced", len(lines))
	}

	// Per partition, offsets come in order.
	out = mustRun(t, runConsume, "", append([]string{"--topic", topic, "--partition", "3", "--format", "json"}, b...)...)
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.Contains(line, fmt.Sprintf(`"partition":3,"offset":%d,`, i)) {
			t.Fatalf("record %d of partition 3 out of order: %s", i, line)
		}
	}
}

func TestConsumeFollow(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	b := []string{"--brokers", brokers}
	mustRun(t, runProduce, "old\n", append([]string{"--topic", topic}, b...)...)

	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := runCmd(t, runConsume, "", append([]string{"--topic", topic, "--from", "latest", "--follow", "--max", "2"}, b...)...)
		done <- result{out, err}
	}()
	// Keep producing until the follower has seen two new records.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !strings.HasPrefix(r.out, "new") || strings.Count(r.out, "\n") != 2 || strings.Contains(r.out, "old") {
				t.Fatalf("follow got %q, want two new records", r.out)
			}
			return
		case <-deadline:
			t.Fatal("consume --follow did not return after --max records")
		case <-time.After(50 * time.Millisecond):
			mustRun(t, runProduce, fmt.Sprintf("new%d\n", i), append([]string{"--topic", topic}, b...)...)
		}
	}
}

func TestConsumeErrors(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	b := []string{"--brokers", brokers}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--topic is required"},
		{[]string{"--topic", "missing-" + topic}, "does not exist"},
		{[]string{"--topic", topic, "--partition", "1"}, "--partition 1 does not exist"},
		{[]string{"--topic", topic, "--format", "xml"}, `--format "xml" is not valid`},
		{[]string{"--topic", topic, "--max", "-1"}, "--max -1 is not valid"},
		{[]string{"--topic", topic, "--group", "g"}, "--group needs --follow or --max N"},
	} {
		_, _, err := runCmd(t, runConsume, "", append(tc.args, b...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("consume %q: want error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

// An end offset that moves back while reading (a truncated or recreated log)
// must not leave consume waiting forever for offsets that are gone.
func TestConsumeEndMovesBack(t *testing.T) {
	if os.Getenv("FERRY_TEST_BROKERS") != "" {
		t.Skip("needs the fake cluster to misreport end offsets")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	mustRun(t, runProduce, "a\nb\nc\n", "--topic", topic, "--brokers", brokers)

	defer func(d time.Duration) { stallCheck = d }(stallCheck)
	stallCheck = 200 * time.Millisecond

	// The first "latest" lookup claims 10 records; later ones are true.
	var lied atomic.Bool
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ListOffsetsRequest)
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Timestamp != -1 || !lied.CompareAndSwap(false, true) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsResponseTopicPartition()
		rp.Offset = 10
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})

	done := make(chan string, 1)
	go func() {
		out, _, err := runCmd(t, runConsume, "", "--topic", topic, "--brokers", brokers)
		if err != nil {
			out = "error: " + err.Error()
		}
		done <- out
	}()
	select {
	case out := <-done:
		if !lied.Load() {
			t.Fatal("the end offset was never misreported; the test tests nothing")
		}
		if out != "a\nb\nc\n" {
			t.Fatalf("got %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume kept waiting for offsets that do not exist")
	}
}

// TestConsumeGivesUpOnStorageError: a broker whose fetches keep failing
// with KAFKA_STORAGE_ERROR (franz-go retries it silently) ends `ferry
// consume` with that error once --timeout has passed.
func TestConsumeGivesUpOnStorageError(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	mustRun(t, runProduce, "one\n", "--topic", topic, "--brokers", brokers)
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.KafkaStorageError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	done := make(chan error, 1)
	go func() {
		_, _, err := runCmd(t, runConsume, "", "--topic", topic, "--brokers", brokers, "--timeout", "2s")
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a hang detector, not a timing assertion
		t.Fatal("consume from a broker failing every fetch still waiting after a minute with --timeout 2s")
	}
	if err == nil || !strings.Contains(err.Error(), "KAFKA_STORAGE_ERROR") || !strings.Contains(err.Error(), "--timeout 2s") {
		t.Fatalf("consume: err = %v, want KAFKA_STORAGE_ERROR after --timeout 2s", err)
	}
}
