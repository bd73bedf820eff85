// Package cluster runs the controller quorum: the metadata log as the log
// of a Raft group (github.com/hashicorp/raft), applied on every node to the
// same meta.Image the single-node file store builds. The Raft leader is the
// active controller.
//
// Store implements meta.Store. Update runs its function on this node's
// newest image and proposes the records; the FSM re-checks them against the
// image every node holds at that point of the log (meta.Image.Apply, all or
// nothing), so a proposal built on a stale image is rejected the same way
// everywhere and Update runs the function again on a newer image. A
// follower forwards its proposal to the leader over the controller port
// rather than answering NOT_CONTROLLER: the broker then needs no retry loop
// of its own and every caller of meta.Store works unchanged on any node.
//
// One TCP port (--controller-addr) carries Raft's own RPCs, forwarded
// proposals and broker heartbeats: the first byte of each connection says
// which (connRaft, connForward or connHeartbeat, see mux.go). A forwarded
// proposal is one JSON request and one JSON reply on its own connection; a
// heartbeat connection stays open and carries one JSON line each way per
// heartbeat (heartbeat.go). Every dial goes through Config.Dial.
//
// Brokers and leases. Each node's broker heartbeats the active controller
// every --broker-heartbeat-interval (default 200ms) with its node id,
// advertised address and an incarnation id drawn at start. The controller
// is the only writer of broker state: it registers a new process,
// unfences a fenced one, and fences a broker it has not heard from for
// --broker-session-timeout (default 1.5s), moving the leadership of its
// partitions in the same entry (the decisions are package controller's).
// Last-heard times live in the controller's memory; a node that becomes
// the controller gives every broker a full session first.
//
// Joining. Before its Raft member starts, a node probes the other voters
// on the heartbeat port: a data dir whose DATA/cluster.id names another
// cluster than theirs is refused, and so is a node id the active
// controller sees held by a live process (a restarted process waits until
// its predecessor's lease runs out). DATA/cluster.id is written, one line
// holding the cluster id, when the node first joins (SaveClusterID).
//
// On disk, under DATA/__raft/:
//
//	raft.db     Raft's log and stable state (raft-boltdb)
//	snapshots/  Raft snapshots; each holds the image as JSON with the index
//	            of the last entry applied to it (see fsm.go), so a restart
//	            replays only the entries after it.
//
// The voters are the nodes of --controller-quorum. Each bootstraps the same
// configuration from that list when it finds no Raft state, which Raft
// allows: the configuration is identical on every node.
package cluster
