package rocketmq

import (
	"encoding/json"
	"strconv"
)

// GET_ROUTEINFO_BY_TOPIC (105), the NameServer's answer to "where is topic
// T": header topic; body TopicRouteData as JSON.
//
// Each node leading partitions of T is a broker ferry-<id> (brokerId 0,
// the master) with as many read and write queues as partitions it leads
// (route.go). With automatic topic creation on, an unknown topic is
// created here, as Kafka's Metadata request creates one, so that even on a
// cluster the first route a producer gets is the real one (the clients'
// own fallback, the route of TBW102 — this node alone with
// --num-partitions queues — sends everything to one node, which may lead
// none of the new topic's partitions). With it off, an unknown topic is
// TOPIC_NOT_EXIST, TBW102 too, and the send fails with "route not found".

func init() { register(codeGetRouteInfoByTopic, handleGetRouteInfo) }

type topicRouteData struct {
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"`
	QueueDatas        []queueData         `json:"queueDatas"`
	BrokerDatas       []brokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"`
}

type queueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
}

type brokerData struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"` // brokerId → host:port
}

// permReadWrite is PermName.PERM_READ | PERM_WRITE.
const permReadWrite = 4 | 2

func handleGetRouteInfo(c *Conn, req *Command) *Command {
	s := c.s
	topic := req.Field("topic")
	var route topicRouteData
	route.FilterServerTable = map[string][]string{}
	if topic == defaultTopicKey && s.broker.Config().AutoCreateTopics {
		if _, ok := s.broker.Image().Topic(topic); !ok {
			route.add(s.BrokerName(), s.advertised, s.broker.Config().NumPartitions)
			return jsonResponse(req, route)
		}
	}
	if err := s.ensureRetryTopic(topic); err != nil {
		return errorResponse(req, ResSystemError, err.Error())
	}
	t, code, err := s.Topic(topic, topic != defaultTopicKey)
	if err != nil {
		return errorResponse(req, code, err.Error())
	}
	for _, n := range s.route(t) {
		route.add(BrokerName(n.id), n.addr, int32(len(n.partitions)))
	}
	if len(route.QueueDatas) == 0 {
		return errorResponse(req, ResTopicNotExist, "no partition of topic "+topic+" has a leader now")
	}
	return jsonResponse(req, route)
}

func (r *topicRouteData) add(name, addr string, queues int32) {
	r.QueueDatas = append(r.QueueDatas, queueData{BrokerName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: permReadWrite})
	r.BrokerDatas = append(r.BrokerDatas, brokerData{Cluster: ClusterName, BrokerName: name, BrokerAddrs: map[string]string{strconv.Itoa(0): addr}})
}

// jsonResponse is a success response with v as its JSON body.
func jsonResponse(req *Command, v any) *Command {
	body, err := json.Marshal(v)
	if err != nil {
		return errorResponse(req, ResSystemError, "encoding the response: "+err.Error())
	}
	resp := Response(req)
	resp.Body = body
	return resp
}
