// Package controller holds the active controller's decisions as pure
// functions over a meta.Image: which records a broker's heartbeat needs
// (register, unfence, refuse a duplicate node id), which brokers' leases
// ran out (Leases, with the clock passed in), which records fence a broker
// and move its partitions' leadership, and where new partitions' replicas
// go. Package cluster runs them: it receives heartbeats on the controller
// port, ticks the leases on the Raft leader, and proposes the records.
//
// Rules, as in Kafka's KRaft controller:
//
//   - A fenced broker leads nothing. Each partition it led gets as leader
//     the first replica, in Replicas order, that is in the ISR and not
//     fenced; LeaderEpoch and PartitionEpoch go up by one and the fenced
//     broker leaves the ISR. With no such replica the partition goes
//     offline (Leader -1) and the ISR keeps its last member, the broker
//     that was fenced, so only a replica known to hold every committed
//     record can lead it again; with unclean.leader.election.enable=true
//     any live replica leads instead, alone in the ISR.
//   - A partition the fenced broker only followed loses it from the ISR
//     (PartitionEpoch+1), unless it was the last member.
//   - A heartbeat from a fenced broker unfences it, and each offline
//     partition whose ISR holds it gets it as leader (unclean: each
//     offline partition it is a replica of).
//   - A heartbeat of another incarnation (a restarted process) fences the
//     old one first, so its leadership moves as after a crash; while the
//     old incarnation's lease is live it is refused as a duplicate node id.
//   - A broker that shuts down cleanly is fenced at once (package cluster
//     sends its last heartbeat marked leaving).
//   - A newly elected controller gives every broker a full session before
//     fencing any: last-heard times live in the controller's memory only.
//   - Reassignment (reassign.go, KIP-455): a move adds the target's new
//     replicas first and completes, dropping the old ones, once every new
//     one is in the ISR; the partition leader completes it in the ISR
//     change that brings the last one in, and the active controller
//     completes any left each tick (CompleteReassignments).
//   - Elections on request (elect.go): PREFERRED makes Replicas[0] the
//     leader when it is live and in sync; UNCLEAN gives an offline
//     partition any live replica. The active controller runs the preferred
//     election for brokers whose preferred partitions are led elsewhere
//     beyond a share (RebalanceLeaders, auto.leader.rebalance.enable).
package controller
