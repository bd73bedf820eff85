// Package broker wires the metadata store and the partition logs together
// and owns their lifecycle. The Kafka protocol layer calls it; it never
// sees the wire.
//
// Lock order: coordinators.mu (the shard maps, coordinators.go), then a
// group.Coordinator's mutex, then topicList.mu, then Broker.mu, then a
// partition's replica lock, then Partition.mu, then whatever the log takes.
// Metadata changes go through meta.Store.Update, which is called without
// Broker.mu held; the broker then reconciles its partitions with the newest
// image (reconcileMu, then Broker.mu only for the map updates).
//
// # Data directory
//
// The data dir (--data-dir) holds:
//
//	.lock                      flock held while a broker uses the dir
//	__meta/                    the metadata log (format: internal/meta/doc.go)
//	TOPIC-N/                   partition N of TOPIC (format: internal/log/doc.go)
//	  topic-id.<32 hex>        empty file: the id of the topic incarnation
//	                           that wrote this directory
//	  00000000000000000000.log, .index, .timeindex, .txnindex, ...
//	TOPIC-N.<32 hex>-delete/   a deleted partition, being removed
//	__quarantine/              directories the broker will neither open nor
//	                           delete; an operator inspects and removes them
//	__scheduler/p0/            the scheduler's bucket index of __scheduled-0,
//	                           derived from that partition and rebuilt from it
//	                           when missing (format: internal/schedule/doc.go)
//
// Topic names may be reused, so the directory name alone cannot say which
// incarnation of a topic its data belongs to. The topic-id file does (the
// role of Kafka's partition.metadata). The id is the file's name, not its
// content: the one fsync of the partition directory that makes a new log's
// files durable makes the id durable too.
//
// Create: the metadata record is written first; then, for each partition
// (in parallel, see open.go), the directory is made, the id file written
// and the log opened (one fsync of the directory); last, one fsync of the
// data dir makes the new directory entries durable. A directory already in
// place under the new partition's name is never opened unless it carries
// the topic's id: one with another id is renamed to "-delete" and removed,
// one without an id goes to __quarantine/.
//
// Delete: the metadata record is written first; then every partition's log
// is closed, its directory renamed to "TOPIC-N.<id hex>-delete", the data
// dir fsynced, and only then is the delete acknowledged. The renamed
// directories are removed in the background. If a rename fails, the
// directory stays under its name with its old id, which no later create
// will open.
//
// Start-up (sweep.go), before any partition opens: "-delete" directories
// are removed; a partition directory whose name a newer topic has taken
// holds the deleted incarnation's data and is renamed and removed; one whose
// id belongs to no live topic at all (a delete cut short by a crash before
// its renames, or lost metadata: they cannot be told apart) is moved to
// __quarantine/, never deleted; a directory without an id file that belongs to a live topic (by
// name and partition number) is adopted: the id is written into it. That
// keeps data dirs written before topic ids were recorded working. Any other
// partition-like directory (no id and no live topic, an unreadable id, a
// partition number past the topic's count) is moved to __quarantine/ and
// logged at ERROR. Every removal and move is logged with the directory and
// the reason.
package broker
