// Package group is the consumer-group coordinator: Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), committed offsets
// (OffsetCommit, OffsetFetch, OffsetDelete) and the admin views of groups
// (ListGroups, DescribeGroups, DeleteGroups).
//
// # Shape
//
// The Coordinator is a state machine guarded by one mutex. Its inputs are
// requests (kmsg structs, so versions travel with them) and Tick(now); the
// time of every input comes from an injected clock, so tests drive session
// and rebalance timeouts with a fake clock and no sockets or sleeps. Calls
// that may have to wait for other members (Join, Sync) return a buffered
// channel that receives exactly one response, either at once or from a later
// input that completes the rebalance (another member's join, a leave, or a
// Tick that passes a deadline). Start runs a goroutine that calls Tick every
// TickInterval with the real clock; tests call Tick themselves.
//
// Lock order: Coordinator.mu, then whatever the Log implementation takes.
// The coordinator appends to the log under mu (a page-cache write, which
// keeps the log's order equal to the order of state changes) but never
// waits for an fsync under it.
//
// # Persistence
//
// State lives in the internal topic __consumer_offsets, in Kafka's own
// record formats (kmsg OffsetCommitKey/Value, GroupMetadataKey/Value), as
// uncompressed v2 record batches with CRC32C:
//
//	key:   OffsetCommitKey   v1 {group, topic, partition}
//	value: OffsetCommitValue v3 {offset, leader epoch, metadata, commit time}
//	key:   GroupMetadataKey  v2 {group}
//	value: GroupMetadataValue v3 {protocol type, generation, protocol,
//	       leader, state time, members with subscriptions and assignments}
//
// A nil value is a tombstone: the offset or the group is gone. Offsets
// committed inside a transaction (TxnOffsetCommit) are OffsetCommit records
// in a transactional batch carrying the producer's id and epoch; they stay
// pending (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT under
// require_stable) until a control batch (transaction marker) of the same
// producer follows: commit makes them the group's offsets unless a record
// written after them is newer, abort drops them (txn_offsets.go). The
// cleaner keeps transactional batches and markers whole. A Coordinator
// owns one partition of the topic (the broker runs one per partition it
// leads; a group lives in partition abs(hash(id)) % N); group commit
// shares the fsyncs of concurrent commits. An offset commit is acknowledged, and
// becomes visible to OffsetFetch, only after its batch is durable. Group
// metadata is written when a generation becomes Stable, when a group empties
// and when a static member is replaced; it is synced in the background,
// because losing it costs only a rebalance. At start-up the whole partition
// is replayed (Load); the last record for each key wins. Groups restored
// with members are Stable and their members get a full session timeout to
// heartbeat again.
//
// The topic is compacted (cleanup.policy=compact), so replay reads about one
// record per live key; expired offsets and deleted groups are tombstones,
// which compaction drops after delete.retention.ms.
//
// # Consumer groups (KIP-848)
//
// A group is either classic (JoinGroup/SyncGroup, client-side assignment)
// or of type "consumer": the next-generation protocol of KIP-848, where
// members only send ConsumerGroupHeartbeat and the coordinator assigns
// partitions (consumer848*.go). The state hangs off group.consumer; the
// classic fields of such a group stay Empty. An empty group of either kind
// turns into the other on the first join of the other protocol; while it
// has members a JoinGroup gets INCONSISTENT_GROUP_PROTOCOL and a
// ConsumerGroupHeartbeat GROUP_ID_NOT_FOUND, as in Kafka.
//
// Epochs: the group epoch goes up whenever members, subscriptions or the
// subscribed topics (created, deleted, grown; checked on each heartbeat
// against Options.Topics) change, and the target assignment is recomputed
// at once by the chosen assignor ("uniform": even and sticky, the default;
// "range": per topic, contiguous, by member id), so the assignment epoch
// always equals the group epoch. Each member reconciles towards its target
// on its own heartbeats: partitions no longer in its target are revoked
// first (it keeps its member epoch while revoking); once a full heartbeat
// no longer lists them they are released, and the member moves to the
// assignment epoch with those target partitions no other member owns; the
// rest follow as their owners release them. Ownership (assigned plus
// revoking) is therefore never shared, and ConsumerGroupDescribe reports
// exactly it. A member that does not release within its rebalance timeout,
// or does not heartbeat within group.consumer.session.timeout.ms, is
// removed and its partitions freed. Static members (instance id) leaving
// with epoch -2 keep their assignment until their session ends or their
// instance rejoins under a new member id.
//
// OffsetCommit and TxnOffsetCommit take the member epoch as generation: a
// newer one is FENCED_MEMBER_EPOCH, an older one STALE_MEMBER_EPOCH
// (ILLEGAL_GENERATION for TxnOffsetCommit, as Kafka answers it) unless
// every committed partition is still the member's and was given to it at
// or before that epoch (KIP-1251's relaxation, which franz-go relies on).
//
// A subscription regex (RE2, matching whole names) is resolved against
// every topic, internal ones included, as Kafka 4 does.
//
// Membership is kept in memory only. After a restart members heartbeat
// into an unknown group, get UNKNOWN_MEMBER_ID and join again at epoch 0;
// committed offsets persist as for classic groups. When a consumer group
// empties its metadata record (protocol type "consumer", no members) is
// written so offset expiry counts from then; after a restart such an empty
// group is listed as classic until a member joins.
//
// # Expiry
//
// Offsets of a group that has been Empty for longer than the retention
// (offsets.retention.minutes, 7 days by default) are removed and tombstoned,
// checked every RetentionCheckInterval; offsets committed by a group that
// never had members (simple consumers) expire retention after their commit.
package group
