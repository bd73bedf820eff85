package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

func TestTopicKeysSorted(t *testing.T) {
	if !sort.SliceIsSorted(TopicKeys, func(i, j int) bool { return TopicKeys[i].Name < TopicKeys[j].Name }) {
		t.Fatal("TopicKeys must be sorted by name: LookupTopicKey uses binary search")
	}
	for _, k := range TopicKeys {
		if got, ok := LookupTopicKey(k.Name); !ok || got.Name != k.Name {
			t.Fatalf("LookupTopicKey(%q) = %q, %v", k.Name, got.Name, ok)
		}
	}
}

func TestCleanupPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    log.CleanupPolicy
		wantErr bool
	}{
		{"delete", log.CleanupDelete, false},
		{"compact", log.CleanupCompact, false},
		{"compact,delete", log.CleanupCompactDelete, false},
		{"delete,compact", log.CleanupCompactDelete, false},
		{"compact, delete", log.CleanupCompactDelete, false},
		{"", "", true},
		{"compacted", "", true},
		{"delete,", "", true},
	} {
		got, err := ParseTopicConfigs(map[string]string{"cleanup.policy": tc.in}, nil)
		if tc.wantErr {
			if err == nil {
				t.Errorf("cleanup.policy=%q accepted", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("cleanup.policy=%q: %v", tc.in, err)
			continue
		}
		if got.Log.CleanupPolicy != tc.want || got.CleanupPolicy != string(tc.want) {
			t.Errorf("cleanup.policy=%q: got %q/%q, want %q", tc.in, got.Log.CleanupPolicy, got.CleanupPolicy, tc.want)
		}
	}
}

func TestDeleteRetention(t *testing.T) {
	def, err := ParseTopicConfigs(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.Log.DeleteRetention != 24*time.Hour || def.Log.CleanupPolicy != log.CleanupDelete {
		t.Fatalf("defaults: %v %q", def.Log.DeleteRetention, def.Log.CleanupPolicy)
	}
	got, err := ParseTopicConfigs(map[string]string{"delete.retention.ms": "1500"}, map[string]string{"cleanup.policy": "compact"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Log.DeleteRetention != 1500*time.Millisecond || got.Log.CleanupPolicy != log.CleanupCompact {
		t.Fatalf("got %v %q", got.Log.DeleteRetention, got.Log.CleanupPolicy)
	}
	if _, err := ParseTopicConfigs(map[string]string{"delete.retention.ms": "-1"}, nil); err == nil {
		t.Fatal("negative delete.retention.ms accepted")
	}
}

// TestSegmentBytesMinimumIsTheOneEnforced: the minimum the error states is
// the one enforced, one below it is refused with that message.
func TestSegmentBytesMinimumIsTheOneEnforced(t *testing.T) {
	min := log.MinSegmentBytes
	if _, err := ParseTopicConfigs(map[string]string{"segment.bytes": strconv.Itoa(min)}, nil); err != nil {
		t.Fatalf("segment.bytes=%d refused: %v", min, err)
	}
	for _, v := range []int{14, min - 1} {
		_, err := ParseTopicConfigs(map[string]string{"segment.bytes": strconv.Itoa(v)}, nil)
		if want := fmt.Sprintf("at least %d", min); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("segment.bytes=%d: err = %v, want it to say %q", v, err, want)
		}
	}
}
