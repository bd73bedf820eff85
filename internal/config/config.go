// Package config holds the broker's configuration: one documented struct,
// its defaults, cross-field validation, and the mapping from flags and
// environment variables onto it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
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
	// AutoCreateTopics creates unknown topics on Metadata and Produce, as
	// Kafka's auto.create.topics.enable does.
	AutoCreateTopics bool
	// NumPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that leave it to the broker.
	NumPartitions int32
	// MaxRequestBytes bounds one request frame (socket.request.max.bytes).
	MaxRequestBytes int32
	// TopicDefaults are the broker-wide defaults of topic configs, keyed
	// by Kafka's topic config names (see topic.go).
	TopicDefaults map[string]string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// Default returns the configuration a user gets without flags.
func Default() Config {
	return Config{
		DataDir:          "./data",
		KafkaAddr:        "127.0.0.1:9092",
		NodeID:           0,
		AutoCreateTopics: true,
		NumPartitions:    1,
		MaxRequestBytes:  100 << 20,
		TopicDefaults:    map[string]string{},
		LogLevel:         "info",
	}
}

// Validate checks fields together and says how to fix what is wrong.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is empty: pass --data-dir DIR"))
	}
	if _, _, err := net.SplitHostPort(c.KafkaAddr); err != nil {
		errs = append(errs, fmt.Errorf("kafka addr %q is not host:port: %v", c.KafkaAddr, err))
	}
	if c.AdvertisedAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertisedAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertised addr %q is not host:port: %v", c.AdvertisedAddr, err))
		}
	}
	if c.NumPartitions < 1 {
		errs = append(errs, fmt.Errorf("num partitions %d must be at least 1", c.NumPartitions))
	}
	if c.MaxRequestBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("max request bytes %d must be at least 1 MiB", c.MaxRequestBytes))
	}
	if _, err := ParseTopicConfigs(c.TopicDefaults, nil); err != nil {
		errs = append(errs, fmt.Errorf("topic default: %w", err))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// Flags registers every field on fs, with FERRY_* environment variables
// as the defaults so that flags win over the environment.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", env("FERRY_DATA_DIR", c.DataDir), "directory for all data (env FERRY_DATA_DIR)")
	fs.StringVar(&c.KafkaAddr, "kafka-addr", env("FERRY_KAFKA_ADDR", c.KafkaAddr), "Kafka protocol listen address (env FERRY_KAFKA_ADDR)")
	fs.StringVar(&c.AdvertisedAddr, "advertised-addr", env("FERRY_ADVERTISED_ADDR", c.AdvertisedAddr), "address given to clients; default the listen address (env FERRY_ADVERTISED_ADDR)")
	fs.Var(int32Value{&c.NodeID}, "node-id", "broker node id (env FERRY_NODE_ID)")
	envInt32("FERRY_NODE_ID", &c.NodeID)
	fs.BoolVar(&c.AutoCreateTopics, "auto-create-topics", envBool("FERRY_AUTO_CREATE_TOPICS", c.AutoCreateTopics), "create unknown topics on metadata and produce (env FERRY_AUTO_CREATE_TOPICS)")
	envInt32("FERRY_NUM_PARTITIONS", &c.NumPartitions)
	fs.Var(int32Value{&c.NumPartitions}, "num-partitions", "partitions of auto-created topics (env FERRY_NUM_PARTITIONS)")
	envInt32("FERRY_MAX_REQUEST_BYTES", &c.MaxRequestBytes)
	fs.Var(int32Value{&c.MaxRequestBytes}, "max-request-bytes", "largest request frame accepted (env FERRY_MAX_REQUEST_BYTES)")
	fs.StringVar(&c.LogLevel, "log-level", env("FERRY_LOG_LEVEL", c.LogLevel), "debug, info, warn or error (env FERRY_LOG_LEVEL)")
	if v := os.Getenv("FERRY_TOPIC_DEFAULTS"); v != "" {
		_ = topicDefaultsValue{c.TopicDefaults}.Set(v)
	}
	fs.Var(topicDefaultsValue{c.TopicDefaults}, "topic-default", "broker default of a topic config, key=value, repeatable, e.g. flush.policy=os (env FERRY_TOPIC_DEFAULTS, comma-separated)")
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	if v, ok := os.LookupEnv(key); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func envInt32(key string, dst *int32) {
	if v, ok := os.LookupEnv(key); ok {
		if n, err := strconv.ParseInt(v, 10, 32); err == nil {
			*dst = int32(n)
		}
	}
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
	for _, kv := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value", kv)
		}
		v.m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return nil
}
