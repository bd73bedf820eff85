package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A real `ferry serve` serves the web console at "/" of its HTTP listener,
// its JSON API reads what a client produced, and /metrics and /healthz are
// still served beside it.
func TestConsoleServedByFerry(t *testing.T) {
	p := startFerry(t, t.TempDir())
	if p.httpAddr() == "" {
		t.Fatalf("ferry logged no HTTP address\n%s", p.log())
	}
	base := "http://" + p.httpAddr()
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if st, _, body := get("/"); st != 200 || !strings.Contains(body, "<title>Ferry console</title>") {
		t.Fatalf("GET /: %d %.200s", st, body)
	}
	if st, _, body := get("/static/app.js"); st != 200 || !strings.Contains(body, "use strict") {
		t.Errorf("GET /static/app.js: %d %.100s", st, body)
	}

	topic := topicName(t)
	createTopic(t, newAdmin(t, p.addr), topic, 1)
	produceSync(t, newClient(t, p.addr), &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(`{"hello":"console"}`)})
	st, ct, body := get("/api/topics/" + topic + "/messages?partition=0&offset=0")
	var browsed struct {
		Messages []struct {
			Key   struct{ Text string }
			Value struct{ Text, Format string }
		}
	}
	if st != 200 || ct != "application/json" || json.Unmarshal([]byte(body), &browsed) != nil || len(browsed.Messages) != 1 ||
		browsed.Messages[0].Key.Text != "k" || browsed.Messages[0].Value.Format != "json" {
		t.Errorf("GET messages: %d %s %s", st, ct, body)
	}
	if st, _, body := get("/api/topics/no-such-topic"); st != 404 || !strings.Contains(body, "does not exist") {
		t.Errorf("GET unknown topic: %d %s", st, body)
	}
	if st, _, body := get("/metrics"); st != 200 || !strings.Contains(body, "ferry_") {
		t.Errorf("GET /metrics beside the console: %d %.200s", st, body)
	}
	if st, _, _ := get("/healthz"); st != 200 {
		t.Errorf("GET /healthz beside the console: %d", st)
	}
}

// With SASL required on the Kafka listener the console, which has no login
// yet, is off and says why, rather than serving without a password.
func TestConsoleOffWhenSASLIsRequired(t *testing.T) {
	p := startFerry(t, t.TempDir(), "--sasl-mechanisms", "SCRAM-SHA-256", "--bootstrap-user", "admin:secret-pass")
	resp, err := http.Get("http://" + p.httpAddr() + "/api/topics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "requires SASL") {
		t.Errorf("GET /api/topics on a SASL node: %d %s", resp.StatusCode, b)
	}
}
