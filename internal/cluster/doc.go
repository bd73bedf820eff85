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
// One TCP port (--controller-addr) carries both Raft's own RPCs and the
// forwarded proposals: the first byte of each connection says which
// (connRaft or connForward, see mux.go). A forwarded proposal is one JSON
// request and one JSON reply on its own connection.
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
