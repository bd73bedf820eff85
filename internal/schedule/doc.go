// Package schedule delivers records at a later time: the broker-level
// scheduler behind Kafka's scheduled produce (topic config
// message.scheduling.enable plus a delivery header), RocketMQ's delay
// levels and delivery-time properties, and the retry back-off of RocketMQ
// consumer groups. Every front uses the same Scheduler, so a message
// scheduled by one protocol is delivered as an ordinary record that any
// client reads.
//
// # Where the state lives
//
// The truth is the internal topic __scheduled, replicated and recovered
// like any partition. A Scheduler runs on the leader of a __scheduled
// partition; everything else it keeps on disk (the bucket index below) is
// derived from that log and rebuilt from it when missing or damaged.
// __scheduled is compacted (cleanup.policy=compact): a delivered or
// cancelled message is followed by a tombstone with its key, so the
// cleaner removes both and the log holds what is pending, not everything
// ever scheduled.
//
// # Records in __scheduled
//
// Every record is keyed; the first key byte says what it is.
//
//	message   key   = 'm' | deliverAt int64 (unix ms, big-endian) | id uint64
//	          value = version 1 (1 byte)
//	                  timestamp int64 BE (unix ms of the delivered record; -1 = delivery time)
//	                  partition int32 BE
//	                  topic     uvarint length | bytes
//	                  key       varint length (-1 = null) | bytes
//	                  value     varint length (-1 = null) | bytes
//	                  headers   uvarint count | count × (uvarint length | key, varint length | value)
//	done      key   = the message's key, value null (a tombstone): delivered or cancelled
//	cancel    key   = 'c' | topic | 0x00 | record key      value = version 1 (1 byte)
//
// The id is random (64 bits): it makes message keys unique so compaction
// keeps every pending message, and it names the message in the index.
// A cancel applies to every message for its topic and key at a lower
// offset of the same __scheduled partition: it is checked when such a
// message falls due, which is then dropped instead of delivered. The
// record's own batch CRC covers all of this.
//
// # The bucket index (derived, local to the node)
//
// In <data-dir>/__scheduler/p<N>/ for partition N of __scheduled:
//
//	checkpoint           "FSCP" | version 1 | indexedTo int64 | splitUpTo int64 |
//	                     crc32c of the 21 bytes before it
//	b-<start ms>.idx     a minute bucket: entries of 29 bytes, appended:
//	                     kind (1 = add, 2 = done) | deliverAt int64 | id uint64 |
//	                     offset int64 (-1 in a done entry) | crc32c of the 25 bytes before it
//	d-<start ms>.idx     a day bucket: the same entries
//	cancels              entries: length uint32 | offset int64 | topic 0x00 key | crc32c
//
// A bucket file holds the messages due in [start, start+width): minute
// buckets (BucketWidth) for those due before splitUpTo, the end of
// tomorrow, and day buckets (CoarseWidth) for later ones, so a horizon of
// years costs one file per day. When a day comes within the horizon its
// file is split into minute buckets, a checkpoint records the new
// splitUpTo, and only then is the day file removed (a crash in between
// repeats the split; duplicated entries are harmless). Only the minute
// buckets due within the next two minutes are read into memory (a min-heap
// by due time); the rest stay on disk, so a million pending messages cost
// their bytes on disk, not memory. A bucket file whose adds are all done is
// removed. indexedTo is the __scheduled offset below which
// every record is in the files: on start the scheduler indexes the log from
// there on (re-indexing is harmless: entries are deduplicated by id). Bucket
// files are fsynced before the checkpoint that covers them is written. A
// torn tail entry is cut off; any other damage (a bad CRC, an unreadable
// checkpoint) discards the index, which is rebuilt from the log.
//
// # Delivery
//
// When messages fall due the scheduler reads them from __scheduled (a
// cache of decoded batches saves re-reading), appends them to their target
// partitions on its own goroutine (one batch per partition, in due order),
// and hands the round to a goroutine that waits for the targets'
// durability and replication (as an acks=all produce does, all targets in
// parallel) and then appends the round's tombstones, whose fsync runs in
// the background. Up to four rounds are in flight, so one round's fsync
// does not hold up the next round's appends. Delivery is at-least-once: a
// crash after a target append and before its tombstone is durable delivers
// those messages again after the restart; nothing acknowledged is lost. A message whose target topic or
// partition no longer exists is logged and dropped; other delivery errors
// (no leader, storage) are retried with back-off.
package schedule
