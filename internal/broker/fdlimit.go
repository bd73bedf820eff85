//go:build unix

package broker

import (
	"log/slog"
	"syscall"
)

// filesPerPartition is what an open partition holds at least: the active
// segment's .log, .index and .timeindex (sealed segments add one each).
const filesPerPartition = 3

// warnFileLimit logs a WARN when --max-partitions partitions would need more
// open files than the process may have: clients that auto-create topics could
// then exhaust descriptors, and the broker would fail to accept connections
// or open segments long before it refused a topic with POLICY_VIOLATION.
// (Go raises the soft limit to the hard one at start; this reads the result.)
func warnFileLimit(logger *slog.Logger, maxPartitions int32) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	need := uint64(maxPartitions) * filesPerPartition
	if lim.Cur < need {
		logger.Warn("open-file limit is below what --max-partitions may need; raise it (ulimit -n, LimitNOFILE=) or lower --max-partitions",
			"open_file_limit", lim.Cur, "max_partitions", maxPartitions, "files_needed_at_least", need)
	}
}
