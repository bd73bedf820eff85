package broker

import "github.com/twmb/franz-go/pkg/kerr"

// LeaderEpoch is the partition's current leader epoch (0 on a single node,
// which never changes leader), the one clients must name in requests that
// carry a current leader epoch (KIP-320).
func (p *Partition) LeaderEpoch() int32 { return p.log.LeaderEpoch() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the log's leader-epoch
// checkpoint: see log.Log.EndOffsetForEpoch.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return p.log.EndOffsetForEpoch(epoch)
}

// CheckLeaderEpoch compares a request's current leader epoch with the
// partition's, as Kafka does (KIP-320): -1 means the client does not say and
// passes; an older epoch is fenced (FENCED_LEADER_EPOCH: the client's
// metadata is stale), a newer one unknown (UNKNOWN_LEADER_EPOCH: this broker
// has not caught up with the leader change yet). It returns 0 or the code.
func (p *Partition) CheckLeaderEpoch(current int32) int16 {
	local := p.LeaderEpoch()
	switch {
	case current < 0 || current == local:
		return 0
	case current < local:
		return kerr.FencedLeaderEpoch.Code
	default:
		return kerr.UnknownLeaderEpoch.Code
	}
}
