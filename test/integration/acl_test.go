package integration

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The principal of these tests' connections comes from the client id,
// under ferry's test-only --insecure-principal-from-client-id.
func as(user string) kgo.Opt { return kgo.ClientID("principal=User:" + user) }

func startACLFerry(t *testing.T) *ferryProc {
	return startFerry(t, t.TempDir(), "--authorizer=true", "--insecure-principal-from-client-id", "--superusers", "User:admin")
}

func TestACLsEnforced(t *testing.T) {
	p := startACLFerry(t)
	ctx := testCtx(t, 60*time.Second)
	adminCl := newClient(t, p.addr, as("admin"))
	admin := kadm.NewClient(adminCl)
	createTopic(t, admin, "alice-topic", 1)
	createTopic(t, admin, "bob-topic", 1)

	acls := kadm.NewACLs().Allow("User:alice").Topics("alice-topic").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	bobACLs := kadm.NewACLs().Allow("User:bob").Topics("bob-topic").Groups("bob-group").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, b := range []*kadm.ACLBuilder{acls, bobACLs} {
		res, err := admin.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create acl %+v: %v", r, r.Err)
			}
		}
	}
	if n, code := describeACLs(t, adminCl); code != 0 || n != 3 {
		t.Fatalf("DescribeAcls: %d bindings, code %d; want 3, 0", n, code)
	}

	// alice, an idempotent producer with WRITE on one topic (KIP-679: no
	// IDEMPOTENT_WRITE needed), writes it.
	alice := newClient(t, p.addr, as("alice"), kgo.DefaultProduceTopic("alice-topic"))
	produceSync(t, alice, &kgo.Record{Value: []byte("hello")})

	// She may not read bob's topic, create topics or join bob's group.
	if code := listOffsetsCode(t, alice, "bob-topic"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("alice ListOffsets on bob-topic: code %d, want TOPIC_AUTHORIZATION_FAILED", code)
	}
	if code := fetchCode(t, alice, "bob-topic"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("alice Fetch on bob-topic: code %d, want TOPIC_AUTHORIZATION_FAILED", code)
	}
	if _, err := kadm.NewClient(alice).CreateTopic(ctx, 1, 1, nil, "alice-new"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice CreateTopics: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "bob-group", "consumer", 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if resp, err := join.RequestWith(ctx, alice); !errors.Is(err, kerr.GroupAuthorizationFailed) && (err != nil || resp.ErrorCode != kerr.GroupAuthorizationFailed.Code) {
		t.Errorf("alice JoinGroup bob-group: %v %+v, want GROUP_AUTHORIZATION_FAILED", err, resp)
	}
	// Metadata lists only what she may describe.
	if topics := listedTopics(t, alice); !slices.Equal(topics, []string{"alice-topic"}) {
		t.Errorf("alice sees topics %v, want only alice-topic", topics)
	}

	// bob, with sarama, reads his topic in his group... and cannot write it.
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = "principal=User:bob"
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 0
	bobProducer, err := sarama.NewSyncProducer([]string{p.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bobProducer.Close()
	if _, _, err := bobProducer.SendMessage(&sarama.ProducerMessage{Topic: "bob-topic", Value: sarama.StringEncoder("x")}); !errors.Is(err, sarama.ErrTopicAuthorizationFailed) {
		t.Errorf("bob (sarama) produce without WRITE: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	bobAdmin, err := sarama.NewClusterAdmin([]string{p.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer bobAdmin.Close()
	if _, err := bobAdmin.ListConsumerGroupOffsets("bob-group", map[string][]int32{"bob-topic": {0}}); err != nil {
		t.Errorf("bob (sarama) offset fetch of his own group: %v", err)
	}

	// A user with no ACLs is denied everything.
	carol := newClient(t, p.addr, as("carol"), kgo.DefaultProduceTopic("alice-topic"), kgo.DisableIdempotentWrite())
	if err := carol.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("carol produce: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if code := initProducerIDCode(t, carol); code != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("carol InitProducerId: code %d, want CLUSTER_AUTHORIZATION_FAILED (no IDEMPOTENT_WRITE, no WRITE on any topic)", code)
	}
	if code := initProducerIDCode(t, alice); code != 0 {
		t.Errorf("alice InitProducerId: code %d, want 0 (WRITE on a topic implies it)", code)
	}
	if topics := listedTopics(t, carol); len(topics) != 0 {
		t.Errorf("carol sees topics %v, want none", topics)
	}
	if code := listOffsetsCode(t, carol, "alice-topic"); code != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("carol ListOffsets: code %d", code)
	}
	if _, code := describeACLs(t, carol); code != kerr.ClusterAuthorizationFailed.Code {
		t.Errorf("carol DescribeAcls: code %d, want CLUSTER_AUTHORIZATION_FAILED", code)
	}

	// The superuser passes every check.
	produceSync(t, newClient(t, p.addr, as("admin"), kgo.DefaultProduceTopic("bob-topic")), &kgo.Record{Value: []byte("from admin")})
	if code := fetchCode(t, newClient(t, p.addr, as("admin")), "bob-topic"); code != 0 {
		t.Errorf("admin fetch: code %d", code)
	}

	// Removing alice's ACL takes effect at once, on her open connection.
	del, err := admin.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("alice-topic").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(del) != 1 || len(del[0].Deleted) != 1 {
		t.Fatalf("delete acl: %v %+v", err, del)
	}
	if err := alice.ProduceSync(ctx, &kgo.Record{Value: []byte("after removal")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice produce after her ACL was removed: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

// TestACLsOffWithoutAuthorizer checks nothing changes without enforcement:
// an anonymous client does everything.
func TestACLsOffWithoutAuthorizer(t *testing.T) {
	p := startFerry(t, t.TempDir())
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic("free"))
	createTopic(t, kadm.NewClient(cl), "free", 1)
	produceSync(t, cl, &kgo.Record{Value: []byte("x")})
	if code := fetchCode(t, cl, "free"); code != 0 {
		t.Fatalf("fetch: code %d", code)
	}
}

func TestInsecurePrincipalNeedsAuthorizer(t *testing.T) {
	if _, err := tryStartFerry(t, t.TempDir(), "--insecure-principal-from-client-id"); err == nil {
		t.Fatal("ferry started with --insecure-principal-from-client-id and no --authorizer")
	}
}

func listOffsetsCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// Through node 0 directly: routed by franz-go, the request would first
	// fail on the topic's metadata (with the same code).
	resp, err := cl.Broker(0).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	return resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode
}

func fetchCode(t *testing.T, cl *kgo.Client, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxWaitMillis, req.MaxBytes, req.ReplicaID = 10, 1<<20, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	// Sent to the only broker, node 0, without needing topic metadata.
	resp, err := cl.Broker(0).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 {
		return fr.ErrorCode
	}
	return fr.Topics[0].Partitions[0].ErrorCode
}

func listedTopics(t *testing.T, cl *kgo.Client) []string {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	var out []string
	for _, tp := range resp.Topics {
		if tp.Topic != nil {
			out = append(out, *tp.Topic)
		}
	}
	slices.Sort(out)
	return out
}

// describeACLs lists every binding; it returns their number and the
// response's error code.
func describeACLs(t *testing.T, cl *kgo.Client) (int, int16) {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("describe acls: %v", err)
	}
	n := 0
	for _, r := range resp.Resources {
		n += len(r.ACLs)
	}
	return n, resp.ErrorCode
}

func initProducerIDCode(t *testing.T, cl *kgo.Client) int16 {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := cl.Broker(0).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("init producer id: %v", err)
	}
	return resp.(*kmsg.InitProducerIDResponse).ErrorCode
}
