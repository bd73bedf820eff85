package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// DeleteTopics: v0-6.
//
// Topics are named (v0-5 TopicNames, v6 Topics by name or id). Deletion
// writes the metadata first, then renames the partition directories away
// (removed in the background) before answering; see internal/broker/doc.go.

func init() { register(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	b := c.s.broker
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for _, name := range req.TopicNames {
			name := name
			targets = append(targets, target{name: &name})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		name := ""
		if tg.name != nil {
			name = *tg.name
			if t, ok := b.Image().Topic(name); ok {
				st.TopicID = t.ID
			}
		} else if t, ok := b.Image().TopicByID(tg.id); ok {
			name = t.Name
			st.Topic = &name
		} else {
			st.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if err := b.DeleteTopic(name); err != nil {
			st.ErrorCode = broker.ErrorCode(err)
			msg := broker.ErrorMessage(err)
			st.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, st)
	}
	return now(resp)
}
