// Command rmqclient runs a real rocketmq-client-go consumer against a
// RocketMQ name server and prints what it receives as JSON lines on
// stdout, for tests in other processes.
//
// Why a separate process: rocketmq-client-go has data races of its own in
// its orderly push consumer and its pull consumer, so tests run with
// -race (as CI runs them) cannot use those in-process. test/integration
// builds this program without -race and drives it as a child process.
//
// Modes:
//
//	rmqclient -mode orderly -ns ADDR -group G -topic T [-tags EXPR]
//	    An orderly push consumer (clustering) of group G. Prints one
//	    {"queue","offset","body","tags","keys"} line per message in the
//	    order its callback gets them, and runs until SIGTERM or SIGINT,
//	    then shuts the consumer down (which unlocks its queues and leaves
//	    the group) and exits 0.
//	rmqclient -mode pull -ns ADDR -group G -topic T [-tags EXPR]
//	    A pull consumer subscribed with the tag expression. Reads every
//	    queue of T's route from offset 0 up to the queue's max offset:
//	    one line per message, then one {"queue","status","next","max"}
//	    line per queue, then {"done":true}, and exits 0. A queue with no
//	    messages costs one long poll (the broker holds the pull until its
//	    suspend timeout).
//
// Any failure is written to stderr and exits 1. The client library's own
// log goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// line is one line of output: a message, or (pull mode) a queue's end.
type line struct {
	Queue  int    `json:"queue"`
	Offset int64  `json:"offset,omitempty"`
	Body   string `json:"body,omitempty"`
	Tags   string `json:"tags,omitempty"`
	Keys   string `json:"keys,omitempty"`
	Status string `json:"status,omitempty"`
	Next   int64  `json:"next,omitempty"`
	Max    int64  `json:"max,omitempty"`
	Done   bool   `json:"done,omitempty"`
}

// out writes lines to stdout one at a time (callbacks of different
// queues run concurrently).
type out struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (o *out) write(l line) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.enc.Encode(l); err != nil {
		fail(err)
	}
}

func (o *out) message(m *primitive.MessageExt) {
	o.write(line{Queue: m.Queue.QueueId, Offset: m.QueueOffset, Body: string(m.Body), Tags: m.GetTags(), Keys: m.GetKeys()})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rmqclient:", err)
	os.Exit(1)
}

func main() {
	mode := flag.String("mode", "", "orderly or pull")
	ns := flag.String("ns", "", "name server address host:port")
	group := flag.String("group", "", "consumer group")
	topic := flag.String("topic", "", "topic")
	tags := flag.String("tags", "*", "tag expression of the subscription")
	instance := flag.String("instance", fmt.Sprintf("rmqclient-%d", os.Getpid()), "client instance name")
	lockInterval := flag.Duration("lock-interval", 20*time.Second, "orderly: how often the consumer renews its queue locks")
	flag.Parse()
	if *ns == "" || *group == "" || *topic == "" {
		fail(errors.New("-ns, -group and -topic are required"))
	}
	rlog.SetLogLevel("warn")
	o := &out{enc: json.NewEncoder(os.Stdout)}
	common := []consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver([]string{*ns})),
		consumer.WithGroupName(*group),
		consumer.WithInstance(*instance),
	}
	selector := consumer.MessageSelector{Type: consumer.TAG, Expression: *tags}
	var err error
	switch *mode {
	case "orderly":
		err = runOrderly(o, *topic, selector, append(common, consumer.WithConsumerOrder(true),
			consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset), consumer.WithRebalanceLockInterval(*lockInterval)))
	case "pull":
		err = runPull(o, *topic, selector, common)
	default:
		err = fmt.Errorf("unknown -mode %q: use orderly or pull", *mode)
	}
	if err != nil {
		fail(err)
	}
}

// runOrderly consumes until SIGTERM or SIGINT.
func runOrderly(o *out, topic string, selector consumer.MessageSelector, opts []consumer.Option) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	c, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, selector, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			o.message(m)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	<-stop
	return c.Shutdown()
}

// runPull reads every queue of topic's route to its max offset.
func runPull(o *out, topic string, selector consumer.MessageSelector, opts []consumer.Option) error {
	pc, err := consumer.NewPullConsumer(opts...)
	if err != nil {
		return err
	}
	if err := pc.Subscribe(topic, selector); err != nil {
		return err
	}
	if err := pc.Start(); err != nil {
		return err
	}
	defer pc.Shutdown()
	queues, err := pc.GetTopicRouteInfo(topic)
	if err != nil {
		return err
	}
	for _, mq := range queues {
		var res *primitive.PullResult
		for offset := int64(0); res == nil || offset < res.MaxOffset; offset = res.NextBeginOffset {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			res, err = pc.PullFrom(ctx, mq, offset, 32)
			cancel()
			if err != nil {
				return fmt.Errorf("queue %d offset %d: %w", mq.QueueId, offset, err)
			}
			if res.NextBeginOffset <= offset && res.MaxOffset > offset {
				return fmt.Errorf("queue %d offset %d: status %d, next offset %d does not move", mq.QueueId, offset, res.Status, res.NextBeginOffset)
			}
			for _, m := range res.GetMessageExts() {
				o.message(m)
			}
		}
		o.write(line{Queue: mq.QueueId, Status: pullStatus(res.Status), Next: res.NextBeginOffset, Max: res.MaxOffset})
	}
	o.write(line{Done: true})
	return nil
}

func pullStatus(s primitive.PullStatus) string {
	switch s {
	case primitive.PullFound:
		return "FOUND"
	case primitive.PullNoNewMsg:
		return "NO_NEW_MSG"
	case primitive.PullNoMsgMatched:
		return "NO_MATCHED_MSG"
	case primitive.PullOffsetIllegal:
		return "OFFSET_ILLEGAL"
	default:
		return fmt.Sprintf("status %d", s)
	}
}
