package main

import (
	"strings"
	"testing"
)

// TestBrokerErrorsPrintedOnce: the error the broker answers with is shown
// with its name and text once, followed by the broker's own detail — not
// "INVALID_CONFIG: ...: INVALID_CONFIG: ...".
func TestBrokerErrorsPrintedOnce(t *testing.T) {
	brokers := startFerry(t)
	b := []string{"--brokers", brokers}
	topic := testTopic(t)
	_, _, err := runCmd(t, runTopic, "", append([]string{"create", topic, "--config", "segment.bytes=1"}, b...)...)
	if err == nil {
		t.Fatal("creating a topic with segment.bytes=1 succeeded")
	}
	if n := strings.Count(err.Error(), "INVALID_CONFIG"); n != 1 || !strings.Contains(err.Error(), "segment.bytes") {
		t.Errorf("create error names INVALID_CONFIG %d times (want once, with the detail): %v", n, err)
	}

	mustRun(t, runTopic, "", append([]string{"create", topic}, b...)...)
	_, _, err = runCmd(t, runTopic, "", append([]string{"alter", topic, "--config", "flush.policy=sometimes"}, b...)...)
	if err == nil {
		t.Fatal("altering flush.policy to a bad value succeeded")
	}
	if n := strings.Count(err.Error(), "INVALID_CONFIG"); n != 1 || !strings.Contains(err.Error(), "flush.policy") {
		t.Errorf("alter error names INVALID_CONFIG %d times (want once, with the detail): %v", n, err)
	}
}
