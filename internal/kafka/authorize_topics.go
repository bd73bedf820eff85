package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
)

// Per-topic checks: the denied topics leave the request and come back in
// the response with TOPIC_AUTHORIZATION_FAILED (or the code Kafka uses).
// The slices of the kept topics are made only when something is denied,
// so an allowed request costs no allocation here.

var topicDenied = kerr.TopicAuthorizationFailed.Code

// keepAllowed splits items by allowed, returning the kept ones and the
// denied ones; items itself when nothing is denied.
func keepAllowed[T any](items []T, allowed func(*T) bool) (kept, denied []T) {
	for i := range items {
		if allowed(&items[i]) {
			if denied != nil {
				kept = append(kept, items[i])
			}
			continue
		}
		if denied == nil {
			kept = append(make([]T, 0, len(items)), items[:i]...)
		}
		denied = append(denied, items[i])
	}
	if denied == nil {
		return items, nil
	}
	return kept, denied
}

// mayCreateTopic is Kafka's rule for creating a topic: CREATE on the
// cluster, or on the topic.
func (c *conn) mayCreateTopic(name string) bool {
	return c.allowCluster(acl.Create) || c.allow(acl.Create, acl.Topic, name)
}

func (c *conn) authorizeProduce(r *kmsg.ProduceRequest, next handlerFunc) finisher {
	if r.TransactionID != nil && !c.allow(acl.Write, acl.TransactionalID, *r.TransactionID) {
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		addProduceErrors(resp, r.Topics, kerr.TransactionalIDAuthorizationFailed.Code)
		return produceReply(c, r.Acks, resp)
	}
	img := c.s.broker.Image()
	var unknown []kmsg.ProduceRequestTopic
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.ProduceRequestTopic) bool {
		return c.allow(acl.Write, acl.Topic, t.Topic)
	})
	// Produce creates a missing topic (auto-creation): that needs CREATE.
	kept, unknown = keepAllowed(kept, func(t *kmsg.ProduceRequestTopic) bool {
		_, ok := img.Topic(t.Topic)
		return ok || c.mayCreateTopic(t.Topic)
	})
	if denied == nil && unknown == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		pr := resp.(*kmsg.ProduceResponse)
		addProduceErrors(pr, denied, topicDenied)
		addProduceErrors(pr, unknown, kerr.UnknownTopicOrPartition.Code)
	})
}

// produceReply answers a refused produce; acks=0 gets no response.
func produceReply(c *conn, acks int16, resp *kmsg.ProduceResponse) finisher {
	c.releaseRequestBytes()
	return func() reply {
		if acks == 0 {
			return nil
		}
		return msgReply{resp}
	}
}

func addProduceErrors(resp *kmsg.ProduceResponse, topics []kmsg.ProduceRequestTopic, code int16) {
	for _, t := range topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition, sp.ErrorCode, sp.BaseOffset = p.Partition, code, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
}

func (c *conn) authorizeFetch(r *kmsg.FetchRequest, next handlerFunc) finisher {
	if r.ReplicaID >= 0 || r.ReplicaState.ID >= 0 {
		// A follower: needs CLUSTER_ACTION, as in Kafka.
		if !c.allowCluster(acl.ClusterAction) {
			return func() reply {
				return &fetchReply{version: r.Version, errorCode: kerr.ClusterAuthorizationFailed.Code}
			}
		}
		return next(c, r)
	}
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.FetchRequestTopic) bool {
		return c.allow(acl.Read, acl.Topic, t.Topic)
	})
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	fin := next(c, r)
	return func() reply {
		rep := fin()
		if fr, ok := rep.(*fetchReply); ok {
			for _, t := range denied {
				ft := fetchTopic{name: t.Topic}
				for _, p := range t.Partitions {
					ft.partitions = append(ft.partitions, fetchPartition{partition: p.Partition, errorCode: topicDenied, highWatermark: -1, lastStable: -1, logStart: -1})
				}
				fr.topics = append(fr.topics, ft)
			}
		}
		return rep
	}
}

func (c *conn) authorizeListOffsets(r *kmsg.ListOffsetsRequest, next handlerFunc) finisher {
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.ListOffsetsRequestTopic) bool {
		return c.allow(acl.Describe, acl.Topic, t.Topic)
	})
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListOffsetsResponse)
		for _, t := range denied {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, topicDenied
				st.Partitions = append(st.Partitions, sp)
			}
			lr.Topics = append(lr.Topics, st)
		}
	})
}

func (c *conn) authorizeOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest, next handlerFunc) finisher {
	if r.ReplicaID >= 0 && !c.allowCluster(acl.ClusterAction) {
		r.ReplicaID = -1 // checked as a consumer below
	}
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.OffsetForLeaderEpochRequestTopic) bool {
		return c.allow(acl.Describe, acl.Topic, t.Topic)
	})
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetForLeaderEpochResponse)
		for _, t := range denied {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, topicDenied
				st.Partitions = append(st.Partitions, sp)
			}
			or.Topics = append(or.Topics, st)
		}
	})
}

// authorizeMetadata hides the topics the principal may not describe from
// a listing of all topics, and answers named ones with
// TOPIC_AUTHORIZATION_FAILED; auto-creation needs CREATE.
func (c *conn) authorizeMetadata(r *kmsg.MetadataRequest, next handlerFunc) finisher {
	principal, host := c.effectivePrincipal(), c.host()
	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		az := c.s.security.authz
		return withAdded(next(c, r), func(resp kmsg.Response) {
			mr := resp.(*kmsg.MetadataResponse)
			kept := mr.Topics[:0]
			for _, t := range mr.Topics {
				if t.Topic != nil && az.Authorize(principal, host, acl.Describe, acl.Topic, *t.Topic) {
					kept = append(kept, t)
				}
			}
			mr.Topics = kept
		})
	}
	img := c.s.broker.Image()
	allowCreate := r.Version < 4 || r.AllowAutoTopicCreation
	type deniedTopic struct {
		rt   kmsg.MetadataRequestTopic
		code int16
	}
	var denied []deniedTopic
	kept, _ := keepAllowed(r.Topics, func(t *kmsg.MetadataRequestTopic) bool {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		} else if tp, ok := img.TopicByID(t.TopicID); ok {
			name = tp.Name
		} else {
			return true // unknown id: the handler says so
		}
		if !c.allow(acl.Describe, acl.Topic, name) {
			denied = append(denied, deniedTopic{*t, topicDenied})
			return false
		}
		if _, ok := img.Topic(name); !ok && allowCreate && !c.mayCreateTopic(name) {
			denied = append(denied, deniedTopic{*t, topicDenied})
			return false
		}
		return true
	})
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	if len(kept) == 0 {
		r.Topics = []kmsg.MetadataRequestTopic{} // not nil: that lists every topic
	}
	return withAdded(next(c, r), func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		if len(kept) == 0 {
			mr.Topics = mr.Topics[:0]
		}
		for _, d := range denied {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID, mt.ErrorCode = d.rt.Topic, d.rt.TopicID, d.code
			mr.Topics = append(mr.Topics, mt)
		}
	})
}

func (c *conn) authorizeCreateTopics(r *kmsg.CreateTopicsRequest, next handlerFunc) finisher {
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.CreateTopicsRequestTopic) bool { return c.mayCreateTopic(t.Topic) })
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreateTopicsResponse)
		for _, t := range denied {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = t.Topic, topicDenied
			msg := "not authorized to create topic " + t.Topic
			st.ErrorMessage = &msg
			st.NumPartitions, st.ReplicationFactor = -1, -1
			cr.Topics = append(cr.Topics, st)
		}
	})
}

func (c *conn) authorizeDeleteTopics(r *kmsg.DeleteTopicsRequest, next handlerFunc) finisher {
	img := c.s.broker.Image()
	nameOf := func(name *string, id [16]byte) (string, bool) {
		if name != nil {
			return *name, true
		}
		t, ok := img.TopicByID(id)
		if !ok {
			return "", false
		}
		return t.Name, true
	}
	keptNames, deniedNames := keepAllowed(r.TopicNames, func(n *string) bool { return c.allow(acl.Delete, acl.Topic, *n) })
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.DeleteTopicsRequestTopic) bool {
		name, ok := nameOf(t.Topic, t.TopicID)
		return !ok || c.allow(acl.Delete, acl.Topic, name)
	})
	if denied == nil && deniedNames == nil {
		return next(c, r)
	}
	r.TopicNames, r.Topics = keptNames, kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteTopicsResponse)
		for _, n := range deniedNames {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode = &n, topicDenied
			dr.Topics = append(dr.Topics, st)
		}
		for _, t := range denied {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode = t.Topic, t.TopicID, topicDenied
			dr.Topics = append(dr.Topics, st)
		}
	})
}

func (c *conn) authorizeCreatePartitions(r *kmsg.CreatePartitionsRequest, next handlerFunc) finisher {
	kept, denied := keepAllowed(r.Topics, func(t *kmsg.CreatePartitionsRequestTopic) bool { return c.allow(acl.Alter, acl.Topic, t.Topic) })
	if denied == nil {
		return next(c, r)
	}
	r.Topics = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreatePartitionsResponse)
		for _, t := range denied {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic, st.ErrorCode = t.Topic, topicDenied
			cr.Topics = append(cr.Topics, st)
		}
	})
}

// configResourceAllowed checks a config resource: a topic (2) or a broker
// (4, checked on the cluster).
func (c *conn) configResourceAllowed(typ kmsg.ConfigResourceType, name string, op acl.Operation) (bool, int16) {
	if typ == kmsg.ConfigResourceTypeTopic {
		return c.allow(op, acl.Topic, name), topicDenied
	}
	return c.allowCluster(op), kerr.ClusterAuthorizationFailed.Code
}

func (c *conn) authorizeDescribeConfigs(r *kmsg.DescribeConfigsRequest, next handlerFunc) finisher {
	var codes []int16
	kept, denied := keepAllowed(r.Resources, func(rs *kmsg.DescribeConfigsRequestResource) bool {
		ok, code := c.configResourceAllowed(rs.ResourceType, rs.ResourceName, acl.DescribeConfigs)
		if !ok {
			codes = append(codes, code)
		}
		return ok
	})
	if denied == nil {
		return next(c, r)
	}
	r.Resources = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeConfigsResponse)
		for i, rs := range denied {
			res := kmsg.NewDescribeConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rs.ResourceType, rs.ResourceName, codes[i]
			dr.Resources = append(dr.Resources, res)
		}
	})
}

func (c *conn) authorizeAlterConfigs(r *kmsg.AlterConfigsRequest, next handlerFunc) finisher {
	var codes []int16
	kept, denied := keepAllowed(r.Resources, func(rs *kmsg.AlterConfigsRequestResource) bool {
		ok, code := c.configResourceAllowed(rs.ResourceType, rs.ResourceName, acl.AlterConfigs)
		if !ok {
			codes = append(codes, code)
		}
		return ok
	})
	if denied == nil {
		return next(c, r)
	}
	r.Resources = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		ar := resp.(*kmsg.AlterConfigsResponse)
		for i, rs := range denied {
			res := kmsg.NewAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rs.ResourceType, rs.ResourceName, codes[i]
			ar.Resources = append(ar.Resources, res)
		}
	})
}

func (c *conn) authorizeIncrementalAlterConfigs(r *kmsg.IncrementalAlterConfigsRequest, next handlerFunc) finisher {
	var codes []int16
	kept, denied := keepAllowed(r.Resources, func(rs *kmsg.IncrementalAlterConfigsRequestResource) bool {
		ok, code := c.configResourceAllowed(rs.ResourceType, rs.ResourceName, acl.AlterConfigs)
		if !ok {
			codes = append(codes, code)
		}
		return ok
	})
	if denied == nil {
		return next(c, r)
	}
	r.Resources = kept
	return withAdded(next(c, r), func(resp kmsg.Response) {
		ar := resp.(*kmsg.IncrementalAlterConfigsResponse)
		for i, rs := range denied {
			res := kmsg.NewIncrementalAlterConfigsResponseResource()
			res.ResourceType, res.ResourceName, res.ErrorCode = rs.ResourceType, rs.ResourceName, codes[i]
			ar.Resources = append(ar.Resources, res)
		}
	})
}
