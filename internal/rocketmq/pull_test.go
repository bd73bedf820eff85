package rocketmq_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	frmq "github.com/ferry-mq/ferry/internal/rocketmq"
	"github.com/ferry-mq/ferry/internal/server"
)

const (
	codePull        = 11
	codeQueryOffset = 14
	codeUpdateOff   = 15
	resSuccess      = 0
	resNotFound     = 19
	resRetryNow     = 20
	resOffsetMoved  = 21
	resQueryNone    = 22
	resParseFailed  = 23
	resInvalidParam = 29
	resTopicMissing = 17
	resNotLeader    = 501
)

func pullFields(group, topic string, queue int, offset int64, max int, sysFlag int, extra ...string) map[string]string {
	f := map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(queue),
		"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": strconv.Itoa(max),
		"sysFlag": strconv.Itoa(sysFlag), "commitOffset": "0", "suspendTimeoutMillis": "0",
		"subscription": "*", "expressionType": "TAG",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i]] = extra[i+1]
	}
	return f
}

func field(t *testing.T, resp *frmq.Command, name string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(resp.Field(name), 10, 64)
	if err != nil {
		t.Fatalf("response field %s = %q", name, resp.Field(name))
	}
	return n
}

func tagged(topic, tag, body string, headers ...kgo.RecordHeader) *kgo.Record {
	return &kgo.Record{Topic: topic, Value: []byte(body), Headers: append([]kgo.RecordHeader{{Key: "TAGS", Value: []byte(tag)}}, headers...)}
}

// TestPullStatuses: PULL_MESSAGE answers SUCCESS with MessageExt entries
// the real client decodes, PULL_NOT_FOUND at the end of the queue,
// PULL_OFFSET_MOVED outside it (nextBeginOffset the nearest valid offset),
// and INVALID_PARAMETER, TOPIC_NOT_EXIST or NOT_LEADER for bad requests.
func TestPullStatuses(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "pulled", 2)
	var recs []*kgo.Record
	for i := range 5 {
		r := tagged("pulled", "A", fmt.Sprintf("m%d", i))
		r.Key = []byte(fmt.Sprintf("k%d", i))
		recs = append(recs, r)
	}
	produceKafka(t, s, recs...)
	c := dialRemoting(t, s.RocketMQAddr())

	resp := c.call(codePull, pullFields("g", "pulled", 0, 1, 3, 0), nil)
	if resp.Code != resSuccess {
		t.Fatalf("pull: code %d %s", resp.Code, resp.Remark)
	}
	msgs := primitive.DecodeMessage(resp.Body)
	if len(msgs) != 3 || string(msgs[0].Body) != "m1" || msgs[0].QueueOffset != 1 || msgs[0].GetKeys() != "k1" || msgs[0].GetTags() != "A" {
		t.Fatalf("pulled %v", msgs)
	}
	if next := field(t, resp, "nextBeginOffset"); next != 4 {
		t.Errorf("nextBeginOffset %d, want 4", next)
	}
	if field(t, resp, "minOffset") != 0 || field(t, resp, "maxOffset") != 5 {
		t.Errorf("min/max %s/%s", resp.Field("minOffset"), resp.Field("maxOffset"))
	}

	resp = c.call(codePull, pullFields("g", "pulled", 0, 5, 3, 0), nil)
	if resp.Code != resNotFound || field(t, resp, "nextBeginOffset") != 5 {
		t.Errorf("at the end: code %d next %s", resp.Code, resp.Field("nextBeginOffset"))
	}
	resp = c.call(codePull, pullFields("g", "pulled", 0, 9, 3, 0), nil)
	if resp.Code != resOffsetMoved || field(t, resp, "nextBeginOffset") != 5 {
		t.Errorf("past the end: code %d next %s", resp.Code, resp.Field("nextBeginOffset"))
	}
	resp = c.call(codePull, pullFields("g", "pulled", 1, 3, 3, 0), nil)
	if resp.Code != resOffsetMoved || field(t, resp, "nextBeginOffset") != 0 {
		t.Errorf("empty queue: code %d next %s", resp.Code, resp.Field("nextBeginOffset"))
	}

	for name, fields := range map[string]map[string]string{
		"no group":      pullFields("", "pulled", 0, 0, 3, 0),
		"bad offset":    pullFields("g", "pulled", 0, 0, 3, 0, "queueOffset", "x"),
		"zero messages": pullFields("g", "pulled", 0, 0, 0, 0),
	} {
		if resp := c.call(codePull, fields, nil); resp.Code != resInvalidParam {
			t.Errorf("%s: code %d %s, want INVALID_PARAMETER", name, resp.Code, resp.Remark)
		}
	}
	if resp := c.call(codePull, pullFields("g", "nosuch", 0, 0, 3, 0), nil); resp.Code != resTopicMissing {
		t.Errorf("unknown topic: code %d", resp.Code)
	}
	if resp := c.call(codePull, pullFields("g", "pulled", 7, 0, 3, 0), nil); resp.Code != resNotLeader {
		t.Errorf("unknown queue: code %d", resp.Code)
	}
}

// TestPullLongPoll: a pull at the end of the queue with the suspend flag
// parks until an append arrives, and answers with it.
func TestPullLongPoll(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "polled", 1)
	c := dialRemoting(t, s.RocketMQAddr())
	done := make(chan *frmq.Command, 1)
	start := time.Now()
	go func() {
		done <- c.call(codePull, pullFields("g", "polled", 0, 0, 8, 2, "suspendTimeoutMillis", "20000"), nil)
	}()
	select {
	case resp := <-done:
		t.Fatalf("pull answered at once with code %d", resp.Code)
	case <-time.After(200 * time.Millisecond):
	}
	produceKafka(t, s, tagged("polled", "A", "late"))
	resp := <-done
	if resp.Code != resSuccess {
		t.Fatalf("code %d %s", resp.Code, resp.Remark)
	}
	if msgs := primitive.DecodeMessage(resp.Body); len(msgs) != 1 || string(msgs[0].Body) != "late" {
		t.Fatalf("pulled %v", msgs)
	}
	t.Logf("long poll answered %v after it started", time.Since(start))
}

// TestPullFiltersOnServer: a subscription in the pull (sysFlag bit 2) by
// tag or SQL92 gets only the messages it accepts, and nextBeginOffset
// moves past the ones it skipped; an expression that does not parse
// answers SUBSCRIPTION_PARSE_FAILED.
func TestPullFiltersOnServer(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "filtered", 1)
	var recs []*kgo.Record
	for i := range 10 {
		tag := []string{"A", "B"}[i%2]
		recs = append(recs, tagged("filtered", tag, fmt.Sprintf("m%d", i), kgo.RecordHeader{Key: "n", Value: []byte(strconv.Itoa(i))}))
	}
	produceKafka(t, s, recs...)
	c := dialRemoting(t, s.RocketMQAddr())
	cases := []struct {
		typ, expr string
		want      []string
	}{
		{"TAG", "B", []string{"m1", "m3", "m5", "m7", "m9"}},
		{"TAG", "A || C", []string{"m0", "m2", "m4", "m6", "m8"}},
		{"SQL92", "n >= 7 OR (TAGS = 'A' AND n < 2)", []string{"m0", "m7", "m8", "m9"}},
		{"SQL92", "n BETWEEN 3 AND 4", []string{"m3", "m4"}},
	}
	for _, tc := range cases {
		resp := c.call(codePull, pullFields("g", "filtered", 0, 0, 32, 4, "subscription", tc.expr, "expressionType", tc.typ), nil)
		if resp.Code != resSuccess {
			t.Errorf("%s %q: code %d %s", tc.typ, tc.expr, resp.Code, resp.Remark)
			continue
		}
		var got []string
		for _, m := range primitive.DecodeMessage(resp.Body) {
			got = append(got, string(m.Body))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %q: got %v, want %v", tc.typ, tc.expr, got, tc.want)
		}
		if next := field(t, resp, "nextBeginOffset"); next != 10 {
			t.Errorf("%s %q: nextBeginOffset %d, want 10", tc.typ, tc.expr, next)
		}
	}
	// Nothing matches: the pull moves past everything and says so.
	resp := c.call(codePull, pullFields("g", "filtered", 0, 0, 32, 4, "subscription", "Z", "expressionType", "TAG"), nil)
	if resp.Code != resNotFound || field(t, resp, "nextBeginOffset") != 10 || len(resp.Body) != 0 {
		t.Errorf("no match: code %d next %s body %d bytes", resp.Code, resp.Field("nextBeginOffset"), len(resp.Body))
	}
	resp = c.call(codePull, pullFields("g", "filtered", 0, 0, 32, 4, "subscription", "n >", "expressionType", "SQL92"), nil)
	if resp.Code != resParseFailed {
		t.Errorf("bad SQL: code %d %s", resp.Code, resp.Remark)
	}
}

// TestConsumerOffsetsInGroupCoordinator: UPDATE_CONSUMER_OFFSET stores a
// queue's offset in the group coordinator — the Kafka API shows it for
// the group, topic and partition — and QUERY_CONSUMER_OFFSET reads it
// back; a queue without one answers QUERY_NOT_FOUND.
func TestConsumerOffsetsInGroupCoordinator(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "offsets", 2)
	c := dialRemoting(t, s.RocketMQAddr())
	q := func(queue int) map[string]string {
		return map[string]string{"consumerGroup": "og", "topic": "offsets", "queueId": strconv.Itoa(queue)}
	}
	if resp := c.call(codeQueryOffset, q(1), nil); resp.Code != resQueryNone {
		t.Fatalf("fresh group: code %d %s", resp.Code, resp.Remark)
	}
	upd := q(1)
	upd["commitOffset"] = "42"
	if resp := c.call(codeUpdateOff, upd, nil); resp.Code != resSuccess {
		t.Fatalf("update: code %d %s", resp.Code, resp.Remark)
	}
	resp := c.call(codeQueryOffset, q(1), nil)
	if resp.Code != resSuccess || resp.Field("offset") != "42" {
		t.Fatalf("query: code %d offset %q", resp.Code, resp.Field("offset"))
	}
	if resp := c.call(codeQueryOffset, q(0), nil); resp.Code != resQueryNone {
		t.Errorf("other queue: code %d", resp.Code)
	}
	if got := committed(t, s, "og", "offsets"); got[1] != 42 || len(got) != 1 {
		t.Errorf("Kafka view of the group's offsets: %v", got)
	}
	// The commit-offset flag of a pull commits too, without waiting.
	pf := pullFields("og", "offsets", 0, 0, 8, 1, "commitOffset", "7")
	if resp := c.call(codePull, pf, nil); resp.Code != resOffsetMoved && resp.Code != resNotFound {
		t.Fatalf("pull with commit: code %d %s", resp.Code, resp.Remark)
	}
	// It is not waited for: poll.
	waitUntil(t, "the offset committed by the pull", func() bool { return committed(t, s, "og", "offsets")[0] == 7 })
	bad := q(0)
	bad["commitOffset"] = "x"
	if resp := c.call(codeUpdateOff, bad, nil); resp.Code != resInvalidParam {
		t.Errorf("bad commit offset: code %d", resp.Code)
	}
}

// TestCheckClientConfig: CHECK_CLIENT_CONFIG accepts a subscription that
// compiles and answers SUBSCRIPTION_PARSE_FAILED for one that does not.
func TestCheckClientConfig(t *testing.T) {
	s := startNode(t, nil)
	c := dialRemoting(t, s.RocketMQAddr())
	check := func(typ, expr string) *frmq.Command {
		body := fmt.Sprintf(`{"clientId":"c1","group":"g","subscriptionData":{"topic":"t","subString":%q,"expressionType":%q}}`, expr, typ)
		return c.call(46, nil, []byte(body))
	}
	if resp := check("SQL92", "a > 5 AND b IN ('x')"); resp.Code != resSuccess {
		t.Errorf("good SQL92: code %d %s", resp.Code, resp.Remark)
	}
	if resp := check("TAG", "A || B"); resp.Code != resSuccess {
		t.Errorf("tags: code %d %s", resp.Code, resp.Remark)
	}
	for _, bad := range [][2]string{{"SQL92", "a >"}, {"SQL92", "a = NULL"}, {"CLASS", "x"}} {
		if resp := check(bad[0], bad[1]); resp.Code != resParseFailed {
			t.Errorf("%s %q: code %d %s, want SUBSCRIPTION_PARSE_FAILED", bad[0], bad[1], resp.Code, resp.Remark)
		}
	}
	if resp := c.call(46, nil, []byte("{")); resp.Code != resInvalidParam {
		t.Errorf("bad body: code %d", resp.Code)
	}
}

// TestConsumerOffsetsSurviveRestart: a RocketMQ group's offsets are the
// group coordinator's, kept in __consumer_offsets: a restarted node
// answers them.
func TestConsumerOffsetsSurviveRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	start := func() *server.Server {
		cfg := config.Default()
		cfg.DataDir, cfg.KafkaAddr, cfg.HTTPAddr, cfg.RocketMQ.Addr = dir, "127.0.0.1:0", "", "127.0.0.1:0"
		s, err := server.Start(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	createTopic(t, s, "kept", 1)
	c := dialRemoting(t, s.RocketMQAddr())
	fields := map[string]string{"consumerGroup": "kg", "topic": "kept", "queueId": "0", "commitOffset": "5"}
	if resp := c.call(codeUpdateOff, fields, nil); resp.Code != resSuccess {
		t.Fatalf("update: code %d %s", resp.Code, resp.Remark)
	}
	s.Close()

	s = start()
	t.Cleanup(func() { s.Close() })
	c = dialRemoting(t, s.RocketMQAddr())
	resp := c.call(codeQueryOffset, map[string]string{"consumerGroup": "kg", "topic": "kept", "queueId": "0"}, nil)
	if resp.Code != resSuccess || resp.Field("offset") != "5" {
		t.Fatalf("after the restart: code %d offset %q %s", resp.Code, resp.Field("offset"), resp.Remark)
	}
}

// TestPullBodyIsBounded: a pull of big messages stops adding them once
// the response body reaches 4 MiB, even inside one batch, and
// nextBeginOffset says where to go on.
func TestPullBodyIsBounded(t *testing.T) {
	s := startNode(t, nil)
	createTopic(t, s, "big", 1)
	// One compressed batch: the read returns it whole, so only the body
	// bound stops the pull.
	cl := kafkaClient(t, s, kgo.ProducerBatchCompression(kgo.GzipCompression()), kgo.ProducerBatchMaxBytes(64<<20),
		kgo.ProducerLinger(time.Second))
	var recs []*kgo.Record
	for i := range 8 {
		recs = append(recs, &kgo.Record{Topic: "big", Value: make([]byte, 900<<10), Key: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c := dialRemoting(t, s.RocketMQAddr())
	resp := c.call(codePull, pullFields("g", "big", 0, 0, 32, 0), nil)
	if resp.Code != resSuccess {
		t.Fatalf("code %d %s", resp.Code, resp.Remark)
	}
	n := len(primitive.DecodeMessage(resp.Body))
	if n < 1 || n >= 8 || len(resp.Body) > 4<<20+(1<<20) {
		t.Fatalf("%d messages in %d bytes", n, len(resp.Body))
	}
	if next := field(t, resp, "nextBeginOffset"); next != int64(n) {
		t.Errorf("nextBeginOffset %d after %d messages", next, n)
	}
}

// TestPullCountsTraffic: messages a pull sends count in the partition's
// records and bytes out, as Kafka fetches do.
func TestPullCountsTraffic(t *testing.T) {
	s := startNode(t, func(c *config.Config) { c.HTTPAddr = "127.0.0.1:0" })
	createTopic(t, s, "counted", 1)
	produceKafka(t, s, tagged("counted", "A", "one"), tagged("counted", "A", "two"))
	c := dialRemoting(t, s.RocketMQAddr())
	if resp := c.call(codePull, pullFields("g", "counted", 0, 0, 8, 0), nil); resp.Code != resSuccess {
		t.Fatalf("code %d %s", resp.Code, resp.Remark)
	}
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `ferry_partition_records_out_total{partition="0",topic="counted"} 2`
	if !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}
