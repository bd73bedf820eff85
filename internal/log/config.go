package log

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// FlushPolicy says when appended data is fsynced, and so when it becomes visible
// to readers (see Log.HighWatermark).
type FlushPolicy string

const (
	FlushAlways   FlushPolicy = "always"   // fsync before ack; group commit
	FlushInterval FlushPolicy = "interval" // background fsync every FlushInterval
	FlushOS       FlushPolicy = "os"       // leave it to the OS
)

// Config holds the per-partition settings. Field names follow Kafka's topic configs.
type Config struct {
	SegmentBytes       int64         // segment.bytes: roll when the active segment would exceed this
	SegmentAge         time.Duration // segment.ms: roll when the active segment is older; 0 = never
	RetentionAge       time.Duration // retention.ms: delete segments whose newest timestamp is older; <0 = unlimited
	RetentionBytes     int64         // retention.bytes: delete oldest segments while total size exceeds; <0 = unlimited
	FlushPolicy        FlushPolicy   // flush.policy
	FlushInterval      time.Duration // flush.ms, used with FlushInterval
	IndexIntervalBytes int           // index.interval.bytes: bytes between sparse index entries
	CleanupPolicy      CleanupPolicy // cleanup.policy: delete (retention), compact, or both; "" = delete
	DeleteRetention    time.Duration // delete.retention.ms: how long a compacted log keeps tombstones
}

// CleanupPolicy says how old data leaves the log: by retention (EnforceRetention
// deletes whole segments by age and size), by compaction (Compact keeps only the
// latest record of each key), or both.
type CleanupPolicy string

const (
	CleanupDelete        CleanupPolicy = "delete"
	CleanupCompact       CleanupPolicy = "compact"
	CleanupCompactDelete CleanupPolicy = "compact,delete"
)

// Deletes reports whether retention by time and size applies.
func (p CleanupPolicy) Deletes() bool {
	return p == "" || p == CleanupDelete || p == CleanupCompactDelete
}

// Compacts reports whether the log is compacted.
func (p CleanupPolicy) Compacts() bool { return p == CleanupCompact || p == CleanupCompactDelete }

// DefaultConfig returns Kafka's defaults, except that data is fsynced before it is
// acknowledged: a single node must not lose acknowledged messages.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentAge:         7 * 24 * time.Hour,
		RetentionAge:       7 * 24 * time.Hour,
		RetentionBytes:     -1,
		FlushPolicy:        FlushAlways,
		FlushInterval:      time.Second,
		IndexIntervalBytes: 4096,
		CleanupPolicy:      CleanupDelete,
		DeleteRetention:    24 * time.Hour,
	}
}

// MinSegmentBytes is the smallest SegmentBytes: one batch header.
const MinSegmentBytes = batchHeaderSize

// Validate checks every field and the combinations between them.
func (c Config) Validate() error {
	// Index entries hold 32-bit positions, so a segment must stay below 4 GiB;
	// like Kafka we keep it within int32.
	if c.SegmentBytes < batchHeaderSize || c.SegmentBytes > math.MaxInt32 {
		return fmt.Errorf("log config: SegmentBytes %d out of range [%d, %d]", c.SegmentBytes, batchHeaderSize, math.MaxInt32)
	}
	if c.SegmentAge < 0 {
		return fmt.Errorf("log config: SegmentAge %v is negative", c.SegmentAge)
	}
	switch c.FlushPolicy {
	case FlushAlways, FlushOS:
	case FlushInterval:
		if c.FlushInterval <= 0 {
			return fmt.Errorf("log config: FlushInterval must be positive with flush policy %q", c.FlushPolicy)
		}
	default:
		return fmt.Errorf("log config: unknown FlushPolicy %q (want always, interval or os)", c.FlushPolicy)
	}
	switch c.CleanupPolicy {
	case "", CleanupDelete, CleanupCompact, CleanupCompactDelete:
	default:
		return fmt.Errorf("log config: unknown CleanupPolicy %q (want delete, compact or compact,delete)", c.CleanupPolicy)
	}
	if c.DeleteRetention < 0 {
		return fmt.Errorf("log config: DeleteRetention %v is negative", c.DeleteRetention)
	}
	if c.IndexIntervalBytes < 0 {
		return fmt.Errorf("log config: IndexIntervalBytes %d is negative", c.IndexIntervalBytes)
	}
	return nil
}

// Options are the non-config dependencies of a Log.
type Options struct {
	Logger    *slog.Logger              // nil = discard
	OnAdvance func(highWatermark int64) // called (outside locks) whenever HighWatermark advances; may be nil
	OnAppend  func(endOffset int64)     // called (outside locks) after each append, durable or not; may be nil
	Now       func() time.Time          // injectable clock; nil = time.Now
	FS        vfs.FS                    // file system; nil = the OS (vfs.Default)
	// OnFsync, if set, is told how long each fsync of a segment took
	// (group commits, rolls, interval flushes), for metrics.
	OnFsync func(took time.Duration)
	// OnGroupCommit, if set, is told after each successful group-commit
	// fsync how many appended batches it made durable, for metrics.
	OnGroupCommit func(batches int64)
}
