// Package chaos is Ferry's chaos checker, in the spirit of Jepsen and
// hashicorp/raft's fuzzy/: a workload runs against a three-node cluster of
// real `ferry serve` processes (test/cluster) while a nemesis injects
// faults, and a pure checker decides from the recorded history whether
// any guarantee broke.
//
// Run the default short version (about a minute of faults; CI runs it):
//
//	go test ./test/chaos -run TestChaos
//
// and a long one (the duration also comes from FERRY_CHAOS_DURATION):
//
//	go test ./test/chaos -run TestChaos -chaos.duration 30m -timeout 40m
//
// -chaos.seed repeats a run's nemesis choices (the log prints the seed);
// the timing of the cluster itself is never repeatable.
//
// # The run
//
// The topic has 6 partitions, 256 KiB segments (so segments roll), and
// replication factor 3 when the cluster accepts it; a cluster that does
// not replicate refuses RF>1 with INVALID_REPLICATION_FACTOR and the run
// uses 1 (the log says which).
// Four franz-go producers, idempotent with acks=all, write keyed records
// whose value carries the producer id and a sequence number ("chaos p=1
// s=42"), recording each attempt and each acknowledgement with its
// partition and offset. Two consumers read every partition from the
// start with read_uncommitted and record each (partition, offset, value)
// and each fetch's high watermark; a watcher records ListOffsets end
// offsets. The nemesis, one fault at a time so a majority always stays
// up, either SIGKILLs a node and restarts it on its data dir after a
// pause, or SIGSTOPs it and SIGCONTs it later (always: even when the run
// is cut short), or SIGKILLs it, starts it and SIGKILLs it again while
// it starts (recovering its logs or rejoining), then restarts it.
//
// When the faults stop, every node is brought back, producers flush,
// the cluster settles (every partition answers ListOffsets) and the
// consumers catch up; a fresh consumer reads every partition from its
// leader to its end (the final log); the nodes are shut down and each
// node's copy of each partition is read offline from its segment files
// (ReadReplicas; format in internal/log's doc.go).
//
// # The checks
//
// Check is a pure function over the History; checker_test.go feeds it a
// history that breaks each guarantee in turn. It reports:
//
//   - every acknowledged record is in the final log exactly once, at the
//     offset it was acknowledged at (lost-ack, moved-ack, duplicate);
//     an unacknowledged record may be there, at most once; a record no
//     producer wrote is a phantom;
//   - per consumer and partition, offsets only go forward
//     (offset-went-back); per observer and partition, the high watermark
//     never decreases (hw-went-back) and never exceeds the final log end
//     (hw-past-final-end);
//   - every record a consumer saw is still at that offset in the final
//     log (read-lost): the high watermark never exposed data that was
//     later truncated;
//   - per producer and partition, acknowledged records are in sequence
//     order (out-of-order);
//   - all replicas of a partition hold the same batches (base and last
//     offset, leader epoch, CRC; replicas-diverged), and each holds
//     exactly the final log's records (replica-not-final).
//
// A failed run prints each node's last log lines and keeps the cluster's
// directory (logs, data dirs, history.json.gz) for a closer look.
package chaos
