package kafka_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The error_message field must not repeat the code's name and description:
// clients print both beside it ("INVALID_CONFIG: ...: INVALID_CONFIG: ..." was
// what ferry's CLI showed).
func TestErrorMessageDoesNotRepeatTheCode(t *testing.T) {
	b := startBroker(t)
	c := b.dial(t)
	st := c.createTopics(topicSpec{"badcfg", 1, 1, map[string]string{"no.such.config": "1"}})[0]
	if st.ErrorCode != kerr.InvalidConfig.Code {
		t.Fatalf("error code %d, want INVALID_CONFIG", st.ErrorCode)
	}
	if st.ErrorMessage == nil || *st.ErrorMessage == "" {
		t.Fatal("no error message")
	}
	msg := *st.ErrorMessage
	if strings.Contains(msg, kerr.InvalidConfig.Message) || strings.Contains(msg, kerr.InvalidConfig.Description) {
		t.Fatalf("message repeats the code: %q", msg)
	}
	if !strings.Contains(msg, "no.such.config") {
		t.Fatalf("message %q does not name the bad key", msg)
	}
}
