// Package config holds the broker's configuration: one documented struct,
// its defaults, cross-field validation, and the mapping from flags and
// environment variables onto it.
package config

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/metrics"
	"github.com/ferry-mq/ferry/internal/vfs"
)

// Config is everything `ferry serve` can be told.
type Config struct {
	// DataDir holds the metadata log and one directory per partition.
	DataDir string
	// KafkaAddr is the host:port the Kafka protocol listener binds.
	KafkaAddr string
	// AdvertisedAddr is the host:port given to clients in Metadata
	// responses; empty means KafkaAddr (with its real port if KafkaAddr
	// asked for port 0).
	AdvertisedAddr string
	// NodeID is this broker's id in Metadata responses.
	NodeID int32
	// ControllerQuorum lists the controller quorum's voters as
	// id@host:port, comma-separated; empty runs a cluster of one with
	// the metadata log in a local file, as before clustering.
	ControllerQuorum string
	// ControllerAddr is the host:port the controller listener binds (Raft
	// and forwarded metadata proposals); empty means this node's address
	// in ControllerQuorum.
	ControllerAddr string
	// BrokerHeartbeatInterval is how often a cluster node's broker
	// heartbeats the active controller; BrokerSessionTimeout is how long
	// the controller waits for a heartbeat before it fences the broker and
	// moves the leadership of its partitions. The defaults (200ms, 1.5s)
	// fail a dead broker's partitions over in under 2 s on a LAN.
	BrokerHeartbeatInterval, BrokerSessionTimeout time.Duration
	// DefaultReplicationFactor is the replication factor of auto-created
	// topics and of CreateTopics requests that leave it to the broker;
	// 0 means min(3, live brokers). Internal topics keep 1 for now.
	DefaultReplicationFactor int32
	// AutoCreateTopics creates unknown topics on Metadata and Produce, as
	// Kafka's auto.create.topics.enable does.
	AutoCreateTopics bool
	// NumPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that leave it to the broker.
	NumPartitions int32
	// MaxRequestBytes bounds one request frame (socket.request.max.bytes).
	MaxRequestBytes int32
	// MaxPartitions bounds the partitions of all topics together; each
	// holds open files.
	MaxPartitions int32

	// Connection and request memory limits: what one client, or many, can
	// make the broker hold.
	//
	// MaxConnections bounds open client connections broker-wide
	// (max.connections); MaxConnectionsPerIP bounds those from one client
	// address, 0 for no limit of its own (max.connections.per.ip).
	// Connections over a limit are closed at once.
	MaxConnections, MaxConnectionsPerIP int
	// QueuedMaxRequestBytes bounds the bytes of all requests read but not
	// yet handled, broker-wide (queued.max.request.bytes). A connection
	// waits for room before it reads more, and a request larger than the
	// whole budget is refused. Request memory stays under twice this: one
	// request caught half-read when the budget ran out may finish over it.
	QueuedMaxRequestBytes int64
	// ConnectionsMaxIdle closes a connection that sends nothing for this
	// long while none of its requests is in flight, or whose replies go
	// unread for this long (connections.max.idle.ms).
	ConnectionsMaxIdle time.Duration
	// RequestReadTimeout closes a connection whose request is not complete
	// this long after its size arrived, so a stalled sender holds its
	// bytes of the budget only briefly (time spent waiting for the budget
	// does not count).
	RequestReadTimeout time.Duration
	// TopicDefaults are the broker-wide defaults of topic configs, keyed
	// by Kafka's topic config names (see topic.go).
	TopicDefaults map[string]string
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// SlowRequest logs a request at WARN when it takes longer than this,
	// from its last byte read to its response written (a Fetch's wait for
	// data not counted); 0 turns the log off.
	SlowRequest time.Duration

	// HTTPAddr is the host:port of the HTTP listener (/metrics, /healthz,
	// /readyz, the console); empty turns it, and metrics, off. Default
	// leaves it empty so that brokers started inside tests bind nothing
	// more; `ferry serve` defaults it to DefaultHTTPAddr.
	HTTPAddr string
	// MetricsMaxPartitions bounds the per-partition metric series (and
	// the group lag series): past it they are summed per topic with
	// partition="all", so a broker with many partitions does not flood
	// Prometheus.
	MetricsMaxPartitions int
	// Metrics receives the broker's metrics; nil is metrics.Nop. No flag
	// sets it: server.Start sets it when the HTTP listener is on.
	Metrics metrics.Sink

	// GroupMinSessionTimeout and GroupMaxSessionTimeout bound the session
	// timeout a consumer-group member may ask for
	// (group.min/max.session.timeout.ms).
	GroupMinSessionTimeout, GroupMaxSessionTimeout time.Duration
	// GroupInitialRebalanceDelay holds the first rebalance of an empty
	// group so that members starting together share one generation
	// (group.initial.rebalance.delay.ms).
	GroupInitialRebalanceDelay time.Duration
	// GroupConsumerSessionTimeout removes a KIP-848 consumer group member
	// that has not heartbeated for this long, and
	// GroupConsumerHeartbeatInterval is the interval such members are told
	// to heartbeat at (group.consumer.session.timeout.ms and
	// group.consumer.heartbeat.interval.ms).
	GroupConsumerSessionTimeout, GroupConsumerHeartbeatInterval time.Duration
	// OffsetsRetention is how long the committed offsets of a group
	// without members are kept (offsets.retention.minutes).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is how often expired offsets are
	// looked for (offsets.retention.check.interval.ms).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetsSegmentBytes is the segment size of __consumer_offsets
	// (offsets.topic.segment.bytes); compaction cleans sealed segments
	// only, so smaller segments compact sooner.
	OffsetsSegmentBytes int32
	// OffsetsTopicPartitions is how many partitions __consumer_offsets is
	// created with (offsets.topic.num.partitions). A group's coordinator is
	// the leader of partition abs(hash(group)) % N, so N is fixed once the
	// topic exists: later values are ignored.
	OffsetsTopicPartitions int32
	// TxnTopicPartitions is the same for __transaction_state
	// (transaction.state.log.num.partitions).
	TxnTopicPartitions int32

	// TransactionMaxTimeout caps the transaction timeout a producer may
	// ask for in InitProducerId (transaction.max.timeout.ms).
	TransactionMaxTimeout time.Duration
	// TransactionalIDExpiration forgets a transactional id with no
	// transaction for this long (transactional.id.expiration.ms).
	TransactionalIDExpiration time.Duration
	// ProducerIDExpiration forgets a partition's state of an idempotent
	// producer that has not written to it for this long
	// (producer.id.expiration.ms).
	ProducerIDExpiration time.Duration

	// ReplicaLagTimeMax drops a follower from a partition's ISR when it
	// has not caught up with the leader for this long
	// (replica.lag.time.max.ms).
	ReplicaLagTimeMax time.Duration

	// LogFS is the file system the partition logs use; nil is the OS. No
	// flag sets it: it is the seam through which tests inject disk faults
	// (internal/vfs/errorfs) into a whole broker.
	LogFS vfs.FS
	// Dial opens every connection this node makes to another node: Raft
	// and forwarded proposals on the controller port, replica fetches and
	// inter-broker requests on the Kafka port. nil is a plain TCP dial. No
	// flag sets it: it is the seam through which in-process cluster tests
	// cut, delay or drop the links between two nodes.
	Dial DialFunc

	// Security is TLS and SASL of the Kafka listeners (security.go).
	Security SecurityConfig
	// Balance is the controller's balancer (balance.go).
	Balance BalanceConfig
	// ACL is authorisation and quota configuration (security_acl.go).
	ACL ACLConfig
	// RocketMQ is the RocketMQ remoting listener (rocketmq.go).
	RocketMQ RocketMQConfig
	// Reassign is replica moves and preferred leaders (reassign.go).
	Reassign ReassignConfig
}

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer returns cfg.Dial, or a plain TCP dial when it is nil.
func (cfg Config) Dialer() DialFunc {
	if cfg.Dial != nil {
		return cfg.Dial
	}
	var d net.Dialer
	return d.DialContext
}

// DefaultHTTPAddr is where `ferry serve` serves metrics, health and the
// console unless told otherwise (Redpanda's admin port).
const DefaultHTTPAddr = "127.0.0.1:9644"

// Default returns the configuration a user gets without flags.
func Default() Config {
	return Config{
		DataDir:          "./data",
		KafkaAddr:        "127.0.0.1:9092",
		NodeID:           0,
		AutoCreateTopics: true,
		NumPartitions:    1,
		MaxRequestBytes:  100 << 20,
		MaxPartitions:    50000,
		TopicDefaults:    map[string]string{},
		LogLevel:         "info",
		SlowRequest:      time.Second,

		MetricsMaxPartitions: 2000,

		BrokerHeartbeatInterval: 200 * time.Millisecond,
		BrokerSessionTimeout:    1500 * time.Millisecond,
		Balance:                 DefaultBalance(),

		MaxConnections:        10000,
		MaxConnectionsPerIP:   0,
		QueuedMaxRequestBytes: 100 << 20,
		ConnectionsMaxIdle:    10 * time.Minute,
		RequestReadTimeout:    30 * time.Second,

		GroupMinSessionTimeout:         6 * time.Second,
		GroupMaxSessionTimeout:         30 * time.Minute,
		GroupInitialRebalanceDelay:     3 * time.Second,
		GroupConsumerSessionTimeout:    45 * time.Second,
		GroupConsumerHeartbeatInterval: 5 * time.Second,
		OffsetsRetention:               7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval:  10 * time.Minute,

		TransactionMaxTimeout:     15 * time.Minute,
		TransactionalIDExpiration: 7 * 24 * time.Hour,
		ProducerIDExpiration:      24 * time.Hour,
		ReplicaLagTimeMax:         10 * time.Second,
		OffsetsSegmentBytes:       100 << 20,

		Reassign:               defaultReassign(),
		OffsetsTopicPartitions: 50,
		TxnTopicPartitions:     50,
		RocketMQ:               RocketMQConfig{TxnCheckInterval: DefaultTxnCheckInterval, TxnCheckMax: DefaultTxnCheckMax, MessageIndex: true},
	}
}

// Validate checks fields together and says how to fix what is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty: pass --data-dir DIR"))
	}
	errs = append(errs, c.Security.validate(c.KafkaAddr)...)
	errs = append(errs, c.validateRocketMQ()...)
	errs = append(errs, c.RocketMQ.validate()...)
	errs = append(errs, c.Balance.validate()...)
	if err := checkHostPort(c.KafkaAddr); c.KafkaAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("kafka addr %q %v: use --kafka-addr host:port, such as 127.0.0.1:9092 or 0.0.0.0:9092 for every interface", c.KafkaAddr, err))
	}
	if c.HTTPAddr != "" {
		if err := checkHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("http addr %q %v: use --http-addr host:port, such as %s, or an empty value to turn it off", c.HTTPAddr, err, DefaultHTTPAddr))
		}
	}
	if c.MetricsMaxPartitions < 0 || c.SlowRequest < 0 {
		errs = append(errs, fmt.Errorf("metrics max partitions %d and slow request %v must not be negative", c.MetricsMaxPartitions, c.SlowRequest))
	}
	if c.AdvertisedAddr != "" {
		if err := checkHostPort(c.AdvertisedAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertised addr %q %v: use --advertised-addr host:port, the address clients reach this broker at", c.AdvertisedAddr, err))
		}
	}
	if c.ControllerAddr != "" {
		if err := checkHostPort(c.ControllerAddr); err != nil {
			errs = append(errs, fmt.Errorf("controller addr %q %v: use --controller-addr host:port", c.ControllerAddr, err))
		}
		if c.ControllerQuorum == "" {
			errs = append(errs, errors.New("--controller-addr needs --controller-quorum"))
		}
	}
	if c.ControllerQuorum != "" && c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node id %d must not be negative in a cluster", c.NodeID))
	}
	if c.BrokerHeartbeatInterval <= 0 || c.BrokerSessionTimeout <= c.BrokerHeartbeatInterval {
		errs = append(errs, fmt.Errorf("broker heartbeat interval %v must be positive and below the broker session timeout %v", c.BrokerHeartbeatInterval, c.BrokerSessionTimeout))
	}
	if c.DefaultReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("default replication factor %d must not be negative (0: min(3, live brokers))", c.DefaultReplicationFactor))
	}
	if c.NumPartitions < 1 {
		errs = append(errs, fmt.Errorf("num partitions %d must be at least 1", c.NumPartitions))
	}
	if c.MaxPartitions < 1 {
		errs = append(errs, fmt.Errorf("max partitions %d must be at least 1", c.MaxPartitions))
	}
	if c.MaxRequestBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("max request bytes %d must be at least 1 MiB", c.MaxRequestBytes))
	}
	if c.MaxConnections < 1 || c.MaxConnectionsPerIP < 0 {
		errs = append(errs, fmt.Errorf("max connections %d must be at least 1 and max connections per ip %d not negative (0: no per-address limit)", c.MaxConnections, c.MaxConnectionsPerIP))
	}
	if c.QueuedMaxRequestBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("queued max request bytes %d must be at least 1 MiB", c.QueuedMaxRequestBytes))
	}
	if c.ConnectionsMaxIdle <= 0 || c.RequestReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("connections max idle %v and request read timeout %v must be positive", c.ConnectionsMaxIdle, c.RequestReadTimeout))
	}
	if _, err := ParseTopicConfigs(c.TopicDefaults, nil); err != nil {
		errs = append(errs, fmt.Errorf("topic default: %w", err))
	}
	if c.GroupMinSessionTimeout <= 0 || c.GroupMaxSessionTimeout < c.GroupMinSessionTimeout {
		errs = append(errs, fmt.Errorf("group session timeouts: min %v must be positive and at most max %v", c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout))
	}
	if c.GroupConsumerSessionTimeout <= 0 || c.GroupConsumerHeartbeatInterval <= 0 || c.GroupConsumerHeartbeatInterval >= c.GroupConsumerSessionTimeout {
		errs = append(errs, fmt.Errorf("consumer group heartbeat interval %v must be positive and below the session timeout %v", c.GroupConsumerHeartbeatInterval, c.GroupConsumerSessionTimeout))
	}
	if c.GroupInitialRebalanceDelay < 0 {
		errs = append(errs, fmt.Errorf("group initial rebalance delay %v must not be negative", c.GroupInitialRebalanceDelay))
	}
	if c.OffsetsSegmentBytes < 1024 {
		errs = append(errs, fmt.Errorf("offsets segment bytes %d must be at least 1024", c.OffsetsSegmentBytes))
	}
	if c.OffsetsTopicPartitions < 1 || c.OffsetsTopicPartitions > 1000 || c.TxnTopicPartitions < 1 || c.TxnTopicPartitions > 1000 {
		errs = append(errs, fmt.Errorf("offsets topic partitions %d and txn topic partitions %d must be between 1 and 1000", c.OffsetsTopicPartitions, c.TxnTopicPartitions))
	}
	if c.OffsetsRetention <= 0 || c.OffsetsRetentionCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("offsets retention %v and its check interval %v must be positive", c.OffsetsRetention, c.OffsetsRetentionCheckInterval))
	}
	if c.ReplicaLagTimeMax <= 0 {
		errs = append(errs, fmt.Errorf("replica lag time max %v must be positive", c.ReplicaLagTimeMax))
	}
	if c.TransactionMaxTimeout <= 0 || c.TransactionalIDExpiration <= 0 || c.ProducerIDExpiration <= 0 {
		errs = append(errs, fmt.Errorf("transaction max timeout %v, transactional id expiration %v and producer id expiration %v must be positive", c.TransactionMaxTimeout, c.TransactionalIDExpiration, c.ProducerIDExpiration))
	}
	errs = append(errs, c.validateACL()...)
	errs = append(errs, c.validateReassign()...)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// checkHostPort says what is wrong with a host:port address, if anything.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not host:port (%v)", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has port %q, which is not a number from 0 to 65535", port)
	}
	return nil
}

// Flags registers every field on fs. Call ApplyEnv before fs.Parse so the
// FERRY_* environment sets them and command-line flags win over it.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for all data (env FERRY_DATA_DIR)")
	fs.StringVar(&c.KafkaAddr, "kafka-addr", c.KafkaAddr, "Kafka protocol listen address; \"\" for none, with --kafka-tls-addr (env FERRY_KAFKA_ADDR)")
	fs.StringVar(&c.AdvertisedAddr, "advertised-addr", c.AdvertisedAddr, "address given to clients; default the listen address (env FERRY_ADVERTISED_ADDR)")
	fs.Var(int32Value{&c.NodeID}, "node-id", "broker node id (env FERRY_NODE_ID)")
	fs.StringVar(&c.ControllerQuorum, "controller-quorum", c.ControllerQuorum, "controller quorum voters, `id@host:port,...`; empty runs a single node (env FERRY_CONTROLLER_QUORUM)")
	fs.StringVar(&c.ControllerAddr, "controller-addr", c.ControllerAddr, "controller listen address (Raft); default this node's address in --controller-quorum (env FERRY_CONTROLLER_ADDR)")
	fs.DurationVar(&c.BrokerHeartbeatInterval, "broker-heartbeat-interval", c.BrokerHeartbeatInterval, "in a cluster, how often this broker heartbeats the active controller (env FERRY_BROKER_HEARTBEAT_INTERVAL)")
	fs.DurationVar(&c.BrokerSessionTimeout, "broker-session-timeout", c.BrokerSessionTimeout, "in a cluster, fence a broker not heard from this long and move its partitions' leadership (env FERRY_BROKER_SESSION_TIMEOUT)")
	fs.Var(int32Value{&c.DefaultReplicationFactor}, "default-replication-factor", "replication factor of topics created without one; 0 means min(3, live brokers) (env FERRY_DEFAULT_REPLICATION_FACTOR)")
	fs.BoolVar(&c.AutoCreateTopics, "auto-create-topics", c.AutoCreateTopics, "create unknown topics on metadata and produce (env FERRY_AUTO_CREATE_TOPICS)")
	fs.Var(int32Value{&c.NumPartitions}, "num-partitions", "partitions of auto-created topics (env FERRY_NUM_PARTITIONS)")
	fs.Var(int32Value{&c.MaxPartitions}, "max-partitions", "most partitions of all topics together (env FERRY_MAX_PARTITIONS)")
	fs.Var(int32Value{&c.MaxRequestBytes}, "max-request-bytes", "largest request frame accepted (env FERRY_MAX_REQUEST_BYTES)")
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, "most open client connections; more are closed at once (max.connections; env FERRY_MAX_CONNECTIONS)")
	fs.IntVar(&c.MaxConnectionsPerIP, "max-connections-per-ip", c.MaxConnectionsPerIP, "most open connections from one client address, 0 for no limit of its own (max.connections.per.ip; env FERRY_MAX_CONNECTIONS_PER_IP)")
	fs.Int64Var(&c.QueuedMaxRequestBytes, "queued-max-request-bytes", c.QueuedMaxRequestBytes, "bytes of requests read but not yet handled, all connections together; readers wait for room (queued.max.request.bytes; env FERRY_QUEUED_MAX_REQUEST_BYTES)")
	fs.DurationVar(&c.ConnectionsMaxIdle, "connections-max-idle", c.ConnectionsMaxIdle, "close a connection idle this long (connections.max.idle.ms; env FERRY_CONNECTIONS_MAX_IDLE)")
	fs.DurationVar(&c.RequestReadTimeout, "request-read-timeout", c.RequestReadTimeout, "close a connection whose request is not complete this long after its size arrived (env FERRY_REQUEST_READ_TIMEOUT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error; debug logs every request (env FERRY_LOG_LEVEL)")
	fs.DurationVar(&c.SlowRequest, "slow-request", c.SlowRequest, "log requests slower than this at WARN (Fetch's wait for data not counted); 0 turns it off (env FERRY_SLOW_REQUEST)")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address for /metrics, /healthz, /readyz and the console; empty (--http-addr=) or off turns it and metrics off (env FERRY_HTTP_ADDR)")
	fs.IntVar(&c.MetricsMaxPartitions, "metrics-max-partitions", c.MetricsMaxPartitions, "most per-partition metric series (and group lag series); past it they are summed per topic with partition=\"all\" (env FERRY_METRICS_MAX_PARTITIONS)")
	fs.DurationVar(&c.GroupMinSessionTimeout, "group-min-session-timeout", c.GroupMinSessionTimeout, "shortest session timeout a group member may ask for (group.min.session.timeout.ms; env FERRY_GROUP_MIN_SESSION_TIMEOUT)")
	fs.DurationVar(&c.GroupMaxSessionTimeout, "group-max-session-timeout", c.GroupMaxSessionTimeout, "longest session timeout a group member may ask for (group.max.session.timeout.ms; env FERRY_GROUP_MAX_SESSION_TIMEOUT)")
	fs.DurationVar(&c.GroupInitialRebalanceDelay, "group-initial-rebalance-delay", c.GroupInitialRebalanceDelay, "wait for more members before the first rebalance of an empty group (group.initial.rebalance.delay.ms; env FERRY_GROUP_INITIAL_REBALANCE_DELAY)")
	fs.DurationVar(&c.GroupConsumerSessionTimeout, "group-consumer-session-timeout", c.GroupConsumerSessionTimeout, "remove a KIP-848 consumer group member silent this long (group.consumer.session.timeout.ms; env FERRY_GROUP_CONSUMER_SESSION_TIMEOUT)")
	fs.DurationVar(&c.GroupConsumerHeartbeatInterval, "group-consumer-heartbeat-interval", c.GroupConsumerHeartbeatInterval, "heartbeat interval given to KIP-848 consumer group members (group.consumer.heartbeat.interval.ms; env FERRY_GROUP_CONSUMER_HEARTBEAT_INTERVAL)")
	fs.DurationVar(&c.OffsetsRetention, "offsets-retention", c.OffsetsRetention, "keep committed offsets of a group without members this long (offsets.retention.minutes; env FERRY_OFFSETS_RETENTION)")
	fs.DurationVar(&c.OffsetsRetentionCheckInterval, "offsets-retention-check-interval", c.OffsetsRetentionCheckInterval, "how often expired offsets are removed (offsets.retention.check.interval.ms; env FERRY_OFFSETS_RETENTION_CHECK_INTERVAL)")
	fs.DurationVar(&c.TransactionMaxTimeout, "transaction-max-timeout", c.TransactionMaxTimeout, "longest transaction timeout a producer may ask for (transaction.max.timeout.ms; env FERRY_TRANSACTION_MAX_TIMEOUT)")
	fs.DurationVar(&c.TransactionalIDExpiration, "transactional-id-expiration", c.TransactionalIDExpiration, "forget transactional ids idle this long (transactional.id.expiration.ms; env FERRY_TRANSACTIONAL_ID_EXPIRATION)")
	fs.DurationVar(&c.ReplicaLagTimeMax, "replica-lag-time-max", c.ReplicaLagTimeMax, "drop a follower from a partition's ISR when it has not caught up for this long (replica.lag.time.max.ms; env FERRY_REPLICA_LAG_TIME_MAX)")
	fs.DurationVar(&c.ProducerIDExpiration, "producer-id-expiration", c.ProducerIDExpiration, "forget idempotent producers idle this long on a partition (producer.id.expiration.ms; env FERRY_PRODUCER_ID_EXPIRATION)")
	fs.Var(int32Value{&c.OffsetsSegmentBytes}, "offsets-segment-bytes", "segment size of __consumer_offsets (offsets.topic.segment.bytes; env FERRY_OFFSETS_SEGMENT_BYTES)")
	fs.Var(int32Value{&c.OffsetsTopicPartitions}, "offsets-topic-partitions", "partitions of __consumer_offsets when it is created; fixed afterwards (offsets.topic.num.partitions; env FERRY_OFFSETS_TOPIC_PARTITIONS)")
	fs.Var(int32Value{&c.TxnTopicPartitions}, "txn-topic-partitions", "partitions of __transaction_state when it is created; fixed afterwards (transaction.state.log.num.partitions; env FERRY_TXN_TOPIC_PARTITIONS)")
	c.Security.flags(fs)
	c.Balance.flags(fs)
	fs.Var(topicDefaultsValue{c.TopicDefaults}, "topic-default", "broker default of a topic config, `key=value`, repeatable, e.g. flush.policy=os; a value may hold commas (cleanup.policy=compact,delete): a comma starts a new pair only when key= follows it (env FERRY_TOPIC_DEFAULTS, pairs comma-separated)")
	c.aclFlags(fs)
	c.RocketMQ.flags(fs)
	c.reassignFlags(fs)
}

// EnvName is the environment variable of a flag: FERRY_ and the flag name
// in capitals with '_' for '-' (the repeatable --topic-default reads the
// comma-separated FERRY_TOPIC_DEFAULTS).
func EnvName(flagName string) string {
	if flagName == "topic-default" {
		return "FERRY_TOPIC_DEFAULTS"
	}
	return "FERRY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs whose FERRY_* variable is set and not
// empty, with the flag's own parser, so a bad value is refused with the same
// message a bad flag gets, naming the variable.
func ApplyEnv(fs *flag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "h" || f.Name == "help" {
			return
		}
		name := EnvName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s=%q: %v", name, v, err))
		}
	})
	return errors.Join(errs...)
}

type int32Value struct{ p *int32 }

func (v int32Value) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(int(*v.p))
}

func (v int32Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not a 32-bit integer", s)
	}
	*v.p = int32(n)
	return nil
}

type topicDefaultsValue struct{ m map[string]string }

func (v topicDefaultsValue) String() string { return "" }

func (v topicDefaultsValue) Set(s string) error {
	pairs, err := SplitKeyValues(s)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		k, val, _ := strings.Cut(kv, "=")
		v.m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return nil
}

// configKeyStart matches the start of a "key=value" pair: a config name
// such as retention.ms, then '='.
var configKeyStart = regexp.MustCompile(`^\s*[A-Za-z0-9_.-]+=`)

// SplitKeyValues splits "k1=v1,k2=v2" into its pairs. A comma separates
// two pairs only when what follows it starts with "key=": a list value
// stays whole, so "cleanup.policy=compact,delete,retention.ms=1000" is two
// pairs, cleanup.policy=compact,delete and retention.ms=1000.
func SplitKeyValues(s string) ([]string, error) {
	var pairs []string
	for _, part := range strings.Split(s, ",") {
		if configKeyStart.MatchString(part) {
			pairs = append(pairs, part)
			continue
		}
		if len(pairs) == 0 {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		pairs[len(pairs)-1] += "," + part
	}
	return pairs, nil
}
