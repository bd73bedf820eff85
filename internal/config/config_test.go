package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newFlags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	return fs
}

// TestEnvSetsFlagsAndFlagsWin: FERRY_* variables set the config through
// each flag's parser, and a command-line flag overrides its variable.
func TestEnvSetsFlagsAndFlagsWin(t *testing.T) {
	t.Setenv("FERRY_DATA_DIR", "/tmp/from-env")
	t.Setenv("FERRY_NUM_PARTITIONS", "6")
	t.Setenv("FERRY_GROUP_MIN_SESSION_TIMEOUT", "2s")
	t.Setenv("FERRY_AUTO_CREATE_TOPICS", "false")
	t.Setenv("FERRY_TOPIC_DEFAULTS", "flush.policy=os,retention.ms=1000")
	t.Setenv("FERRY_KAFKA_ADDR", "") // empty: left at the default
	c := Default()
	fs := newFlags(&c)
	if err := ApplyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--num-partitions", "3"}); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/tmp/from-env" || c.NumPartitions != 3 || c.GroupMinSessionTimeout != 2*time.Second || c.AutoCreateTopics || c.KafkaAddr != "127.0.0.1:9092" {
		t.Fatalf("config = %+v", c)
	}
	if c.TopicDefaults["flush.policy"] != "os" || c.TopicDefaults["retention.ms"] != "1000" {
		t.Fatalf("topic defaults = %v", c.TopicDefaults)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestEnvBadValuesAreRefused: a variable that does not parse is an error
// naming the variable, never silently ignored.
func TestEnvBadValuesAreRefused(t *testing.T) {
	for _, kv := range [][2]string{
		{"FERRY_NUM_PARTITIONS", "lots"},
		{"FERRY_AUTO_CREATE_TOPICS", "maybe"},
		{"FERRY_GROUP_MIN_SESSION_TIMEOUT", "6"},
		{"FERRY_TOPIC_DEFAULTS", "flush.policy"},
	} {
		t.Run(kv[0], func(t *testing.T) {
			t.Setenv(kv[0], kv[1])
			c := Default()
			err := ApplyEnv(newFlags(&c))
			if err == nil || !strings.Contains(err.Error(), kv[0]) {
				t.Fatalf("%s=%q: err = %v, want an error naming the variable", kv[0], kv[1], err)
			}
		})
	}
}

func TestValidateRefusesBadValues(t *testing.T) {
	c := Default()
	c.NumPartitions = 0
	c.KafkaAddr = "nohost"
	c.LogLevel = "loud"
	c.TopicDefaults["flush.policy"] = "sometimes"
	err := c.Validate()
	for _, want := range []string{"num partitions", "nohost", "loud", "flush.policy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// TestConnectionLimitsConfig: the connection and request-memory limits
// read their FERRY_* variables and refuse values that would disable them.
func TestConnectionLimitsConfig(t *testing.T) {
	t.Setenv("FERRY_MAX_CONNECTIONS", "500")
	t.Setenv("FERRY_MAX_CONNECTIONS_PER_IP", "50")
	t.Setenv("FERRY_QUEUED_MAX_REQUEST_BYTES", "268435456")
	t.Setenv("FERRY_CONNECTIONS_MAX_IDLE", "2m")
	t.Setenv("FERRY_REQUEST_READ_TIMEOUT", "5s")
	c := Default()
	if err := ApplyEnv(newFlags(&c)); err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 500 || c.MaxConnectionsPerIP != 50 || c.QueuedMaxRequestBytes != 256<<20 || c.ConnectionsMaxIdle != 2*time.Minute || c.RequestReadTimeout != 5*time.Second {
		t.Fatalf("config = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.MaxConnections = 0
	c.QueuedMaxRequestBytes = 1000
	c.ConnectionsMaxIdle = 0
	err := c.Validate()
	for _, want := range []string{"max connections 0", "queued max request bytes 1000", "connections max idle 0s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

// TestTopicDefaultListValuesStayWhole: a list value such as
// cleanup.policy=compact,delete is not split at its comma, from a repeated
// flag or from the comma-separated variable.
func TestTopicDefaultListValuesStayWhole(t *testing.T) {
	c := Default()
	fs := newFlags(&c)
	if err := fs.Parse([]string{"--topic-default", "cleanup.policy=compact,delete", "--topic-default", "retention.ms=1000"}); err != nil {
		t.Fatal(err)
	}
	if c.TopicDefaults["cleanup.policy"] != "compact,delete" || c.TopicDefaults["retention.ms"] != "1000" {
		t.Fatalf("topic defaults from flags = %v", c.TopicDefaults)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	t.Setenv("FERRY_TOPIC_DEFAULTS", "cleanup.policy=delete, compact,flush.policy=os")
	c = Default()
	if err := ApplyEnv(newFlags(&c)); err != nil {
		t.Fatal(err)
	}
	if len(c.TopicDefaults) != 2 || c.TopicDefaults["cleanup.policy"] != "delete, compact" || c.TopicDefaults["flush.policy"] != "os" {
		t.Fatalf("topic defaults from the environment = %v", c.TopicDefaults)
	}

	for _, bad := range []string{"compact,delete", "", "=x"} {
		if _, err := SplitKeyValues(bad); err == nil {
			t.Errorf("SplitKeyValues(%q) accepted", bad)
		}
	}
}

// TestUnknownEnvIsReported: a misspelled FERRY_* variable is reported with
// the name it most likely meant; known ones and other variables are not.
func TestUnknownEnvIsReported(t *testing.T) {
	c := Default()
	fs := newFlags(&c)
	got := UnknownEnv(fs, []string{
		"FERRY_DATA_DIR=/x",        // known
		"FERRY_DATADIR=/x",         // misspelled
		"FERRY_KAFKA_ADR=:9092",    // misspelled
		"FERRY_BROKERS=b:9092",     // read by the CLI
		"FERRY_SOMETHING_ELSE=1",   // nothing close
		"PATH=/bin",                // not ours
		"FERRY_TOPIC_DEFAULTS=a=b", // known (the repeatable flag's variable)
	}, "FERRY_BROKERS")
	want := []UnknownVar{
		{"FERRY_DATADIR", "FERRY_DATA_DIR"},
		{"FERRY_KAFKA_ADR", "FERRY_KAFKA_ADDR"},
		{"FERRY_SOMETHING_ELSE", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("UnknownEnv = %v, want %v", got, want)
	}
}

func TestSecurityValidate(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		change func(*Config)
		want   string
	}{
		"no listener":      {func(c *Config) { c.KafkaAddr = "" }, "no Kafka listener"},
		"tls without cert": {func(c *Config) { c.Security.TLSAddr = "127.0.0.1:0" }, "needs --tls-cert"},
		"cert without tls": {func(c *Config) { c.Security.TLSCert = f }, "need --kafka-tls-addr"},
		"bad mechanism":    {func(c *Config) { c.Security.SASLMechanisms = []string{"GSSAPI"} }, `SASL mechanism "GSSAPI"`},
		"bad bootstrap":    {func(c *Config) { c.Security.BootstrapUser = "admin" }, "NAME:PASSWORD"},
		"plain alone":      {func(c *Config) { c.Security.SASLMechanisms = []string{"PLAIN"} }, "PLAIN alone"},
		"missing file": {func(c *Config) {
			c.Security.TLSAddr, c.Security.TLSCert, c.Security.TLSKey = "127.0.0.1:0", f, filepath.Join(dir, "nope")
		}, "TLS file"},
	} {
		cfg := Default()
		c.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	cfg := Default()
	cfg.KafkaAddr = ""
	cfg.Security = SecurityConfig{TLSAddr: "127.0.0.1:0", TLSCert: f, TLSKey: f, SASLMechanisms: []string{"PLAIN"}, BootstrapUser: "a:b"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("TLS only with PLAIN: %v", err)
	}
}

// TestRocketMQValidate: a bad --rocketmq-addr, an advertised address
// without a listener, and the unauthenticated RocketMQ listener beside
// Kafka listeners with ACLs are refused.
func TestRocketMQValidate(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"bad addr":              func(c *Config) { c.RocketMQ.Addr = "nohost" },
		"advertised alone":      func(c *Config) { c.RocketMQ.AdvertisedAddr = "127.0.0.1:9876" },
		"beside the authorizer": func(c *Config) { c.RocketMQ.Addr = "127.0.0.1:9876"; c.ACL.Authorizer = true },
	} {
		c := Default()
		c.DataDir = t.TempDir()
		edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "rocketmq") {
			t.Errorf("%s: %v, want an error about rocketmq", name, err)
		}
	}
	c := Default()
	c.DataDir = t.TempDir()
	c.RocketMQ.Addr = "127.0.0.1:9876"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
