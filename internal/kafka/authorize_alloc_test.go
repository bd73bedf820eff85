package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/meta"
)

// allowedConn returns a connection of User:alice to a broker enforcing
// ACLs, where alice may write and read topic "t".
func allowedConn(tb testing.TB) *conn {
	cfg := config.Default()
	cfg.DataDir = tb.TempDir()
	cfg.ACL.Authorizer, cfg.ACL.InsecurePrincipalFromClientID = true, true
	b, err := broker.New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	if _, err := b.CreateTopic("t", 1, nil, false); err != nil {
		tb.Fatal(err)
	}
	if _, err := b.UpdateSecurity(func(*meta.Image) ([]meta.Record, error) {
		return []meta.Record{
			{ACL: &meta.ACLRecord{ACL: meta.ACL{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 4, Permission: 3}}},
			{ACL: &meta.ACLRecord{ACL: meta.ACL{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 3, Permission: 3}}},
		}, nil
	}); err != nil {
		tb.Fatal(err)
	}
	c := &conn{s: NewServer(b, "127.0.0.1:9092", nil), clientID: "principal=User:alice;app"}
	c.sec.host = "127.0.0.1"
	return c
}

// TestAllowedRequestsAllocateNothingToAuthorize: the checks in front of
// an allowed produce or fetch allocate nothing.
func TestAllowedRequestsAllocateNothingToAuthorize(t *testing.T) {
	c := allowedConn(t)
	var fin finisher = func() reply { return nil }
	next := func(*conn, kmsg.Request) finisher { return fin }
	produce := kmsg.NewPtrProduceRequest()
	produce.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{}}}}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{{}}}}
	for _, req := range []kmsg.Request{produce, fetch} {
		c.authorized(req.Key(), req, next) // builds the ACL index
		if n := testing.AllocsPerRun(100, func() { c.authorized(req.Key(), req, next) }); n != 0 {
			t.Errorf("authorizing an allowed %s allocates %v times", kmsg.NameForKey(req.Key()), n)
		}
	}
	denied := kmsg.NewPtrFetchRequest()
	denied.Topics = []kmsg.FetchRequestTopic{{Topic: "other", Partitions: []kmsg.FetchRequestTopicPartition{{}}}}
	c.authorized(1, denied, next)
	if len(denied.Topics) != 0 {
		t.Errorf("denied topic left in the request: %+v", denied.Topics)
	}
}
