// Package halftxn keeps RocketMQ transactional "half" messages: a message
// sent with TRAN_MSG=true is stored here, invisible to consumers, until its
// producer ends the transaction (commit: the message is appended to its real
// topic; rollback: it is dropped) or the broker's check-back resolves it.
//
// # Check-back
//
// A checker pass (Store.CheckOnce, run every Options.Interval by Start) looks
// at every half message that has waited at least one interval since it was
// stored or last checked. Under Options.MaxChecks checks it counts one more
// check, persists the count, and asks the producer group through
// Options.Check (CHECK_TRANSACTION_STATE to a live producer of the group);
// the answer comes back later as an End call. A check that finds no live
// producer (ErrNoProducer) is logged and counts like any other, so a group
// that never comes back is rolled back after MaxChecks intervals. At the
// limit the half message is rolled back and the rollback logged at warn.
//
// # On-disk format
//
// The state lives in one partition of an internal, compacted topic (the
// broker's __rmq_half), written with log.NewBatch, so it is replicated,
// checksummed and recovered like any partition. Load replays it. Every record
// has a key; a half message is identified by the offset of its H record (its
// ID, which END_TRANSACTION and CHECK_TRANSACTION_STATE carry as
// tranStateTableOffset).
//
//	key                      value
//	'H' token[16]            half message (below)       stored by Prepare
//	'C' token[16]            check count (below)        each check-back
//	'H' token[16]            nil (tombstone)            commit or rollback
//	'C' token[16]            nil (tombstone)            commit or rollback
//
//	half message: version u8 = 1
//	              topic    u16 length + bytes   real topic
//	              partition i32                 real partition
//	              group    u16 length + bytes   producer group (PGROUP)
//	              uniqKey  u16 length + bytes   client message id (UNIQ_KEY)
//	              batch    u32 length + bytes   the record batch a commit
//	                                            appends to topic/partition
//	check count:  version u8 = 1 | checks i32 | last check unix ms i64
//
// The token is random and only ties the records of one half message
// together, so that compaction keeps the latest of each and drops a resolved
// half message altogether (tombstones). All integers are big-endian.
//
// # Crash consistency
//
// A commit appends the batch to the real topic, waits until it is durable,
// and only then writes the tombstones. A crash between the two leaves the
// half message pending; a later check-back that the producer answers with
// commit appends it again: the real topic may then hold it twice
// (at-least-once, like RocketMQ, whose consumers deduplicate by UNIQ_KEY).
// A rollback is only the tombstones: a crash before they are durable leaves
// the half message pending, to be checked back again.
package halftxn
