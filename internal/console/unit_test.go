package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name, in, format string
		null             bool
		wantFormat       string
		wantText         string
	}{
		{"null", "", "auto", true, "null", ""},
		{"auto json", `{"a":[1,2]}`, "auto", false, "json", "{\n  \"a\": [\n    1,\n    2\n  ]\n}"},
		{"auto text", "hello", "auto", false, "text", "hello"},
		{"auto binary", "\x00\xff", "auto", false, "hex", "00ff"},
		{"json asked, not json", "hello", "json", false, "text", "hello"},
		{"text asked, binary", "\xff", "text", false, "hex", "ff"},
		{"hex asked", "hi", "hex", false, "hex", "6869"},
		{"empty is text", "", "auto", false, "text", ""},
	} {
		got := render([]byte(tc.in), tc.null, tc.format)
		if got.Format != tc.wantFormat || got.Text != tc.wantText {
			t.Errorf("%s: got %s %q, want %s %q", tc.name, got.Format, got.Text, tc.wantFormat, tc.wantText)
		}
	}
}

// A value past MaxShownBytes is cut, and the cut never splits a character
// (which would turn the whole text into hex).
func TestRenderCutsLongValuesOnACharacter(t *testing.T) {
	long := strings.Repeat("é", MaxShownBytes) // 2 bytes each
	got := render([]byte("x"+long), false, "auto")
	if !got.Truncated || got.Format != "text" || got.Size != 1+len(long) || !utf8.ValidString(got.Text) || len(got.Text) > MaxShownBytes {
		t.Errorf("got format %s, truncated %v, size %d, %d bytes shown", got.Format, got.Truncated, got.Size, len(got.Text))
	}
	// Cut JSON is no JSON: it shows as text.
	js := `{"a":"` + strings.Repeat("x", MaxShownBytes) + `"}`
	if got := render([]byte(js), false, "json"); got.Format != "text" || !got.Truncated {
		t.Errorf("cut JSON shown as %s (truncated %v)", got.Format, got.Truncated)
	}
}

func TestLocalSeed(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:9092":   "127.0.0.1:9092",
		"[::]:9092":      "127.0.0.1:9092",
		":9092":          "127.0.0.1:9092",
		"10.1.2.3:9092":  "10.1.2.3:9092",
		"kafka-1:9092":   "kafka-1:9092",
		"127.0.0.1:9092": "127.0.0.1:9092",
		"garbage":        "garbage",
	} {
		if got := LocalSeed(in); got != want {
			t.Errorf("LocalSeed(%q) = %q, want %q", in, got, want)
		}
	}
}

// Past MaxConcurrentScans, a browse or search is refused with 429 rather
// than queued: each holds a consumer and up to MaxFetchBytes.
func TestScansAreBounded(t *testing.T) {
	c := New(Options{Brokers: []string{"127.0.0.1:1"}})
	defer c.Close()
	for range MaxConcurrentScans {
		c.scans <- struct{}{}
	}
	_, err := c.scan(context.Background(), "t", map[int32]span{0: {0, 10}}, nil)
	var ae *apiError
	if !errors.As(err, &ae) || ae.status != http.StatusTooManyRequests {
		t.Fatalf("scan with every slot taken: %v, want 429", err)
	}
}

// An unavailable console serves its page, and every API request answers
// 503 with the reason, which the page shows.
func TestUnavailable(t *testing.T) {
	c := Unavailable("the Kafka listener requires SASL")
	defer c.Close()
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/api/topics", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "requires SASL") {
		t.Errorf("GET /api/topics: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Ferry console") {
		t.Errorf("GET /: %d", rec.Code)
	}
}
