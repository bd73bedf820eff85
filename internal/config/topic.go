package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/log"
)

// TopicConfig is a topic's effective configuration, parsed from Kafka's
// topic config names.
type TopicConfig struct {
	Log             log.Config
	MaxMessageBytes int32
	CleanupPolicy   string
	// MinInsyncReplicas is how many replicas an acks=all write needs in
	// the ISR (min.insync.replicas). Topics created with a replication
	// factor of 3 or more get 2 stored when they name none.
	MinInsyncReplicas int32
	// UncleanLeaderElection lets a replica outside the ISR lead when no
	// ISR member is alive, losing the records it lacks
	// (unclean.leader.election.enable).
	UncleanLeaderElection bool
	// SchedulingEnabled makes produce look for the scheduling headers
	// (ferry-deliver-at-ms, ferry-delay-ms, ferry-cancel) and hand those
	// records to the scheduler (message.scheduling.enable). Off, batches
	// are stored without being decoded.
	SchedulingEnabled bool
}

// TopicKey describes one topic config that Ferry understands.
type TopicKey struct {
	Name    string
	Default string
	Type    string // Kafka's ConfigType name: LONG, INT, STRING, LIST
	Doc     string
	parse   func(v string, tc *TopicConfig) error
}

// DefaultFlushPolicy is `always`: a producer that got an ack never loses
// the record to a crash, which is what a user who has not read the docs
// expects of a broker. Group commit keeps the cost of that guarantee to
// about one fsync per batch of concurrent appends; see README.
const DefaultFlushPolicy = log.FlushAlways

// TopicKeys lists the topic configs Ferry accepts, sorted by name.
var TopicKeys = []TopicKey{
	{"cleanup.policy", "delete", "LIST", "delete: remove whole old segments by retention.ms and retention.bytes; compact: keep only the latest record of each key (records need keys); compact,delete: both", func(v string, tc *TopicConfig) error {
		p, err := parseCleanupPolicy(v)
		if err != nil {
			return err
		}
		tc.CleanupPolicy = string(p)
		tc.Log.CleanupPolicy = p
		return nil
	}},
	{"delete.retention.ms", "86400000", "LONG", "in a compacted topic, how long tombstones (records with a null value) are kept, by record timestamp", func(v string, tc *TopicConfig) error {
		ms, err := parseNonNegative(v)
		tc.Log.DeleteRetention = time.Duration(ms) * time.Millisecond
		return err
	}},
	{"flush.ms", "1000", "LONG", "with flush.policy=interval, fsync at least this often", func(v string, tc *TopicConfig) error {
		ms, err := parseNonNegative(v)
		tc.Log.FlushInterval = time.Duration(ms) * time.Millisecond
		return err
	}},
	{"flush.policy", string(DefaultFlushPolicy), "STRING", "always: fsync before acknowledging (group commit); interval: fsync every flush.ms; os: leave flushing to the OS", func(v string, tc *TopicConfig) error {
		switch p := log.FlushPolicy(v); p {
		case log.FlushAlways, log.FlushInterval, log.FlushOS:
			tc.Log.FlushPolicy = p
			return nil
		}
		return fmt.Errorf("use always, interval or os")
	}},
	{"max.message.bytes", "1048588", "INT", "largest record batch accepted", func(v string, tc *TopicConfig) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 64 {
			return fmt.Errorf("must be an integer of at least 64")
		}
		tc.MaxMessageBytes = int32(n)
		return nil
	}},
	{"message.scheduling.enable", "false", "BOOLEAN", "true: records carrying a ferry-deliver-at-ms (unix ms) or ferry-delay-ms header are delivered to their partition at that time, and a keyed record with a ferry-cancel header cancels the scheduled records with its key; false: headers are not looked at", func(v string, tc *TopicConfig) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("use true or false")
		}
		tc.SchedulingEnabled = b
		return nil
	}},
	{"min.insync.replicas", "1", "INT", "acks=all writes need at least this many in-sync replicas, else NOT_ENOUGH_REPLICAS; a topic created with replication factor 3 or more gets 2 when it names none", func(v string, tc *TopicConfig) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return fmt.Errorf("must be an integer of at least 1")
		}
		tc.MinInsyncReplicas = int32(n)
		return nil
	}},
	{"retention.bytes", "-1", "LONG", "delete old segments while the partition is larger; -1 = unlimited", func(v string, tc *TopicConfig) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			return fmt.Errorf("must be -1 or a byte count")
		}
		tc.Log.RetentionBytes = n
		return nil
	}},
	{"retention.ms", "604800000", "LONG", "delete segments whose newest record is older; -1 = forever", func(v string, tc *TopicConfig) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			return fmt.Errorf("must be -1 or milliseconds")
		}
		tc.Log.RetentionAge = time.Duration(n) * time.Millisecond
		if n < 0 {
			tc.Log.RetentionAge = -1
		}
		return nil
	}},
	{"segment.bytes", "1073741824", "INT", "roll to a new segment file at this size", func(v string, tc *TopicConfig) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < log.MinSegmentBytes {
			return fmt.Errorf("must be an integer of at least %d (one batch header)", log.MinSegmentBytes)
		}
		tc.Log.SegmentBytes = n
		return nil
	}},
	{"segment.ms", "604800000", "LONG", "roll to a new segment file when the active one is this old", func(v string, tc *TopicConfig) error {
		ms, err := parseNonNegative(v)
		tc.Log.SegmentAge = time.Duration(ms) * time.Millisecond
		return err
	}},
	{"unclean.leader.election.enable", "false", "BOOLEAN", "when no in-sync replica is alive, let another replica lead and lose the records it lacks (true), or keep the partition offline until an in-sync one returns (false)", func(v string, tc *TopicConfig) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("use true or false")
		}
		tc.UncleanLeaderElection = b
		return nil
	}},
}

// parseCleanupPolicy accepts Kafka's list forms: delete, compact, and both in
// either order ("compact,delete" or "delete,compact", spaces allowed).
func parseCleanupPolicy(v string) (log.CleanupPolicy, error) {
	var del, compact bool
	for _, p := range strings.Split(v, ",") {
		switch strings.TrimSpace(p) {
		case "delete":
			del = true
		case "compact":
			compact = true
		default:
			return "", fmt.Errorf("use delete, compact or compact,delete")
		}
	}
	switch {
	case del && compact:
		return log.CleanupCompactDelete, nil
	case compact:
		return log.CleanupCompact, nil
	default:
		return log.CleanupDelete, nil
	}
}

func parseNonNegative(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("must be a non-negative integer")
	}
	return n, nil
}

// LookupTopicKey finds a topic config by name.
func LookupTopicKey(name string) (TopicKey, bool) {
	i := sort.Search(len(TopicKeys), func(i int) bool { return TopicKeys[i].Name >= name })
	if i < len(TopicKeys) && TopicKeys[i].Name == name {
		return TopicKeys[i], true
	}
	return TopicKey{}, false
}

// ParseTopicConfigs resolves a topic's explicit configs over the broker
// defaults over the built-in defaults. An unknown name or bad value is an
// error that names the key.
func ParseTopicConfigs(explicit, brokerDefaults map[string]string) (TopicConfig, error) {
	var tc TopicConfig
	tc.Log = log.DefaultConfig()
	for _, k := range TopicKeys {
		v := k.Default
		if bv, ok := brokerDefaults[k.Name]; ok {
			v = bv
		}
		if ev, ok := explicit[k.Name]; ok {
			v = ev
		}
		if err := k.parse(v, &tc); err != nil {
			return tc, fmt.Errorf("config %s=%q: %w", k.Name, v, err)
		}
	}
	for _, m := range []map[string]string{brokerDefaults, explicit} {
		for name := range m {
			if _, ok := LookupTopicKey(name); !ok {
				return tc, fmt.Errorf("unknown topic config %q", name)
			}
		}
	}
	return tc, tc.Log.Validate()
}
