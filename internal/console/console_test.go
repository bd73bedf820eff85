package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/console"
	"github.com/ferry-mq/ferry/internal/server"
)

// fixture is a real in-process broker with known data and a console in
// front of it, served over real HTTP.
type fixture struct {
	addr  string
	cl    *kgo.Client
	adm   *kadm.Client
	http  *httptest.Server
	topic string
}

// startFixture starts a broker and a console and writes the known data:
// topic "orders" with 3 partitions; partition 0 holds 10 records with keys
// k0..k9, JSON values {"n":i} and a header trace=t<i>; partition 1 holds one
// record whose value is not UTF-8.
func startFixture(t *testing.T, clock func() time.Time) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	f := &fixture{addr: srv.Addr(), topic: "orders"}
	f.cl, err = kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cl.Close)
	f.adm = kadm.NewClient(f.cl)
	ctx := ctxFor(t, 20*time.Second)
	if _, err := f.adm.CreateTopic(ctx, 3, 1, nil, f.topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: f.topic, Partition: 0, Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"n":%d}`, i), Headers: []kgo.RecordHeader{{Key: "trace", Value: fmt.Appendf(nil, "t%d", i)}}})
	}
	recs = append(recs, &kgo.Record{Topic: f.topic, Partition: 1, Key: []byte("bin"), Value: []byte{0x00, 0xff, 0x10}})
	if err := f.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	c := console.New(console.Options{Brokers: []string{f.addr}, Now: clock})
	t.Cleanup(c.Close)
	f.http = httptest.NewServer(c)
	t.Cleanup(f.http.Close)
	return f
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// call sends a request (body as JSON unless a string) and decodes the JSON
// answer; every answer, error or not, must be JSON.
func (f *fixture) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, f.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json; body %s", method, path, ct, raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, m
}

// ok calls and fails the test unless the answer is 200.
func (f *fixture) ok(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	st, m := f.call(t, method, path, body)
	if st != http.StatusOK {
		t.Fatalf("%s %s: status %d: %v", method, path, st, m)
	}
	return m
}

// wantErr calls and checks the status and that the error message holds
// want.
func (f *fixture) wantErr(t *testing.T, method, path string, body any, status int, want string) {
	t.Helper()
	st, m := f.call(t, method, path, body)
	msg, _ := m["error"].(string)
	if st != status || !strings.Contains(msg, want) {
		t.Errorf("%s %s: got %d %q, want %d with %q", method, path, st, msg, status, want)
	}
}

func list(m map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, v := range m[key].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

func find(items []map[string]any, key, val string) map[string]any {
	for _, it := range items {
		if it[key] == val {
			return it
		}
	}
	return nil
}

func TestClusterAndTopics(t *testing.T) {
	f := startFixture(t, nil)
	cl := f.ok(t, "GET", "/api/cluster", nil)
	brokers := list(cl, "brokers")
	if len(brokers) != 1 || brokers[0]["is_controller"] != true {
		t.Errorf("brokers = %v, want one broker that is the controller", brokers)
	}

	topics := f.ok(t, "GET", "/api/topics", nil)
	orders := find(list(topics, "topics"), "name", f.topic)
	if orders == nil || num(orders["partitions"]) != 3 || num(orders["records"]) != 11 {
		t.Fatalf("orders in topic list = %v, want 3 partitions and 11 records", orders)
	}
	// The broker serves DescribeLogDirs: sizes are shown, no note.
	if orders["size_bytes"] == nil || num(orders["size_bytes"]) <= 0 || topics["size_note"] != nil && topics["size_note"] != "" {
		t.Errorf("topic %v with size note %v: want its size on disk and no note", orders, topics["size_note"])
	}

	topic := f.ok(t, "GET", "/api/topics/"+f.topic, nil)
	parts := list(topic, "partitions")
	if len(parts) != 3 || num(parts[0]["end_offset"]) != 10 || num(parts[1]["end_offset"]) != 1 || num(parts[2]["end_offset"]) != 0 {
		t.Fatalf("partitions = %v, want end offsets 10, 1, 0", parts)
	}
	if num(parts[0]["leader"]) < 0 || len(parts[0]["isr"].([]any)) != 1 {
		t.Errorf("partition 0 = %v, want a leader and one in-sync replica", parts[0])
	}
	f.wantErr(t, "GET", "/api/topics/no-such-topic", nil, 404, "does not exist")
}

func TestConfigs(t *testing.T) {
	f := startFixture(t, nil)
	path := "/api/topics/" + f.topic + "/configs"
	value := func(m map[string]any, name string) any {
		c := find(list(m, "configs"), "name", name)
		if c == nil {
			t.Fatalf("config %s missing from %v", name, m)
		}
		return c["value"]
	}
	f.ok(t, "GET", path, nil)
	after := f.ok(t, "POST", path, map[string]any{"set": map[string]string{"retention.ms": "123456"}})
	if got := value(after, "retention.ms"); got != "123456" {
		t.Errorf("retention.ms after set = %v, want 123456", got)
	}
	if got := value(f.ok(t, "GET", path, nil), "retention.ms"); got != "123456" {
		t.Errorf("retention.ms read back = %v, want 123456", got)
	}
	after = f.ok(t, "POST", path, map[string]any{"delete": []string{"retention.ms"}})
	if got := value(after, "retention.ms"); got == "123456" {
		t.Errorf("retention.ms still 123456 after delete")
	}
	f.wantErr(t, "POST", path, map[string]any{}, 400, "nothing to change")
	f.wantErr(t, "POST", path, `{"sett":{}}`, 400, "unknown field")
	f.wantErr(t, "POST", path, `not json`, 400, "not the JSON expected")
	f.wantErr(t, "GET", "/api/topics/no-such-topic/configs", nil, 404, "does not exist")
}

func TestBrowseMessages(t *testing.T) {
	f := startFixture(t, nil)
	base := "/api/topics/" + f.topic + "/messages"
	m := f.ok(t, "GET", base+"?partition=0&offset=3&limit=2", nil)
	msgs := list(m, "messages")
	if len(msgs) != 2 || num(msgs[0]["offset"]) != 3 || num(msgs[1]["offset"]) != 4 || num(m["next_offset"]) != 5 {
		t.Fatalf("offset=3 limit=2 gave %v", m)
	}
	v := msgs[0]["value"].(map[string]any)
	if v["format"] != "json" || v["text"] != "{\n  \"n\": 3\n}" {
		t.Errorf("value shown as %v, want pretty JSON", v)
	}
	if k := msgs[0]["key"].(map[string]any); k["text"] != "k3" {
		t.Errorf("key = %v, want k3", k)
	}
	h := msgs[0]["headers"].([]any)[0].(map[string]any)
	if h["key"] != "trace" || h["value"].(map[string]any)["text"] != "t3" {
		t.Errorf("header = %v, want trace=t3", h)
	}
	hexed := list(f.ok(t, "GET", base+"?partition=0&offset=3&limit=1&format=hex", nil), "messages")
	if got := hexed[0]["value"].(map[string]any)["text"]; got != `7b226e223a337d` {
		t.Errorf("hex value = %v", got)
	}
	bin := list(f.ok(t, "GET", base+"?partition=1&offset=0&format=text", nil), "messages")
	if got := bin[0]["value"].(map[string]any); got["format"] != "hex" || got["text"] != "00ff10" {
		t.Errorf("non-UTF-8 value asked as text = %v, want hex fallback 00ff10", got)
	}
	// Default: the newest messages.
	if m := f.ok(t, "GET", base+"?partition=0&limit=3", nil); num(m["from"]) != 7 || len(list(m, "messages")) != 3 {
		t.Errorf("newest 3 gave from=%v and %d messages", m["from"], len(list(m, "messages")))
	}
	// By time: everything was written after 1970, and nothing after 2200.
	if m := f.ok(t, "GET", base+"?partition=0&time=1000&limit=1", nil); num(list(m, "messages")[0]["offset"]) != 0 {
		t.Errorf("time=1000 started at %v, want offset 0", m)
	}
	if m := f.ok(t, "GET", base+"?partition=0&time=2200-01-01T00:00:00Z", nil); len(list(m, "messages")) != 0 || m["note"] == "" {
		t.Errorf("a time after the last message gave %v, want no messages and a note", m)
	}
	// An empty partition answers at once with nothing.
	if m := f.ok(t, "GET", base+"?partition=2", nil); len(list(m, "messages")) != 0 {
		t.Errorf("empty partition gave %v", m)
	}

	f.wantErr(t, "GET", base+"?partition=0&offset=abc", nil, 400, "not a whole number")
	f.wantErr(t, "GET", base+"?partition=0&offset=-5", nil, 400, "out of range")
	f.wantErr(t, "GET", base+"?partition=0&offset=11", nil, 400, "past the end")
	f.wantErr(t, "GET", base+"?partition=x", nil, 400, "not a whole number")
	f.wantErr(t, "GET", base+"?partition=7", nil, 404, "no partition 7")
	f.wantErr(t, "GET", base+"?limit=100000", nil, 400, "out of range")
	f.wantErr(t, "GET", base+"?format=rot13", nil, 400, "format")
	f.wantErr(t, "GET", base+"?time=yesterday", nil, 400, "RFC 3339")
	f.wantErr(t, "GET", base+"?time=1&offset=1", nil, 400, "not both")
	f.wantErr(t, "GET", "/api/topics/no-such-topic/messages", nil, 404, "does not exist")
}

func TestProduce(t *testing.T) {
	f := startFixture(t, nil)
	base := "/api/topics/" + f.topic + "/messages"
	m := f.ok(t, "POST", base, map[string]any{"partition": 2, "key": "hello", "value": `{"a":1}`, "headers": []map[string]string{{"key": "h", "value": "v"}}})
	if num(m["partition"]) != 2 || num(m["offset"]) != 0 {
		t.Fatalf("produce answered %v, want partition 2 offset 0", m)
	}
	// A real client reads what the console wrote.
	cons, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{f.topic: {2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	fs := cons.PollFetches(ctxFor(t, 10*time.Second))
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != "hello" || string(recs[0].Value) != `{"a":1}` || len(recs[0].Headers) != 1 {
		t.Fatalf("consumed %v (errors %v), want the produced record", recs, fs.Errors())
	}
	// Keyed without a partition: Kafka's default partitioner picks, the
	// same as a Java or franz-go producer would.
	m = f.ok(t, "POST", base, map[string]any{"key": "k0", "value": "x"})
	want := kgo.StickyKeyPartitioner(nil).ForTopic(f.topic).Partition(&kgo.Record{Key: []byte("k0")}, 3)
	if num(m["partition"]) != int64(want) {
		t.Errorf("keyed produce went to partition %v, want %d", m["partition"], want)
	}
	f.wantErr(t, "POST", base, map[string]any{"partition": 9, "value": "x"}, 400, "no partition 9")
	f.wantErr(t, "POST", "/api/topics/no-such-topic/messages", map[string]any{"value": "x"}, 404, "does not exist")
	f.wantErr(t, "POST", base, `{"value": 5}`, 400, "not the JSON expected")
	f.wantErr(t, "POST", base, `{"value":"`+strings.Repeat("x", 2<<20)+`"}`, 413, "over")
}

func TestSearchByKey(t *testing.T) {
	f := startFixture(t, nil)
	m := f.ok(t, "GET", "/api/topics/"+f.topic+"/search?key=k7", nil)
	matches := list(m, "matches")
	if len(matches) != 1 || num(matches[0]["partition"]) != 0 || num(matches[0]["offset"]) != 7 || m["complete"] != true {
		t.Fatalf("search k7 = %v, want one match at 0/7 and a complete scan", m)
	}
	// A bound smaller than the data: only the newest are read, and the
	// answer says the scan was not complete.
	m = f.ok(t, "GET", "/api/topics/"+f.topic+"/search?key=k0&max_scan=6", nil)
	if len(list(m, "matches")) != 0 || m["complete"] != false || !strings.Contains(m["note"].(string), "bounded") {
		t.Errorf("bounded search = %v, want no match, complete=false and a note", m)
	}
	f.wantErr(t, "GET", "/api/topics/"+f.topic+"/search", nil, 400, "key")
	f.wantErr(t, "GET", "/api/topics/"+f.topic+"/search?key=a&max_scan=1000001", nil, 400, "out of range")
	f.wantErr(t, "GET", "/api/topics/no-such-topic/search?key=a", nil, 404, "does not exist")
}

func TestGroupsLagAndReset(t *testing.T) {
	f := startFixture(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	commits := kadm.Offsets{}
	commits.Add(kadm.Offset{Topic: f.topic, Partition: 0, At: 4, LeaderEpoch: -1})
	if err := f.adm.CommitAllOffsets(ctx, "billing", commits); err != nil {
		t.Fatalf("commit: %v", err)
	}
	groups := list(f.ok(t, "GET", "/api/groups", nil), "groups")
	// 6 on partition 0; partition 1 has no commit of its own and counts
	// from the log start (1 record); partition 2 is empty.
	if g := find(groups, "group", "billing"); g == nil || num(g["total_lag"]) != 7 {
		t.Fatalf("groups = %v, want billing with total lag 7", groups)
	}
	g := f.ok(t, "GET", "/api/groups/billing", nil)
	var p0 map[string]any
	for _, l := range list(g, "lag") {
		if l["topic"] == f.topic && num(l["partition"]) == 0 {
			p0 = l
		}
	}
	if p0 == nil || num(p0["committed"]) != 4 || num(p0["end_offset"]) != 10 || num(p0["lag"]) != 6 {
		t.Fatalf("lag of orders/0 = %v, want committed 4, end 10, lag 6 (group %v)", p0, g)
	}
	f.wantErr(t, "GET", "/api/groups/no-such-group", nil, 404, "does not exist")

	reset := "/api/groups/billing/reset"
	committed := func() int64 {
		os, err := f.adm.FetchOffsets(ctx, "billing")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := os.Lookup(f.topic, 0)
		return o.At
	}
	plan := f.ok(t, "POST", reset, map[string]any{"topic": f.topic, "partitions": []int{0}, "to": "earliest", "dry_run": true})
	steps := list(plan, "plan")
	if len(steps) != 1 || num(steps[0]["current"]) != 4 || num(steps[0]["target"]) != 0 || plan["applied"] != false {
		t.Fatalf("dry run = %v, want one step 4 -> 0, not applied", plan)
	}
	if got := committed(); got != 4 {
		t.Fatalf("dry run changed the commit to %d", got)
	}
	f.ok(t, "POST", reset, map[string]any{"topic": f.topic, "partitions": []int{0}, "to": "offset", "offset": 2})
	if got := committed(); got != 2 {
		t.Fatalf("after reset to offset 2 the commit is %d", got)
	}
	plan = f.ok(t, "POST", reset, map[string]any{"topic": f.topic, "partitions": []int{0}, "to": "offset", "offset": 999, "dry_run": true})
	if s := list(plan, "plan")[0]; num(s["target"]) != 10 || s["note"] == "" {
		t.Errorf("offset past the end planned %v, want clamped to 10 with a note", s)
	}
	f.ok(t, "POST", reset, map[string]any{"topic": f.topic, "to": "time", "time": "2200-01-01T00:00:00Z"})
	if got := committed(); got != 10 {
		t.Errorf("after reset to a future time the commit is %d, want the end 10", got)
	}
	f.ok(t, "POST", reset, map[string]any{"topic": f.topic, "to": "time", "time": 1000})
	if got := committed(); got != 0 {
		t.Errorf("after reset to time 1000 the commit is %d, want 0", got)
	}
	f.wantErr(t, "POST", reset, map[string]any{"topic": f.topic, "to": "sideways"}, 400, "not one of")
	f.wantErr(t, "POST", reset, map[string]any{"topic": f.topic, "to": "offset"}, 400, "needs \"offset\"")
	f.wantErr(t, "POST", reset, map[string]any{"topic": f.topic, "to": "time", "time": "noon"}, 400, "RFC 3339")
	f.wantErr(t, "POST", reset, map[string]any{"topic": f.topic, "to": "earliest", "partitions": []int{5}}, 400, "no partition 5")
	f.wantErr(t, "POST", reset, map[string]any{"topic": "no-such-topic", "to": "earliest"}, 404, "does not exist")
	f.wantErr(t, "POST", reset, map[string]any{"to": "earliest"}, 400, "give the topic")

	// A group with a live member: the plan is shown, applying is refused.
	member, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.ConsumerGroup("live"), kgo.ConsumeTopics(f.topic),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	waitFor(t, "the consumer to join group live", func() bool {
		member.PollFetches(ctxFor(t, 300*time.Millisecond))
		dg, err := f.adm.DescribeGroups(ctx, "live")
		return err == nil && dg["live"].State == "Stable" && len(dg["live"].Members) == 1
	})
	plan = f.ok(t, "POST", "/api/groups/live/reset", map[string]any{"topic": f.topic, "to": "earliest", "dry_run": true})
	if plan["can_apply"] != false || !strings.Contains(plan["reason"].(string), "active members") {
		t.Errorf("dry run on a live group = %v, want can_apply false with a reason", plan)
	}
	f.wantErr(t, "POST", "/api/groups/live/reset", map[string]any{"topic": f.topic, "to": "earliest"}, 409, "active members")
	g = f.ok(t, "GET", "/api/groups/live", nil)
	members := list(g, "members")
	if len(members) != 1 || len(members[0]["assigned"].(map[string]any)[f.topic].([]any)) != 3 {
		t.Errorf("members of live = %v, want one member assigned all 3 partitions", members)
	}
}

// waitFor polls cond (bounded) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTransactions(t *testing.T) {
	f := startFixture(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	tx, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.TransactionalID("payments-1"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: f.topic, Partition: 2, Value: []byte("in txn")}).FirstErr(); err != nil {
		t.Fatalf("produce in txn: %v", err)
	}
	// Open: described with its partition.
	d := f.ok(t, "GET", "/api/transactions/payments-1", nil)
	if d["state"] != "Ongoing" || d["partitions"].(map[string]any)[f.topic] == nil {
		t.Errorf("open transaction described as %v, want Ongoing with orders", d)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	txns := list(f.ok(t, "GET", "/api/transactions", nil), "transactions")
	if x := find(txns, "txn_id", "payments-1"); x == nil || x["state"] != "CompleteCommit" {
		t.Errorf("transactions = %v, want payments-1 CompleteCommit", txns)
	}
	f.wantErr(t, "GET", "/api/transactions/no-such-txn", nil, 404, "does not exist")
}

func TestLiveThroughput(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := startFixture(t, clock)
	first := find(list(f.ok(t, "GET", "/api/live", nil), "topics"), "topic", f.topic)
	if first == nil || num(first["end_offset_sum"]) != 11 || num(first["delta"]) != -1 {
		t.Fatalf("first live sample = %v, want sum 11 and no delta yet", first)
	}
	var recs []*kgo.Record
	for range 20 {
		recs = append(recs, &kgo.Record{Topic: f.topic, Partition: 2, Value: []byte("x")})
	}
	if err := f.cl.ProduceSync(ctxFor(t, 10*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	m := f.ok(t, "GET", "/api/live", nil)
	second := find(list(m, "topics"), "topic", f.topic)
	if num(second["delta"]) != 20 || num(second["records"]) != 31 || second["records_per_sec"] != 10.0 || num(m["interval_ms"]) != 2000 {
		t.Errorf("second live sample = %v (interval %v), want delta 20 at 10 records/s over 2000 ms", second, m["interval_ms"])
	}
}

func TestAPIErrorsAreJSON(t *testing.T) {
	f := startFixture(t, nil)
	f.wantErr(t, "DELETE", "/api/topics", nil, 405, "not allowed")
	f.wantErr(t, "GET", "/api/nothing-here", nil, 404, "no API endpoint")
	f.wantErr(t, "GET", "/api/groups/x/reset", nil, 405, "not allowed")

	// A POST from another site's page is refused before it reaches Kafka.
	req, _ := http.NewRequest("POST", f.http.URL+"/api/topics/"+f.topic+"/messages", strings.NewReader(`{"value":"x"}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	jsonErr := json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || jsonErr != nil || !strings.Contains(fmt.Sprint(body["error"]), "cross-origin") {
		t.Errorf("cross-site POST answered %d %v (%v), want 403 with a JSON error", resp.StatusCode, body, jsonErr)
	}
	ends, err := f.adm.ListEndOffsets(ctxFor(t, 10*time.Second), f.topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 11 {
		t.Errorf("the topic holds %d records after the refused produce, want the 11 it had", total)
	}
}

func TestPageAndAssets(t *testing.T) {
	f := startFixture(t, nil)
	for path, want := range map[string]string{"/": "<title>Ferry console</title>", "/static/app.js": "use strict", "/static/style.css": "body"} {
		resp, err := http.Get(f.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte(want)) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
		if bytes.Contains(b, []byte("https://")) || bytes.Contains(b, []byte("http://")) {
			t.Errorf("GET %s refers to an outside address; assets must be served from the binary", path)
		}
	}
}

// Where the broker checks ACLs, the console is a client like any other: a
// topic its principal may not describe answers 403 with the broker's
// reason, and the topic list leaves it out.
func TestACLRefusalIsForbidden(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	cfg.ACL.Authorizer = true
	cfg.ACL.InsecurePrincipalFromClientID = true // test only: the admin below names itself
	cfg.ACL.Superusers = []string{"User:admin"}
	srv, err := server.Start(cfg, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	admin, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr()), kgo.ClientID("principal=User:admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).CreateTopic(ctxFor(t, 15*time.Second), 1, 1, nil, "secret"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	c := console.New(console.Options{Brokers: []string{srv.Addr()}})
	t.Cleanup(c.Close)
	f := &fixture{http: httptest.NewServer(c)}
	t.Cleanup(f.http.Close)

	f.wantErr(t, "GET", "/api/topics/secret", nil, 403, "TOPIC_AUTHORIZATION_FAILED")
	f.wantErr(t, "GET", "/api/topics/secret/messages", nil, 403, "TOPIC_AUTHORIZATION_FAILED")
	if topics := list(f.ok(t, "GET", "/api/topics", nil), "topics"); find(topics, "name", "secret") != nil {
		t.Errorf("the topic list shows a topic the console may not describe: %v", topics)
	}
}
