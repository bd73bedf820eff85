package config

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// RocketMQConfig is the RocketMQ remoting listener (internal/rocketmq):
// one port serving the NameServer and broker roles.
type RocketMQConfig struct {
	// Addr is the host:port the RocketMQ listener binds; empty turns it
	// off.
	Addr string
	// AdvertisedAddr is the host:port put in routes; empty means Addr
	// (with its real port if Addr asked for port 0). On a cluster every
	// node must keep the same distance between its Kafka and RocketMQ
	// advertised ports: routes name a peer by its Kafka advertised host
	// and that port plus the distance (internal/rocketmq/doc.go).
	AdvertisedAddr string
	// TxnCheckInterval is how long a half (transactional) message waits
	// for END_TRANSACTION before the broker asks its producer group
	// (CHECK_TRANSACTION_STATE), and then between two asks.
	TxnCheckInterval time.Duration
	// TxnCheckMax is how many asks a half message gets; after the last
	// one goes unanswered it is rolled back (and logged). Zero values of
	// these two mean the defaults below.
	TxnCheckMax int
	// MessageIndex turns on the index by key and message id behind
	// QUERY_MESSAGE and `ferry message find` (every local partition is
	// tailed and its keyed records indexed, off the produce path).
	MessageIndex bool

	// QueueLockTTL is how long an orderly consumer's queue lock
	// (LOCK_BATCH_MQ) lives without renewal; 0 means
	// DefaultQueueLockTTL. RocketMQ's rebalance lock max live time.
	QueueLockTTL time.Duration
}

// DefaultQueueLockTTL is RocketMQ's default rebalance lock lifetime.
const DefaultQueueLockTTL = 60 * time.Second

// Defaults of the RocketMQ front's settings, as RocketMQ's broker has them.
const (
	DefaultTxnCheckInterval = time.Minute
	DefaultTxnCheckMax      = 15
)

func (r *RocketMQConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.Addr, "rocketmq-addr", r.Addr, "RocketMQ remoting listen address (NameServer and broker on one port), e.g. 127.0.0.1:9876; empty turns it off (env FERRY_ROCKETMQ_ADDR)")
	fs.DurationVar(&r.TxnCheckInterval, "rocketmq-txn-check-interval", r.TxnCheckInterval, "how long an unresolved RocketMQ transactional (half) message waits before, and between, check-backs to its producer group (env FERRY_ROCKETMQ_TXN_CHECK_INTERVAL)")
	fs.IntVar(&r.TxnCheckMax, "rocketmq-txn-check-max", r.TxnCheckMax, "check-backs of a half message before it is rolled back (env FERRY_ROCKETMQ_TXN_CHECK_MAX)")
	fs.BoolVar(&r.MessageIndex, "rocketmq-message-index", r.MessageIndex, "index records by key and message id for QUERY_MESSAGE and `ferry message find` (env FERRY_ROCKETMQ_MESSAGE_INDEX)")
	fs.StringVar(&r.AdvertisedAddr, "rocketmq-advertised-addr", r.AdvertisedAddr, "address RocketMQ clients are given in routes; default the RocketMQ listen address (env FERRY_ROCKETMQ_ADVERTISED_ADDR)")
	if r.QueueLockTTL == 0 {
		r.QueueLockTTL = DefaultQueueLockTTL
	}
	fs.DurationVar(&r.QueueLockTTL, "rocketmq-queue-lock-ttl", r.QueueLockTTL, "how long an orderly consumer's queue lock lives without renewal; a queue whose consumer left its group unlocked is free after it (env FERRY_ROCKETMQ_QUEUE_LOCK_TTL)")
}

// validateRocketMQ checks the RocketMQ listener against the rest: it has
// no authentication yet, so it may not run beside Kafka listeners that
// require one (it would be a way around their ACLs).
func (c Config) validateRocketMQ() []error {
	errs := c.RocketMQ.validate()
	if c.RocketMQ.Addr != "" && c.AuthorizationEnforced() {
		errs = append(errs, errors.New("--rocketmq-addr cannot be used with ACLs, SASL or client certificates on the Kafka listeners: the RocketMQ listener has no authentication yet and would let any client around them"))
	}
	return errs
}

func (r RocketMQConfig) validate() []error {
	var errs []error
	if r.Addr != "" {
		if err := checkHostPort(r.Addr); err != nil {
			errs = append(errs, fmt.Errorf("rocketmq addr %q %v: use --rocketmq-addr host:port, such as 127.0.0.1:9876", r.Addr, err))
		}
	}
	if r.AdvertisedAddr != "" {
		if err := checkHostPort(r.AdvertisedAddr); err != nil {
			errs = append(errs, fmt.Errorf("rocketmq advertised addr %q %v: use --rocketmq-advertised-addr host:port", r.AdvertisedAddr, err))
		}
		if r.Addr == "" {
			errs = append(errs, errors.New("--rocketmq-advertised-addr needs --rocketmq-addr"))
		}
	}
	if r.QueueLockTTL < 0 {
		errs = append(errs, fmt.Errorf("rocketmq queue lock ttl %v is negative: use --rocketmq-queue-lock-ttl with a positive duration such as 60s", r.QueueLockTTL))
	}
	if r.TxnCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("--rocketmq-txn-check-interval %v is not valid: use a positive duration such as 60s", r.TxnCheckInterval))
	}
	if r.TxnCheckMax < 0 {
		errs = append(errs, fmt.Errorf("--rocketmq-txn-check-max %d is not valid: use 1 or more", r.TxnCheckMax))
	}
	return errs
}
