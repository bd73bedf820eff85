package rocketmq_test

import (
	"context"
	"slices"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// TestAdminTopics: the RocketMQ admin client creates a topic with 6 queues
// (a Ferry topic of 6 partitions), grows it, lists it, and deletes it.
func TestAdminTopics(t *testing.T) {
	s := startNode(t, nil)
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{s.RocketMQAddr()})))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx := context.Background()
	create := func(queues int) {
		t.Helper()
		err := adm.CreateTopic(ctx, admin.WithTopicCreate("admin-made"), admin.WithBrokerAddrCreate(s.RocketMQAddr()),
			admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues))
		if err != nil {
			t.Fatal(err)
		}
	}
	partitions := func() int32 {
		topic, ok := s.Broker.Image().Topic("admin-made")
		if !ok {
			return 0
		}
		return topic.Partitions
	}
	create(6)
	if n := partitions(); n != 6 {
		t.Fatalf("created with 6 queues: %d partitions", n)
	}
	create(8)
	create(2) // partitions are never removed
	if n := partitions(); n != 8 {
		t.Fatalf("grown to 8 queues then asked for 2: %d partitions", n)
	}
	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list.TopicList, "admin-made") || slices.ContainsFunc(list.TopicList, func(n string) bool { return n[0] == '_' }) {
		t.Fatalf("topic list %v: want admin-made and no internal topics", list.TopicList)
	}
	if err := adm.DeleteTopic(ctx, admin.WithTopicDelete("admin-made"), admin.WithBrokerAddrDelete(s.RocketMQAddr()), admin.WithNameSrvAddr([]string{s.RocketMQAddr()})); err != nil {
		t.Fatal(err)
	}
	if n := partitions(); n != 0 {
		t.Fatalf("deleted topic still has %d partitions", n)
	}
}
