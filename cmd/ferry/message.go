package main

// ferry message find: where messages with a key are, over the RocketMQ
// front's QUERY_MESSAGE (the broker's message index: RocketMQ KEYS words
// and the client's message id UNIQ_KEY). With --topic T it lists T's
// messages and, among the groups' retry (G.retry) and dead-letter (G.dlq)
// topics, those that came from T; without it, every topic's.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/ferry-mq/ferry/internal/rocketmq"
)

const messageUsage = `usage: ferry message <action> [flags]

actions:
  find --key K [--topic T]   where the messages with key K (a RocketMQ KEYS word or
                             message id) are, their retries and dead letters included

run 'ferry message <action> -h' for an action's flags`

const (
	rocketmqAddrEnv     = "FERRY_ROCKETMQ_ADDR"
	defaultRocketMQAddr = "127.0.0.1:9876"
	// codeQueryMessage is RocketMQ's QUERY_MESSAGE request code.
	codeQueryMessage = 12
	// resQueryNotFound is RocketMQ's QUERY_NOT_FOUND.
	resQueryNotFound = 22
	languageGo       = 9
)

func runMessage(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	return runAction(args, messageUsage, "action", "find", map[string]func([]string) error{
		"find": func(args []string) error { return messageFind(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

func messageFind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("message find", "ferry message find --key K [flags]", stdout, stderr)
	def := os.Getenv(rocketmqAddrEnv)
	if def == "" {
		def = defaultRocketMQAddr
	}
	addr := fs.String("rocketmq-addr", def, "the broker's RocketMQ address, host:port (env "+rocketmqAddrEnv+")")
	key := fs.String("key", "", "the key to look for: a word of the KEYS property, or a message id (UNIQ_KEY) (required)")
	topic := fs.String("topic", "", "only this topic (RocketMQ or Ferry name), its retries and dead letters; default every topic")
	maxN := fs.Int("max", 100, "list at most this many messages")
	format := fs.String("format", "text", "output: text (a table) or json (one object per line)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up waiting for the broker after this long")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: give the key with --key", pos)
	}
	if *key == "" {
		fs.Usage()
		return errors.New("--key is required")
	}
	if *maxN <= 0 {
		return fmt.Errorf("--max %d is not valid: use 1 or more", *maxN)
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format %q is not valid: use text or json", *format)
	}
	req := &rocketmq.Command{Code: codeQueryMessage, Language: languageGo, Serialize: rocketmq.SerializeJSON}
	req.SetField("topic", rocketTopicName(*topic))
	req.SetField("key", *key)
	req.SetField("maxNum", strconv.Itoa(*maxN))
	req.SetField("beginTimestamp", "0")
	req.SetField("endTimestamp", strconv.FormatInt(1<<62, 10))
	req.SetField("ferryRelated", "true")
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := rocketmqCall(ctx, *addr, req)
	if err != nil {
		return fmt.Errorf("cannot query the broker at %s: %v — is `ferry serve --rocketmq-addr %s` running? set --rocketmq-addr or %s", *addr, err, *addr, rocketmqAddrEnv)
	}
	switch resp.Code {
	case 0:
	case resQueryNotFound:
		fmt.Fprintf(stdout, "no message with key %q\n", *key)
		return nil
	default:
		return fmt.Errorf("the broker refused the query: %s (code %d)", resp.Remark, resp.Code)
	}
	msgs := primitive.DecodeMessage(resp.Body)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, m := range msgs {
			if err := enc.Encode(foundJSON(m)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := newTable(stdout, "TOPIC\tPARTITION\tOFFSET\tTIME\tKIND\tORIGINAL-TOPIC\tMSG-ID\tKEYS")
	for _, m := range msgs {
		f := foundJSON(m)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", f.Topic, f.Partition, f.Offset, f.Time, f.Kind, orDash(f.OriginalTopic), orDash(f.MsgID), orDash(f.Keys))
	}
	return tw.Flush()
}

// foundMessage is one match, as --format json prints it.
type foundMessage struct {
	Topic         string `json:"topic"`          // the Ferry topic
	RocketMQTopic string `json:"rocketmq_topic"` // as RocketMQ clients name it
	Partition     int    `json:"partition"`      // the queue id
	Offset        int64  `json:"offset"`
	Time          string `json:"time"`
	Kind          string `json:"kind"` // message, retry or dead-letter
	OriginalTopic string `json:"original_topic,omitempty"`
	MsgID         string `json:"msg_id,omitempty"` // UNIQ_KEY
	OffsetMsgID   string `json:"offset_msg_id"`
	Keys          string `json:"keys,omitempty"`
	Tags          string `json:"tags,omitempty"`
	Reconsumes    int32  `json:"reconsume_times,omitempty"`
}

func foundJSON(m *primitive.MessageExt) foundMessage {
	f := foundMessage{
		Topic: ferryTopic(m.Topic), RocketMQTopic: m.Topic, Offset: m.QueueOffset,
		Time: time.UnixMilli(m.StoreTimestamp).UTC().Format(time.RFC3339Nano), Kind: "message",
		MsgID: m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex), OffsetMsgID: m.OffsetMsgId,
		Keys: m.GetKeys(), Tags: m.GetTags(), Reconsumes: m.ReconsumeTimes,
	}
	if m.Queue != nil {
		f.Partition = m.Queue.QueueId
	}
	switch {
	case strings.HasPrefix(m.Topic, "%RETRY%"):
		f.Kind = "retry"
	case strings.HasPrefix(m.Topic, "%DLQ%"):
		f.Kind = "dead-letter"
	}
	if f.Kind != "message" {
		f.OriginalTopic = ferryTopic(m.GetProperty(primitive.PropertyRetryTopic))
	}
	return f
}

// rocketTopicName maps a Ferry topic name to RocketMQ's (G.retry is
// %RETRY%G, G.dlq is %DLQ%G); "" (every topic) is "*".
func rocketTopicName(t string) string {
	switch {
	case t == "":
		return "*"
	case strings.HasSuffix(t, retrySuffix) && len(t) > len(retrySuffix):
		return "%RETRY%" + strings.TrimSuffix(t, retrySuffix)
	case strings.HasSuffix(t, dlqSuffix) && len(t) > len(dlqSuffix):
		return "%DLQ%" + strings.TrimSuffix(t, dlqSuffix)
	}
	return t
}

// rocketmqCall sends one request over a new connection and reads its answer.
func rocketmqCall(ctx context.Context, addr string, req *rocketmq.Command) (*rocketmq.Command, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	req.Opaque = 1
	frame, err := rocketmq.AppendFrame(nil, req)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(frame); err != nil {
		return nil, err
	}
	r := bufio.NewReader(nc)
	for {
		resp, err := rocketmq.ReadFrame(r, 256<<20)
		if err != nil {
			return nil, err
		}
		if resp.IsResponse() && resp.Opaque == req.Opaque {
			return resp, nil
		}
	}
}
