// Package txn is the transaction coordinator: it hands out producer ids and
// epochs to transactional producers, tracks which partitions and groups each
// transaction touches, and ends transactions by writing commit or abort
// markers to those partitions.
//
// # State machine
//
// One transactional id is in one of Kafka's states (kmsg.TransactionState):
//
//	Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──markers──▶ CompleteCommit
//	  ▲                                   │  └──EndTxn(abort), timeout,──▶ PrepareAbort ──markers──▶ CompleteAbort
//	  └───────────── InitProducerId ◀─────┘        InitProducerId (fence)
//
// Complete* behave like Empty for the next transaction. While a transaction
// is in a Prepare state its markers are being written; requests for it get
// CONCURRENT_TRANSACTIONS and retry. Fencing: every InitProducerId for an
// existing id bumps the epoch (a new producer id when the epoch would
// overflow); requests carrying an older epoch get PRODUCER_FENCED (or
// INVALID_PRODUCER_EPOCH for request versions that predate it), and the
// markers written with the new epoch fence the old producer on every
// partition it wrote to. A transaction open longer than its timeout is
// aborted by Tick with a bumped epoch, so its producer is fenced too.
//
// # Persistence
//
// State lives in the internal topic __transaction_state (a Coordinator owns
// one of its partitions; the broker runs one per partition it leads) as
// Kafka's records: key TxnMetadataKey (version 0, transactional id), value
// TxnMetadataValue (version 0) or null to forget an expired id.
//
// Offsets committed inside a transaction (TxnOffsetCommit) are not kept
// here: as in Kafka the group coordinator holds them pending in
// __consumer_offsets, and AddOffsetsToTxn adds the group's partition of
// __consumer_offsets (Options.OffsetsPartition) to the transaction, so
// that the marker written there at the end makes them visible or drops
// them. Ferry before that kept them here in a record type of its own,
// which Load still reads, so a transaction open across the upgrade keeps
// its offsets (LegacyOffsets commits them):
//
//	key:   int16 version = 100 | string transactional id
//	value: int16 version = 0   | kmsg.TxnOffsetCommitRequest v3 encoding
//
// Every transition is appended and fsynced before it is answered. Load
// replays the topic; a transaction found in a Prepare state is completed
// (markers written again; they are idempotent for readers), an Ongoing one
// keeps its start time, so its timeout still applies.
//
// # Markers and verification
//
// Markers go to each partition's leader (Partitions.WriteMarker; in a
// cluster the broker sends WriteTxnMarkers to leaders elsewhere), all of
// one transaction at once. Before the first transactional append of a
// transaction to a partition, its leader asks Verify (KIP-890) whether the
// partition is in the producer's open transaction, so a produce that
// arrives after its transaction ended cannot open one nobody will end.
//
// Markers are written with Coordinator.mu released; the Prepare state keeps
// other requests for the id away meanwhile. Lock order: whatever
// Partitions or LegacyOffsets take is never held together with
// Coordinator.mu.
package txn
