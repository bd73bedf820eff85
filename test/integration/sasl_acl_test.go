package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSASLUsersUnderACLs: with SASL required, ACL checks are on without
// --authorizer, and the authenticated user is the principal they check.
func TestSASLUsersUnderACLs(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	tc := pki.clientTLS(t, "", "")
	ctx := testCtx(t, 60*time.Second)
	adm := kadm.NewClient(newClient(t, srv.TLSAddr(), kgo.DialTLSConfig(tc), kgo.SASL(scram256(adminUser, adminPassword))))
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "alice-pw"}}); err != nil {
		t.Fatal(err)
	}
	createTopic(t, adm, "alice-topic", 1)
	createTopic(t, adm, "other-topic", 1)
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("alice-topic").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || res[0].Err != nil {
		t.Fatalf("create acl: %v %+v", err, res)
	}
	alice := newClient(t, srv.TLSAddr(), kgo.DialTLSConfig(tc), kgo.SASL(scram256("alice", "alice-pw")))
	produceSync(t, alice, &kgo.Record{Topic: "alice-topic", Value: []byte("v")})
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "other-topic", Value: []byte("v")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice to other-topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if _, err := kadm.NewClient(alice).CreateTopic(ctx, 1, 1, nil, "alice-new"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice CreateTopics: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}
