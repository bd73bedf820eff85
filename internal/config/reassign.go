package config

import (
	"flag"
	"fmt"
	"time"
)

// ReassignConfig is how replicas move and leadership returns to the
// preferred replicas in a cluster.
type ReassignConfig struct {
	// ReplicationThrottle limits, in bytes per second, what a partition
	// leader serves to the replicas a reassignment adds (all partitions
	// of the broker together); 0 is no limit. Followers in the replica
	// set before the move are never throttled.
	ReplicationThrottle int64
	// AutoLeaderRebalance makes the active controller move leadership
	// back to each partition's preferred replica (Replicas[0]) when it is
	// in sync (auto.leader.rebalance.enable).
	AutoLeaderRebalance bool
	// LeaderImbalanceCheckInterval is how often it looks
	// (leader.imbalance.check.interval.seconds).
	LeaderImbalanceCheckInterval time.Duration
	// LeaderImbalancePerBrokerPct is the share of a broker's preferred
	// partitions that may be led elsewhere before it acts
	// (leader.imbalance.per.broker.percentage).
	LeaderImbalancePerBrokerPct int
}

func defaultReassign() ReassignConfig {
	return ReassignConfig{AutoLeaderRebalance: true, LeaderImbalanceCheckInterval: 30 * time.Second, LeaderImbalancePerBrokerPct: 10}
}

func (c *Config) validateReassign() []error {
	var errs []error
	r := c.Reassign
	if r.ReplicationThrottle < 0 {
		errs = append(errs, fmt.Errorf("replication throttle %d bytes/s must be 0 (off) or positive", r.ReplicationThrottle))
	}
	if r.LeaderImbalanceCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("leader imbalance check interval %v must be positive", r.LeaderImbalanceCheckInterval))
	}
	if r.LeaderImbalancePerBrokerPct < 0 || r.LeaderImbalancePerBrokerPct > 100 {
		errs = append(errs, fmt.Errorf("leader imbalance per broker percentage %d must be between 0 and 100", r.LeaderImbalancePerBrokerPct))
	}
	return errs
}

func (c *Config) reassignFlags(fs *flag.FlagSet) {
	r := &c.Reassign
	fs.Int64Var(&r.ReplicationThrottle, "replication-throttle", r.ReplicationThrottle, "bytes/s a partition leader serves to replicas a reassignment adds, all partitions together; 0 is no limit (leader.replication.throttled.rate; env FERRY_REPLICATION_THROTTLE)")
	fs.BoolVar(&r.AutoLeaderRebalance, "auto-leader-rebalance", r.AutoLeaderRebalance, "in a cluster, move leadership back to each partition's preferred replica when it is in sync (auto.leader.rebalance.enable; env FERRY_AUTO_LEADER_REBALANCE)")
	fs.DurationVar(&r.LeaderImbalanceCheckInterval, "leader-imbalance-check-interval", r.LeaderImbalanceCheckInterval, "how often the active controller checks for leaders that are not the preferred replica (leader.imbalance.check.interval.seconds; env FERRY_LEADER_IMBALANCE_CHECK_INTERVAL)")
	fs.IntVar(&r.LeaderImbalancePerBrokerPct, "leader-imbalance-per-broker-percentage", r.LeaderImbalancePerBrokerPct, "share of a broker's preferred partitions that may be led elsewhere before leadership moves back (leader.imbalance.per.broker.percentage; env FERRY_LEADER_IMBALANCE_PER_BROKER_PERCENTAGE)")
}
