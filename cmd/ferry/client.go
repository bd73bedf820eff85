package main

// Shared plumbing for the client-side subcommands (topic, produce, consume,
// bench): the --brokers flag, building franz-go clients, flag helpers and
// error messages that say how to fix the problem.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	defaultBrokers = "127.0.0.1:9092"
	brokersEnv     = "FERRY_BROKERS"

	// pingTimeout bounds the first contact with the cluster so that a wrong
	// address fails in seconds instead of after the client's retry budget.
	pingTimeout = 10 * time.Second
	// adminTimeout bounds each admin request (create, describe, ...).
	adminTimeout = 30 * time.Second
)

// clientFlags are the connection flags every client subcommand shares.
type clientFlags struct {
	brokers string
}

// addClientFlags registers --brokers on fs. Its default comes from
// FERRY_BROKERS, else 127.0.0.1:9092.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{}
	def := os.Getenv(brokersEnv)
	if def == "" {
		def = defaultBrokers
	}
	fs.StringVar(&c.brokers, "brokers", def, "comma-separated broker addresses host:port (env "+brokersEnv+")")
	return c
}

// seeds returns the broker addresses, trimmed and without empty entries.
func (c *clientFlags) seeds() []string {
	var out []string
	for _, s := range strings.Split(c.brokers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// newClient builds a kgo client for the brokers and checks that at least one
// of them answers, so that a wrong address gives one clear error.
func (c *clientFlags) newClient(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := c.seeds()
	if len(seeds) == 0 {
		return nil, errors.New("no broker address given: set --brokers host:port or " + brokersEnv)
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("ferry-cli"),
		kgo.DialTimeout(5 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("invalid client settings: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.unreachable(err)
	}
	return cl, nil
}

// newAdmin builds a kgo client and a kadm client on top of it. Close the
// returned kgo client when done.
func (c *clientFlags) newAdmin(ctx context.Context) (*kadm.Client, *kgo.Client, error) {
	cl, err := c.newClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	return newAdminClient(cl), cl, nil
}

// newAdminClient wraps cl for admin requests; closing cl closes it.
func newAdminClient(cl *kgo.Client) *kadm.Client {
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(adminTimeout / time.Millisecond))
	return adm
}

func (c *clientFlags) unreachable(err error) error {
	return fmt.Errorf("cannot reach broker at %s: %v — is `ferry serve` running? set --brokers or %s", c.brokers, err, brokersEnv)
}

// topicPartitions returns the partition count of topic, or an error telling
// the user to create it.
func topicPartitions(ctx context.Context, adm *kadm.Client, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("cannot read metadata for topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return 0, errNoTopic(topic)
	}
	if td.Err != nil {
		return 0, fmt.Errorf("cannot load topic %q: %w", topic, td.Err)
	}
	return len(td.Partitions), nil
}

func errNoTopic(topic string) error {
	return fmt.Errorf("topic %q does not exist — create it with `ferry topic create %s` (see `ferry topic list`)", topic, topic)
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// writes its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may appear before, between or after
// positional arguments ("topic create NAME --partitions 3") and returns the
// positional ones. Everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// interruptContext is cancelled on Ctrl-C, so long-running commands can stop
// cleanly and still print what they have.
func interruptContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// keyValue is one k=v pair from a repeatable flag.
type keyValue struct{ key, value string }

// keyValueList is a repeatable k=v flag that keeps the order given.
type keyValueList []keyValue

func (l *keyValueList) String() string {
	parts := make([]string, len(*l))
	for i, kv := range *l {
		parts[i] = kv.key + "=" + kv.value
	}
	return strings.Join(parts, ",")
}

func (l *keyValueList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	*l = append(*l, keyValue{k, v})
	return nil
}

// producerOpts maps --acks and --compression to kgo options.
func producerOpts(acks, compression string) ([]kgo.Opt, error) {
	opts, err := parseAcks(acks)
	if err != nil {
		return nil, err
	}
	codec, err := parseCompression(compression)
	if err != nil {
		return nil, err
	}
	return append(opts, kgo.ProducerBatchCompression(codec)), nil
}

// parseAcks maps --acks to kgo options. Acks other than all need the
// idempotent producer off, since idempotence requires acks=all.
func parseAcks(s string) ([]kgo.Opt, error) {
	switch s {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, fmt.Errorf("--acks %q is not valid: use all, 1 or 0", s)
}

// parseCompression maps --compression to a kgo codec.
func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("--compression %q is not valid: use none, gzip, snappy, lz4 or zstd", s)
}

// explain adds a hint to errors whose cause the user can fix.
func explain(err error, topic string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("%w — check the topic and partition with `ferry topic describe %s`", err, topic)
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return fmt.Errorf("%w — the broker refused access; check its ACLs", err)
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return fmt.Errorf("%w — the record is larger than the topic's max.message.bytes", err)
	case errors.Is(err, kerr.NotEnoughReplicas), errors.Is(err, kerr.NotEnoughReplicasAfterAppend):
		return fmt.Errorf("%w — fewer in-sync replicas than min.insync.replicas; check the brokers or use --acks 1", err)
	}
	return err
}
