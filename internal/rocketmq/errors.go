package rocketmq

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/broker"
)

// responseCode maps a broker error (a wrapped Kafka error) to the RocketMQ
// response code a client acts on the same way: codes the producer retries
// on another queue (SERVICE_NOT_AVAILABLE, SYSTEM_ERROR) for what a retry
// can fix, MESSAGE_ILLEGAL for what it cannot.
func responseCode(err error) int16 {
	switch kerr.ErrorForCode(broker.ErrorCode(err)) {
	case nil:
		return ResSuccess
	case kerr.UnknownTopicOrPartition:
		return ResTopicNotExist
	case kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.NotEnoughReplicas,
		kerr.FencedLeaderEpoch, kerr.BrokerNotAvailable, kerr.ReplicaNotAvailable:
		return ResServiceNotAvailable
	case kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return ResFlushSlaveTimeout
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord, kerr.CorruptMessage,
		kerr.InvalidTimestamp, kerr.InvalidTopicException:
		return ResMessageIllegal
	case kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed:
		return ResNoPermission
	}
	return ResSystemError
}
