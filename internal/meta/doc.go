// Package meta holds the cluster's metadata: topics, partitions, configs and
// producer-id blocks, as records in one ordered, durable log applied to an
// immutable in-memory Image.
//
// Nothing else writes metadata. The broker reads and changes it through the
// Store interface: on one node FileStore, the local file below; in a
// cluster the same records are the entries of a Raft log (package
// cluster), applied to the same Image on every node.
//
// Besides topics, configs and producer-id blocks, records register brokers
// and place partitions (replicas, leader, leader epoch, ISR, partition
// epoch). A BrokerRecord holds a broker's whole state: node id, advertised
// Kafka address, the incarnation id its process drew at start, and whether
// it is fenced; each one replaces the last for its node. In a cluster the
// active controller is its only writer (package cluster): the first
// heartbeat of a process registers it, a missed lease writes it Fenced in
// the same entry as the PlacementRecords that move its partitions, and its
// next heartbeat unfences it. Records from before heartbeats existed have
// no incarnation and are not fenced. A PlacementRecord must advance the
// partition epoch, must not lower the leader epoch, and may not make a
// fenced broker the new leader or add one to the ISR (a fenced broker
// already in the ISR may stay: an offline partition keeps its last member). A TopicRecord or
// PartitionsRecord written before placement existed carries none: on
// replay each such partition gets replicas=[node], leader=node, epoch 0,
// where node is the id of the node replaying (OpenAs), so an old data dir
// keeps working as a cluster of one. A ClusterRecord names the cluster once;
// a second, different name is refused.
//
// A Placement may describe a reassignment in progress (KIP-455): Adding
// and Removing (omitted when empty, so older records load unchanged) name
// the replicas being added and removed; Replicas is then the target list
// followed by the removed replicas, and From (omitted when empty) keeps the
// replica list from before the move in its order, which a cancel restores
// (without it, a cancel keeps Replicas' order). A placement is refused whose Adding or
// Removing names a non-replica, names a replica in both, or removes every
// replica, or whose Replicas names a broker twice (package controller
// holds the rules of a move: start, complete, cancel).
//
// A DrainRecord marks a registered broker draining or clears the mark
// (drain.go): a draining broker gets no new replicas and the controller's
// balancer moves its replicas away; with none left it is drained. The mark
// is its own record, not a BrokerRecord field, because the controller
// rewrites BrokerRecords on every registration and fencing. Snapshots carry
// the marked node ids as "draining":
//
//	{"drain":{"node_id":4,"draining":true}}
//
// A ScramRecord stores or deletes one user's SCRAM credential for one
// mechanism (SCRAM-SHA-256 or SCRAM-SHA-512): the salt, the PBKDF2
// iteration count (4096 to 16384), StoredKey and ServerKey as RFC 5802
// defines them, never the password nor the salted password. On a cluster
// they are Raft entries like every record, so every node authenticates the
// same users; snapshots carry them in "scram". Kafka's SASL/PLAIN is checked
// against the same credentials (the password is salted and hashed with the
// stored salt and compared with StoredKey). In the JSON payload the byte
// fields are base64:
//
//	{"scram":{"user":"alice","mechanism":"SCRAM-SHA-256","salt":"…",
//	          "iterations":8192,"stored_key":"…","server_key":"…"}}
//	{"scram":{"user":"alice","mechanism":"SCRAM-SHA-256","delete":true}}
//
// Security records (security.go): an ACLRecord adds or removes one access
// binding (principal, host, operation, permission, resource type, name and
// pattern, with Kafka's wire codes); a QuotaRecord sets or removes one
// client quota (producer_byte_rate, consumer_byte_rate,
// request_percentage) of a user and/or client-id entity, each part a name
// or the default. Both are idempotent. The image keeps them as an immutable
// ACLSet and QuotaSet, replaced on change, so readers cache indexes keyed by
// the set's pointer; snapshots carry them as "acls" and "quotas".
//
// On-disk format: DIR/metadata.log is a sequence of frames
//
//	+----------------+----------------+---------------------------+
//	| length uint32  | crc32c uint32  | payload (length bytes)    |
//	+----------------+----------------+---------------------------+
//
// big-endian, the CRC (Castagnoli) covering the payload. The payload is one
// JSON-encoded Record. Every Update appends its records as frames and
// fsyncs before the new Image is published. Close writes an empty file
// DIR/clean-shutdown; Open removes it once the log replayed whole.
//
// Each Open that finds the log whole copies it to DIR/metadata.log.bak (when
// it grew since the last copy). The log only grows at its end, so the copy
// is a prefix of it, byte for byte.
//
// At Open the frames are replayed in order. A bad frame (short, bad CRC,
// undecodable payload) inside the range the backup covers is repaired from
// it: the backup's bytes replace the log's prefix when the two agree up to
// the bad frame, the backup replays whole and the result replays past the
// damage; the damaged file is kept as DIR/metadata.log.damaged-at-<position>
// and the repair logged at ERROR. Past the backup, a bad frame is cut off
// only when it is a torn tail: the last
// Close was not clean and no valid frame can be found at any later byte
// (an Update that did not complete its fsync was never acknowledged). The
// cut bytes are kept in DIR/metadata.log.torn-at-<position> and the cut is
// logged at ERROR. Any other bad frame, damage in the middle of the log or
// at the end of a cleanly closed one, makes Open fail with ErrCorrupt
// naming the file and position: replaying past it could apply records out
// of order, and dropping what follows would lose topics silently (and let
// start-up remove their data), so the operator decides. There is no
// snapshot: the log is small and replays in milliseconds; the backup is
// refreshed at start-up only, so a start costs one copy of the log at most.
package meta
