package rocketmq

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/meta"
)

// groupTopicQueues is the queue count of a group's retry and dead-letter
// topics, as RocketMQ gives them.
const groupTopicQueues = 1

// ensureGroupTopic returns a consumer group's retry (G.retry) or
// dead-letter (G.dlq) topic, creating it with one queue when missing.
// These are the broker's own topics, created whatever the automatic
// topic creation setting says, as RocketMQ brokers create them.
func (s *Server) ensureGroupTopic(name string) (*meta.Topic, error) {
	if t, ok := s.broker.Image().Topic(name); ok {
		return t, nil
	}
	t, err := s.broker.CreateTopic(name, groupTopicQueues, nil, false)
	if err != nil && errors.Is(err, kerr.TopicAlreadyExists) {
		if t, ok := s.broker.Image().Topic(name); ok {
			return t, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating topic %s: %s", name, broker.ErrorMessage(err))
	}
	return t, nil
}

// ensureRetryTopic creates the retry topic a route query names
// (%RETRY%G): a clustering push consumer asks for its route when it
// starts, before its first heartbeat, and would otherwise learn of the
// topic only at its next route refresh, 30 s later, after its first
// failed message. Other names are left alone.
func (s *Server) ensureRetryTopic(rocketTopic string) error {
	if !strings.HasPrefix(rocketTopic, retryPrefix) {
		return nil
	}
	name, err := FerryTopic(rocketTopic)
	if err != nil {
		return nil // the route query answers why
	}
	_, err = s.ensureGroupTopic(name)
	return err
}
