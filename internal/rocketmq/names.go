package rocketmq

import (
	"fmt"
	"strings"
)

// RocketMQ names retry and dead-letter topics with '%', which Kafka topic
// names may not hold: they map to suffixed Ferry topics.
const (
	retryPrefix = "%RETRY%"
	dlqPrefix   = "%DLQ%"
	retrySuffix = ".retry"
	dlqSuffix   = ".dlq"
)

// FerryTopic maps a RocketMQ topic name to its Ferry topic: %RETRY%G is
// G.retry, %DLQ%G is G.dlq, and any other name is itself, which must
// then be a legal Kafka topic name ([a-zA-Z0-9._-], at most 249 bytes).
// The error says why a name cannot map; callers answer TOPIC_NOT_EXIST.
func FerryTopic(rocketTopic string) (string, error) {
	name, suffix := rocketTopic, ""
	switch {
	case strings.HasPrefix(rocketTopic, retryPrefix):
		name, suffix = rocketTopic[len(retryPrefix):], retrySuffix
	case strings.HasPrefix(rocketTopic, dlqPrefix):
		name, suffix = rocketTopic[len(dlqPrefix):], dlqSuffix
	}
	if name == "" {
		return "", fmt.Errorf("topic %q: empty name", rocketTopic)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", fmt.Errorf("topic %q holds %q: Ferry topics (shared with Kafka clients) allow only [a-zA-Z0-9._-], and %%RETRY%%G / %%DLQ%%G for a group G", rocketTopic, c)
		}
	}
	if len(name)+len(suffix) > 249 {
		return "", fmt.Errorf("topic %q is longer than 249 bytes as Ferry topic", rocketTopic)
	}
	return name + suffix, nil
}

// RocketTopic maps a Ferry topic back to the name RocketMQ clients know:
// G.retry is %RETRY%G and G.dlq is %DLQ%G.
func RocketTopic(ferryTopic string) string {
	switch {
	case strings.HasSuffix(ferryTopic, retrySuffix) && len(ferryTopic) > len(retrySuffix):
		return retryPrefix + strings.TrimSuffix(ferryTopic, retrySuffix)
	case strings.HasSuffix(ferryTopic, dlqSuffix) && len(ferryTopic) > len(dlqSuffix):
		return dlqPrefix + strings.TrimSuffix(ferryTopic, dlqSuffix)
	}
	return ferryTopic
}

// RetryTopic is the Ferry topic of group's retry queue (%RETRY%group).
func RetryTopic(group string) string { return group + retrySuffix }

// DLQTopic is the Ferry topic of group's dead letters (%DLQ%group).
func DLQTopic(group string) string { return group + dlqSuffix }
