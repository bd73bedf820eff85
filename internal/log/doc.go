// Package log is the partition log: one directory per partition holding Kafka v2
// record batches verbatim, in segments named by their base offset.
//
// # On-disk format
//
//	<partition dir>/
//	  00000000000000000000.log        batches [0, 1200)
//	  00000000000000000000.index
//	  00000000000000000000.timeindex
//	  00000000000000001200.log        active segment: appends go here
//	  00000000000000001200.index
//	  00000000000000001200.timeindex
//	  recovery-point                  decimal offset: everything below it was fsynced
//	  .clean-shutdown                 present only while the log is cleanly closed
//
// A .log file is a plain concatenation of record batches exactly as Kafka sends
// them on the wire (big-endian):
//
//	 0               8          12                  16      17        21
//	+---------------+----------+-------------------+-------+---------+
//	| baseOffset i64| length i32| leaderEpoch i32  |magic=2| crc u32 |
//	+---------------+----------+-------------------+-------+---------+
//	21          23                27                35               43
//	+-----------+----------------+-----------------+----------------+
//	| attrs i16 | lastOffDelta i32| firstTs i64    | maxTs i64      |
//	+-----------+----------------+-----------------+----------------+
//	43            51          53             57            61
//	+-------------+-----------+--------------+-------------+---------------+
//	| producerId  | prodEpoch | baseSequence | numRecords  | records ...   |
//	+-------------+-----------+--------------+-------------+---------------+
//
// length counts the bytes after the length field; the CRC32C (Castagnoli) covers
// attributes..end, so the log can write baseOffset (and the leader epoch) when it
// assigns offsets without re-encoding anything.
//
// The .index file is a sparse offset index, one entry per IndexIntervalBytes of
// batches (and one for the first batch):
//
//	+--------------------+--------------+
//	| relOffset u32      | position u32 |   relOffset = batch base offset - segment base
//	+--------------------+--------------+
//
// The .timeindex file has one entry whenever an offset index entry is written and
// the segment's max timestamp grew since the last time entry, plus a final one when
// the segment is sealed (rolled or closed), so its last entry is the segment's max:
//
//	+--------------------+--------------+
//	| maxTimestamp i64   | relOffset u32|   batch that raised the max to this value
//	+--------------------+--------------+
//
// Index entries are also kept in memory; the files only serve the next Open.
// Lookups are by batch: OffsetForTime and MaxTimestamp answer with batch base
// offsets and batch max timestamps.
//
// # Durability and recovery
//
// Append writes with one write(2) and returns; Sync provides durability (group
// commit under FlushAlways). A segment is fsynced with its indexes when it is
// rolled, and then the recovery-point file is replaced (temp file, rename, dir
// fsync). Close fsyncs and writes .clean-shutdown; Open deletes it first thing. On
// an Open without the marker, every segment from the one holding the recovery point
// is re-validated batch by batch (length bounds, CRC32C, contiguous offsets) and cut
// at the first torn or corrupt batch; indexes of scanned segments are rebuilt.
//
// # Concurrency
//
// Appends, rolls, retention and Close are serialized; reads and fsyncs run beside
// them. See the Log type for the lock order.
package log
