package rocketmq

import "github.com/ferry-mq/ferry/internal/broker"

// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206): body TopicList as JSON, every
// topic but Ferry's internal ones, by its RocketMQ name (G.retry is
// %RETRY%G).

func init() { register(codeGetAllTopicList, handleGetAllTopicList) }

type topicList struct {
	TopicList  []string `json:"topicList"`
	BrokerAddr string   `json:"brokerAddr,omitempty"`
}

func handleGetAllTopicList(c *Conn, req *Command) *Command {
	list := topicList{TopicList: []string{}}
	for _, t := range c.s.broker.Image().Topics() {
		if !broker.IsInternalTopic(t.Name) {
			list.TopicList = append(list.TopicList, RocketTopic(t.Name))
		}
	}
	return jsonResponse(req, list)
}
