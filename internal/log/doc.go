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
//	  recovery-point                  "offset segment position": everything below offset was fsynced
//	  damaged-ranges                  bytes recovery quarantined (only if there are any)
//	  <base>.log.cleaned              compaction's copy of a segment, before its commit
//	  .clean-shutdown                 present only while the log is cleanly closed
//	  <base>.txnindex                 aborted transactions whose markers are in segment <base>
//	  leader-epoch-checkpoint         where each leader epoch begins (see "Leader epochs")
//
// All file access goes through a vfs.FS (Options.FS; nil is the OS), so tests
// can inject faults (internal/vfs/errorfs). Readers get Slices of *os.File for
// sendfile with the OS file system.
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
// A .txnindex file (TxnIndex, written by the partition's owner, not by Append) lists
// the aborted transactions whose abort markers are in that segment, in marker order,
// as fixed 28-byte entries:
//
//	+----------------+-----------------+----------------+-------------+
//	| producerId i64 | firstOffset i64 | lastOffset i64 | crc32c u32  |   crc covers the 24 bytes before it
//	+----------------+-----------------+----------------+-------------+
//
// firstOffset is the transaction's first batch in this partition, lastOffset its
// abort marker. Each entry is fsynced when written. OpenTxnIndex drops a torn
// partial entry and entries at or past the log end (markers lost in a crash; the
// coordinator writes them again); entries whose marker is below the log start are
// pruned after retention. Entries missing after a crash are rebuilt by the owner's
// header scan of the last segments (ScanTail). An entry that fails its CRC is
// dropped without the valid ones after it and reported (Damaged); the owner logs
// an ERROR and scans from the segment before the damaged file's to rebuild it.
//
// Index entries are also kept in memory; the files only serve the next Open.
// They have no checksum: Open validates them (increasing, within the segment)
// and rebuilds an index that fails, and a read whose index entry does not point
// at a batch with that base offset walks from the segment's start instead.
// MaxTimestamp answers with a batch base offset and batch max timestamp;
// OffsetForTime finds the batch through the time index, then decodes it to
// answer with the first record at or after the target and its own timestamp.
//
// # Durability and recovery
//
// Append writes with one write(2) and returns; Sync provides durability (group
// commit under FlushAlways). A segment is fsynced with its indexes when it is
// rolled, so every segment but the last is durable and sealed. Close fsyncs and
// writes .clean-shutdown; Open deletes it first thing.
//
// The recovery-point file says how much of the log is known durable. It holds
// one line of three decimals,
//
//	<offset> <segment base> <position>\n
//
// meaning that every offset below <offset> was fsynced and that <offset> begins
// at byte <position> of segment <segment base>'s .log (the data end when it is
// the log end). Files written before this format hold only "<offset>\n"; they
// are still read (the position is then unknown). It is replaced atomically
// (temp file, fsync, rename, dir fsync) on every roll, by Close, and by the
// group commit (FlushAlways, or the FlushInterval flusher): after an fsync, at
// most once per second, in the background so the fsync path never waits for
// it. Open after a recovery fsyncs the recovered segment but rewrites the file
// only when it was unreadable: the old point is still a lower bound, and at a
// restart after a crash every partition opens at once, where three more
// fsyncs each were most of the cost; a crash before the next group commit
// re-validates the same tail again.
//
// Open after a clean shutdown trusts the indexes and reads no record bytes:
// for each segment it walks the headers after its last index entry to find
// its end offset. After a crash:
//
//   - sealed segments before the one holding the recovery point are loaded
//     from their indexes like after a clean shutdown;
//   - sealed segments from it on are re-validated batch by batch (length
//     bounds, magic, CRC32C, offsets within [previous, next segment base));
//   - the active segment's fsynced prefix, up to the recovery point's
//     position, is trusted: its in-memory indexes come from the index files
//     plus a header walk from the last entry before that position, which must
//     land exactly on it with the recorded offset (if the index files do not
//     agree, the whole prefix is walked header by header, still without
//     CRCs). The bytes after it are re-validated with CRCs. If the offset at
//     that position is not the recorded one, the recovery point is ignored
//     and the whole segment is re-validated. The
//     first invalid batch after the recovery point is the torn tail of the
//     crash: it and everything after it are cut off, logged at INFO when it is
//     preallocated zeros, at WARN otherwise. So the restart cost grows with
//     the bytes written since the last checkpoint, not with the segment size.
//
// Any segment whose index files are missing or fail validation is re-validated
// the same way and its indexes rebuilt. Nothing else is ever cut or deleted by
// recovery: it truncates only the tail of the active segment after an unclean
// shutdown (the only other truncation is TruncateTo, for replication; see
// "Truncation"). See "Damaged ranges" for what happens to invalid bytes
// elsewhere.
//
// # Damaged ranges
//
// A batch that fails validation inside a sealed segment, or inside the fsynced
// prefix of the active one, is not a torn tail: it is quarantined. Its bytes stay
// where they are; the scan skips them, by the batch's length when the next batch
// is valid there, else byte by byte to the next position holding a plausible
// header (magic 2, sane length, base offset at or after the expected one and
// below the next segment) with a valid CRC, and resumes there with a new index
// entry (so lookups never walk across the bad bytes). Offsets missing between
// two segments (a lost segment file) are recorded the same way, with no bytes.
// If the end of the active segment is damaged beyond resync, it is kept as a
// sealed segment and a new active one begins at the true end offset (the
// recovery point's offset when it can be trusted), so offsets are never reused.
//
// Each quarantined range is logged at ERROR (file, position, length, offsets,
// reason), exposed by Log.Damaged, and recorded in the damaged-ranges file so
// that later clean opens still know about it (they do not re-read the bytes):
//
//	# ferry damaged ranges v1: file position length firstOffset endOffset reason
//	00000000000000000006.log 4096 97 8 10 log: corrupt record batch: crc 1a2b3c4d, header says 00000000
//
// one range per line: the segment file, the byte range, the offsets lost
// [firstOffset, endOffset) and the first validation failure. A read of an
// offset in a range fails with ErrDamaged (the fetch path answers
// CORRUPT_MESSAGE); reads elsewhere are served, stopping before the damaged
// bytes; appends continue at the end offset. Compaction stops at the first
// segment with a damaged range. Ranges of segments deleted by retention are
// dropped from the file at the next open.
//
// Verify (ferry log verify) re-validates every batch of a partition directory
// offline, without changing it, and lists its damaged ranges, including
// corruption that an open after a clean shutdown does not look for.
//
// # Leader epochs
//
// Append writes the log's leader epoch (SetLeaderEpoch; 0 on a single node)
// into each batch's partitionLeaderEpoch field (bytes 12..16, not covered by
// the CRC), as Kafka does; AppendAsFollower keeps the leader's base offset
// and epoch and requires the batch to start at the log end offset
// (ErrNotAtLogEnd) with an epoch no lower than the log's latest
// (ErrEpochOrder); its header and CRC are validated, not its records.
//
// The leader-epoch-checkpoint file lists where each epoch begins, in Kafka's
// text format (version 0, the entry count, then one "epoch startOffset" line
// per epoch, both increasing):
//
//	0
//	2
//	0 0
//	4 1200
//
// It is replaced atomically (writeFileAtomic) before the first batch of a new
// epoch is written, so every batch on disk has its epoch in the file; a crash
// between the two leaves an entry at or past the log end, which Open drops.
// After a crash Open also adds the epochs of the batches its scan validated
// past the recovery point, should the file lack one. A damaged file (bad
// version or count, entries that do not both increase) is rebuilt from every
// batch header. A missing file with batches in the log means a log written
// before epochs were stamped, whose header fields hold whatever producers
// sent (sarama 0, franz-go -1, anything from others): the log then counts all
// its batches as epoch 0 (one entry at the log start) rather than adopt a
// producer's number as its leader epoch. Retention moves the first entry's
// start up to the new log start and drops the entries before it.
//
// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-279) from it:
// the largest epoch at or below the requested one and the start of the next
// higher epoch, or the log end offset for the current epoch (which counts
// from the log end before its first batch, as Kafka records it when a replica
// becomes leader); as in Kafka an epoch below the first known answers
// (requested, first start offset), and -1 or an epoch above every known one
// answers (-1, -1).
//
// # Truncation
//
// TruncateTo(offset) removes every offset at or after offset, for a follower
// whose log diverged from its leader's; it truncates to the leader's end
// offset for its epoch, a batch boundary on both. A batch holding offset goes
// whole (Kafka's rule), so the new end is the first removed batch's base; an
// offset inside a damaged range cuts at its first byte. It may go below the
// high watermark, which comes down with the fsynced end; below the log start
// it fails. It holds cleanMu and appendMu and the group-commit role (no fsync
// or recovery-point write runs meanwhile), logs at WARN what it removes, and
// works in this order:
//
//  1. the recovery point is lowered to the cut (segment, position, offset)
//     unless it is already below: bytes past it will be rewritten and must
//     be re-validated after a crash, never trusted from an index walk;
//  2. the damaged-ranges file drops the ranges past the cut;
//  3. segments wholly past the cut are deleted, newest first (.log, then its
//     indexes), then a dir fsync, so what is left is always a prefix with no
//     hole;
//  4. the containing segment's .log is truncated at the cut and fsynced; it
//     becomes the active segment and its indexes are rewritten from memory;
//  5. the epoch checkpoint drops the epochs that began past the cut (only
//     now: before, a crash would leave batches whose epoch the file lacks).
//
// A crash after any step leaves a prefix of the old log at least as long as
// the new one: every batch past the cut that is still there lies after the
// recovery point, so Open re-validates it (damage there is cut or
// quarantined again) and rebuilds any index the cut invalidated, and the
// checkpoint still lists its epoch; entries left past the recovered end are
// dropped. The caller then truncates again. A failure part-way (an I/O error) makes the log refuse
// appends until it is reopened, for the same reason. Readers holding a Slice
// past the cut may read fewer bytes than they asked for, as with any
// truncation. The partition's TxnIndex has its own TruncateTo.
//
// RestartEmptyAt(offset) moves the start of an EMPTY log (start == end) up
// to offset, for a new replica whose leader's log begins past 0 (retention
// removed its head): it removes the empty segments' files, fsyncs the
// directory, creates an empty segment named offset and fsyncs again, and
// clears the epoch checkpoint. A crash between the two steps leaves no
// segment at all, which opens as a new log at 0, where the replica started.
//
// # Preallocation
//
// On Linux the active segment's file is extended with fallocate(2) (mode 0) in
// chunks of 1 MiB (never past SegmentBytes) ahead of the write position, so
// appends write inside the file's size and the group-commit fsync need not
// commit a new file size (on ext4 it took the median fsync after a 200-byte
// append from 175 to 101 µs). The file may therefore be longer than its data,
// the tail reading as zeros: a segment's size (Size, retention, reads, indexes)
// is always its data end, never the file size. Readers never go past the high
// watermark, so the zeros are never served. A roll truncates the segment to its
// data end before the fsync that seals it, and Close truncates the active one
// before it writes .clean-shutdown, so sealed segments and cleanly closed logs
// hold exactly their batches, as without preallocation. After a crash the
// active segment usually ends in zeros; the recovery scan stops at the first
// invalid batch anyway, and a tail of zeros is the expected end (truncated,
// logged at info, not as corruption). A clean-shutdown segment with a zero tail
// (Close trims, so only a copied or tampered directory) is scanned too. If
// fallocate fails (unsupported file system, no space) the log stops
// preallocating and appends extend the file as before; other OSes never
// preallocate.
//
// # Compaction
//
// With cleanup.policy compact (Config.CleanupPolicy), Compact rewrites the sealed
// segments wholly below the high watermark (never the active one) so that only
// the latest record of each key remains, Kafka-style:
//
//   - The key map (key -> latest offset, timestamp, tombstone?) is built over
//     those segments only; a newer record in the active segment supersedes older
//     ones in a later pass, after the roll. Keys are held in full in memory.
//   - A record is dropped when a later record has the same key, when it has no
//     key (ParseKeyedBatch lets the produce path refuse those; records that got in
//     before the policy changed are dropped, as Kafka does), or when it is its
//     key's latest record, a tombstone (null value) and its record timestamp is
//     older than now-DeleteRetention (simplified from Kafka, which dates
//     tombstones by the cleaning of their segment).
//   - Offsets never change. A batch that keeps all its records is copied
//     verbatim (still compressed). A batch that loses some is re-encoded
//     uncompressed with the kept records' bytes unchanged (offset and timestamp
//     deltas, key, value, headers) and the same base offset, leader epoch, last
//     offset delta, timestamps and producer fields; record count, length and CRC
//     are recomputed. So NumRecords may be below LastOffsetDelta+1 in a stored
//     batch. A batch that loses every record is dropped, except the last batch of
//     the segment, which is kept with no records so that the segment still ends
//     where the next one begins. Consumers see offset gaps, as in Kafka.
//   - Transactional and control batches are kept verbatim, and their records do
//     not enter the key map (aborted data must not supersede committed data).
//   - Recovery: offsets must be contiguous within the active segment; in sealed
//     segments batch base offsets must only increase (gaps are compaction's).
//     Segment-to-segment continuity is still checked.
//
// Crash safety: the cleaned copy is written to <base>.log.cleaned and fsynced;
// the segment's index files are removed (dir fsync); then, under appendMu, the
// copy is renamed over <base>.log, which is the commit point, and swapped into
// the segment list; after a dir fsync the new indexes are written atomically. A
// crash before the rename leaves the old .log (Open deletes *.cleaned); after it,
// the new one; in both cases missing indexes are rebuilt by scanning. The old
// file stays open for closeDelay, for readers holding Slices of it.
//
// # Concurrency
//
// Appends, rolls, retention and Close are serialized; reads and fsyncs run beside
// them. Compact runs beside appends and reads and takes appendMu only to swap a
// cleaned segment in. See the Log type for the lock order.
package log
