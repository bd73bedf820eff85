// Package msgindex finds records by key: a per-partition hash index, on
// disk, that maps each indexed key (RocketMQ's KEYS, split on spaces, and
// its UNIQ_KEY message id) to the offsets and timestamps of the records that
// carry it. It is filled asynchronously by a tailer that reads the
// partition's log behind the produce path (tail.go), so producing never
// waits for it; a lookup returns candidates that the caller checks against
// the records themselves (hash collisions, and entries of a log that was
// truncated or deleted, are filtered there, never returned to users).
//
// # Files
//
// A partition's index is a directory of files named by the first offset
// each may index (%020d.idx). Only the newest is written; a file is sealed
// (fsynced, flagged clean) when its entries are full, and a new one begun.
// Files wholly below the log's start offset are deleted (Prune).
//
//	+--------------------+  0
//	| header (64 bytes)  |
//	+--------------------+  64
//	| slots: u32 × S     |  entry number + 1 of the newest entry whose
//	|                    |  hash % S is the slot's index; 0 = none
//	+--------------------+  64 + 4S
//	| entries: 28 × C    |  hash u64 | offset i64 | timestamp ms i64 |
//	|                    |  prev u32 (entry number + 1 of the previous
//	|                    |  entry in the same slot; 0 = none)
//	+--------------------+
//
//	header: magic "FMXI" | version u16 = 1 | flags u16 (bit 0: clean) |
//	        slots S u32 | capacity C u32 | base i64 | next i64 |
//	        count u32 | reserved u32 | min timestamp i64 |
//	        max timestamp i64 | CRC-32C of bytes 0-55 u32 | reserved u32
//
// next is the log offset up to which records have been indexed: the tailer
// resumes there. The hash is 64-bit FNV-1a of the key. A chain's prev
// numbers strictly decrease, so a walk always ends, whatever the bytes.
// All integers are big-endian.
//
// # Durability
//
// The index is derived data. Entries, then the slot table, then the header
// are written at each Flush without fsync; a file is fsynced when sealed and
// at Close, which also sets the clean flag. After a crash, the newest file's
// header says how far it got: entries past its count are ignored and a slot
// pointing past count makes the file be rebuilt from its base offset. After
// a power loss the newest file may miss some entries (never returns wrong
// ones, since callers check candidates); deleting the directory rebuilds it
// from the log.
package msgindex
