package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/vfs"
	"github.com/ferry-mq/ferry/internal/vfs/errorfs"
)

func TestProduceConsumeRoundTrip(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	b := []string{"--brokers", brokers}

	input := "k1:v1\nk2:v2 with: colon\n:empty key\nk4:\nk5:<tag> & \"quoted\" ünïcode\n"
	_, errOut, err := runCmd(t, runProduce, input, append([]string{"--topic", topic, "--key-separator", ":",
		"--header", "source=test", "--header", "trace=a=b", "--compression", "zstd"}, b...)...)
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, errOut)
	}
	if want := "produced 5 record(s) to " + topic + "\n"; errOut != want {
		t.Fatalf("produce reported %q, want %q", errOut, want)
	}

	// kv with the same separator gives back the input byte for byte.
	out := mustRun(t, runConsume, "", append([]string{"--topic", topic, "--format", "kv", "--key-separator", ":"}, b...)...)
	if out != input {
		t.Fatalf("kv consume:\n got %q\nwant %q", out, input)
	}

	out = mustRun(t, runConsume, "", append([]string{"--topic", topic}, b...)...)
	if want := "v1\nv2 with: colon\nempty key\n\n<tag> & \"quoted\" ünïcode\n"; out != want {
		t.Fatalf("value consume:\n got %q\nwant %q", out, want)
	}

	out = mustRun(t, runConsume, "", append([]string{"--topic", topic, "--format", "json"}, b...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("json consume gave %d lines, want 5:\n%s", len(lines), out)
	}
	wantKeys := []string{"k1", "k2", "", "k4", "k5"}
	wantValues := []string{"v1", "v2 with: colon", "empty key", "", "<tag> & \"quoted\" ünïcode"}
	for i, line := range lines {
		var r struct {
			Topic     string  `json:"topic"`
			Partition int32   `json:"partition"`
			Offset    int64   `json:"offset"`
			Timestamp string  `json:"timestamp"`
			Key       *string `json:"key"`
			Value     *string `json:"value"`
			Headers   []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"headers"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %d %q is not JSON: %v", i, line, err)
		}
		if r.Topic != topic || r.Partition != 0 || r.Offset != int64(i) || r.Timestamp == "" {
			t.Errorf("line %d: wrong position fields: %s", i, line)
		}
		if r.Key == nil || *r.Key != wantKeys[i] || r.Value == nil || *r.Value != wantValues[i] {
			t.Errorf("line %d: key/value wrong: %s", i, line)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "source" || r.Headers[0].Value != "test" ||
			r.Headers[1].Key != "trace" || r.Headers[1].Value != "a=b" {
			t.Errorf("line %d: headers wrong: %s", i, line)
		}
	}
	if !strings.Contains(lines[4], `"<tag> & \"quoted\" ünïcode"`) {
		t.Errorf("json escapes HTML or unicode needlessly: %s", lines[4])
	}
}

func TestProduceWithoutKeysAndLastLineUnterminated(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 3)
	b := []string{"--brokers", brokers}

	_, errOut, err := runCmd(t, runProduce, "one\n\nthree", append([]string{"--topic", topic, "--partition", "2", "--acks", "1"}, b...)...)
	if err != nil || !strings.Contains(errOut, "produced 3 record(s)") {
		t.Fatalf("produce: err %v, stderr %q", err, errOut)
	}
	out := mustRun(t, runConsume, "", append([]string{"--topic", topic, "--partition", "2", "--format", "json"}, b...)...)
	if strings.Count(out, `"key":null`) != 3 || strings.Count(out, `"partition":2`) != 3 {
		t.Fatalf("want 3 keyless records in partition 2:\n%s", out)
	}
	out = mustRun(t, runConsume, "", append([]string{"--topic", topic}, b...)...)
	if out != "one\n\nthree\n" {
		t.Fatalf("consume got %q", out)
	}
}

func TestProduceErrors(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	createTopic(t, brokers, topic, 2)
	b := []string{"--brokers", brokers}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--topic is required"},
		{[]string{"--topic", "no-such-topic-" + topic}, "does not exist"},
		{[]string{"--topic", topic, "--partition", "2"}, "--partition 2 does not exist"},
		{[]string{"--topic", topic, "--acks", "2"}, `--acks "2" is not valid`},
		{[]string{"--topic", topic, "--compression", "brotli"}, `--compression "brotli" is not valid`},
		{[]string{"--topic", topic, "extra"}, "unexpected arguments"},
	} {
		_, _, err := runCmd(t, runProduce, "x\n", append(tc.args, b...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("produce %q: want error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}

func TestProduceFailureExitsNonZero(t *testing.T) {
	brokers := startTestCluster(t)
	topic := testTopic(t)
	b := []string{"--brokers", brokers}
	mustRun(t, runTopic, "", append([]string{"create", topic, "--config", "max.message.bytes=200"}, b...)...)

	big := strings.Repeat("x", 1000)
	_, errOut, err := runCmd(t, runProduce, "small\n"+big+"\n", append([]string{"--topic", topic, "--acks", "1"}, b...)...)
	if err == nil {
		t.Fatalf("producing a record over max.message.bytes succeeded; stderr %q", errOut)
	}
	if !strings.Contains(err.Error(), "MESSAGE_TOO_LARGE") || !strings.Contains(err.Error(), "max.message.bytes") {
		t.Errorf("error does not explain the failure: %v", err)
	}
	if !strings.Contains(err.Error(), "of 2 record(s) failed") {
		t.Errorf("error does not count failures: %v", err)
	}
}

// TestProduceReportsStorageErrorAndGivesUp: a broker that answers every
// produce with KAFKA_STORAGE_ERROR (its disk is full) makes `ferry produce`
// print that error once and fail once --timeout has passed, instead of
// retrying silently forever.
func TestProduceReportsStorageErrorAndGivesUp(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	topic := testTopic(t)
	createTopic(t, brokers, topic, 1)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.KafkaStorageError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	// Before --timeout existed the command retried forever; a minute is
	// a hang detector, not a timing assertion.
	type result struct {
		errOut string
		err    error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		_, errOut, err := runCmd(t, runProduce, "a\nb\n", "--topic", topic, "--brokers", brokers, "--timeout", "2s")
		done <- result{errOut, err}
	}()
	var res result
	select {
	case res = <-done:
		t.Logf("gave up after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(time.Minute):
		t.Fatal("produce to a broker refusing every append still retrying after a minute with --timeout 2s")
	}
	errOut, err := res.errOut, res.err
	if err == nil {
		t.Fatalf("produce to a broker refusing every append succeeded; stderr %q", errOut)
	}
	want := kerr.KafkaStorageError.Error() // name and description
	if n := strings.Count(errOut+err.Error(), want); n != 1 {
		t.Errorf("the broker's error %q is printed %d times, want once:\nstderr: %s\nerr: %v", want, n, errOut, err)
	}
	for _, part := range []string{"2 of 2 record(s) failed", "--timeout 2s", "KAFKA_STORAGE_ERROR"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error lacks %q: %v", part, err)
		}
	}
}

// TestProduceToFerryWithFailingDiskRecovers: against a broker whose partition
// writes fail with ENOSPC (a full disk, injected through the log's file-system
// seam), `ferry produce` reports KAFKA_STORAGE_ERROR once and gives up at
// --timeout; once writes work again the same broker takes records, without a
// restart.
func TestProduceToFerryWithFailingDiskRecovers(t *testing.T) {
	efs := errorfs.New(vfs.Default)
	brokers := startFerryWith(t, func(cfg *config.Config) { cfg.LogFS = efs })
	topic := testTopic(t)
	b := []string{"--topic", topic, "--brokers", brokers, "--acks", "1", "--timeout", "2s"}
	mustRun(t, runTopic, "", "create", topic, "--brokers", brokers)
	mustRun(t, runProduce, "before\n", b...)

	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ENOSPC, Path: func(p string) bool { return strings.Contains(p, topic) }})
	_, errOut, err := runCmd(t, runProduce, "during\n", b...)
	efs.Reset()
	if err == nil || !strings.Contains(err.Error(), "KAFKA_STORAGE_ERROR") || strings.Count(errOut, kerr.KafkaStorageError.Error()) != 1 {
		t.Fatalf("produce while writes fail: err %v, stderr %q; want KAFKA_STORAGE_ERROR printed once and a failure", err, errOut)
	}
	if efs.Injected() == 0 {
		t.Fatal("no write failed: the fault was not injected")
	}

	mustRun(t, runProduce, "after\n", b...)
	out := mustRun(t, runConsume, "", "--topic", topic, "--brokers", brokers)
	if out != "before\nafter\n" {
		t.Fatalf("consumed %q, want the records produced before and after the failure", out)
	}
}

// TestProduceGivesUpOnSilentBroker: a broker that stops answering a produce
// it received (it died mid-request) leaves an idempotent producer's records
// in flight, and franz-go never times those out. `ferry produce --timeout 2s`
// must still give up, saying the broker did not answer, instead of hanging.
func TestProduceGivesUpOnSilentBroker(t *testing.T) {
	brokers, topic := silentProduceBroker(t)

	type result struct {
		errOut string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		_, errOut, err := runCmd(t, runProduce, "a\nb\n", "--topic", topic, "--brokers", brokers, "--timeout", "2s")
		done <- result{errOut, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(time.Minute): // a hang detector, not a timing assertion
		t.Fatal("produce to a broker that never answers still waiting after a minute with --timeout 2s")
	}
	if res.err == nil {
		t.Fatalf("produce to a silent broker succeeded; stderr %q", res.errOut)
	}
	for _, part := range []string{"2 of 2 record(s) not acknowledged", "no answer", "--timeout 2s"} {
		if !strings.Contains(res.err.Error(), part) {
			t.Errorf("error lacks %q: %v", part, res.err)
		}
	}
}

// silentProduceBroker starts a kfake broker with one topic that takes
// produce requests and never answers them while the test runs, as a broker
// that died mid-request; it returns the broker list and the topic.
func silentProduceBroker(t *testing.T) (brokers, topic string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	brokers = strings.Join(c.ListenAddrs(), ",")
	topic = testTopic(t)
	createTopic(t, brokers, topic, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release); c.Close() })
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { <-release }) // never answered while the test runs
		return nil, errors.New("connection dropped"), true
	})
	return brokers, topic
}
