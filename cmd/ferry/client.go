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
	"math"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	defaultBrokers = "127.0.0.1:9092"
	brokersEnv     = "FERRY_BROKERS"
	defaultTimeout = 30 * time.Second
	timeoutEnv     = "FERRY_TIMEOUT"

	// pingTimeout bounds the first contact with the cluster so that a wrong
	// address fails in seconds instead of after the client's retry budget.
	pingTimeout = 10 * time.Second
)

// clientFlags are the connection flags every client subcommand shares.
type clientFlags struct {
	brokers string
	// timeout bounds every wait for the broker: an admin command (each
	// request of a client command), and the acknowledgement of each
	// produced record, retries included.
	timeout time.Duration
	envErr  error // a bad FERRY_TIMEOUT, reported when a client is built
	// security is TLS and SASL (client_security.go).
	security *securityFlags
}

// addClientFlags registers --brokers and --timeout on fs. Their defaults
// come from FERRY_BROKERS and FERRY_TIMEOUT, else 127.0.0.1:9092 and 30s.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{timeout: defaultTimeout}
	def := os.Getenv(brokersEnv)
	if def == "" {
		def = defaultBrokers
	}
	if v := os.Getenv(timeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			c.envErr = fmt.Errorf("environment %s=%q is not a positive duration such as 30s or 2m", timeoutEnv, v)
		} else {
			c.timeout = d
		}
	}
	fs.StringVar(&c.brokers, "brokers", def, "comma-separated broker addresses host:port (env "+brokersEnv+")")
	c.security = addSecurityFlags(fs)
	fs.DurationVar(&c.timeout, "timeout", c.timeout, "give up waiting for the broker after this long: for an admin command, or for a produced record's acknowledgement, retries included (env "+timeoutEnv+")")
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
	if c.envErr != nil {
		return nil, c.envErr
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("--timeout %v is not valid: use a positive duration such as 30s or 2m", c.timeout)
	}
	seeds := c.seeds()
	if len(seeds) == 0 {
		return nil, errors.New("no broker address given: set --brokers host:port or " + brokersEnv)
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("ferry-cli"),
		kgo.DialTimeout(min(5*time.Second, c.timeout)),
		// Retriable errors (KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER)
		// are retried, but no longer than --timeout.
		kgo.RetryTimeoutFn(c.retryTimeout),
		kgo.RecordDeliveryTimeout(c.timeout),
		// The delivery timeout is checked before each retry, and a
		// produce retry waits for a metadata refresh: refreshes at most
		// 1s apart (franz-go's default is 5s) keep giving up close to
		// --timeout.
		kgo.MetadataMinAge(min(time.Second, c.timeout/4)),
	}
	secOpts, err := c.security.opts()
	if err != nil {
		return nil, err
	}
	base = append(base, secOpts...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("invalid client settings: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, min(pingTimeout, c.timeout))
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if aerr := authFailure(err); aerr != nil {
			return nil, aerr
		}
		return nil, c.unreachable(err)
	}
	return cl, nil
}

// groupSessionTimeout is franz-go's default session timeout, which it also
// allows for retrying group membership requests.
const groupSessionTimeout = 45 * time.Second

// retryTimeout bounds the retries of a request by --timeout, except that
// joining a group and staying in it get at least the session timeout: a
// rebalance can take that long without anything being wrong.
func (c *clientFlags) retryTimeout(key int16) time.Duration {
	switch kmsg.Key(key) {
	case kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.ConsumerGroupHeartbeat:
		return max(c.timeout, groupSessionTimeout)
	}
	return c.timeout
}

// newAdmin builds a kgo client and an admin client on top of it. Close the
// returned kgo client when done.
func (c *clientFlags) newAdmin(ctx context.Context) (admin, *kgo.Client, error) {
	cl, err := c.newClient(ctx)
	if err != nil {
		return admin{}, nil, err
	}
	return c.adminFor(cl), cl, nil
}

// admin is a kadm client that knows the command's --timeout.
type admin struct {
	*kadm.Client
	timeout time.Duration
}

// adminFor wraps cl for admin requests; closing cl closes it.
func (c *clientFlags) adminFor(cl *kgo.Client) admin {
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(min(c.timeout, time.Duration(math.MaxInt32)*time.Millisecond) / time.Millisecond))
	return admin{adm, c.timeout}
}

// requestContext bounds one admin request (or a few that belong together)
// by --timeout.
func (a admin) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

func (c *clientFlags) unreachable(err error) error {
	return fmt.Errorf("cannot reach broker at %s: %v — is `ferry serve` running? set --brokers or %s", c.brokers, err, brokersEnv)
}

// newTopicGrace is how long a broker of a cluster (more than one broker)
// may answer UNKNOWN_TOPIC_OR_PARTITION for a topic that exists: each
// broker applies a new topic a moment after the controller, so a command
// run right after `ferry topic create` can ask one that has not yet. (The
// client's metadata cache answers repeated asks for up to MetadataMinAge,
// so this allows a few real ones.)
const newTopicGrace = 5 * time.Second

// topicPartitions returns the partition count of topic, or an error telling
// the user to create it.
func topicPartitions(ctx context.Context, adm admin, topic string) (int, error) {
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	var td kadm.TopicDetail
	for start := time.Now(); ; {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("cannot read metadata for topic %q: %w", topic, err)
		}
		var ok bool
		td, ok = md.Topics[topic]
		if ok && !errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			break
		}
		if len(md.Brokers) < 2 || time.Since(start) >= newTopicGrace {
			return 0, errNoTopic(topic)
		}
		select {
		case <-ctx.Done():
			return 0, errNoTopic(topic)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if td.Err != nil {
		return 0, fmt.Errorf("cannot load topic %q: %w", topic, td.Err)
	}
	return len(td.Partitions), nil
}

func errNoTopic(topic string) error {
	return fmt.Errorf("topic %q does not exist — create it with `ferry topic create %s` (see `ferry topic list`)", topic, topic)
}

// newFlagSet returns a flag set that reports errors, with its usage, to
// stderr instead of exiting; -h and -help print the usage to stdout (see
// parseArgs).
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	addHelpFlags(fs, stdout)
	return fs
}

// parseArgs parses flags that may appear before, between or after
// positional arguments ("topic create NAME --partitions 3") and returns the
// positional ones. Everything after "--" is positional. For -h or -help it
// prints the usage to stdout and returns flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if showHelp(fs) {
		return nil, flag.ErrHelp
	}
	return pos, nil
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
