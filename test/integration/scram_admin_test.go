package integration

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScramAdminErrors: AlterUserScramCredentials and
// DescribeUserScramCredentials answer Kafka's error codes per user, and a
// user stored through them can authenticate at once.
func TestScramAdminErrors(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	adm := kadm.NewClient(newClient(t, srv.Addr(), kgo.SASL(scram256(adminUser, adminPassword))))
	ctx := testCtx(t, 30*time.Second)

	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "ghost", Mechanism: kadm.ScramSha256}},
		[]kadm.UpsertSCRAM{
			{User: "weak", Mechanism: kadm.ScramSha256, Iterations: 4096, Salt: []byte("s"), SaltedPassword: make([]byte, 16)},
			{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "carol-pw"},
		})
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]error{"ghost": kerr.ResourceNotFound, "weak": kerr.UnacceptableCredential, "carol": nil} {
		if got := res[user].Err; !errors.Is(got, want) && !(want == nil && got == nil) {
			t.Errorf("%s: %v, want %v", user, got, want)
		}
	}
	if err := pingErr(t, srv.Addr(), kgo.SASL(scram512("carol", "carol-pw"))); err != nil {
		t.Fatalf("carol: %v", err)
	}
	described, err := adm.DescribeUserSCRAMs(ctx, "carol", "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if c := described["carol"]; c.Err != nil || len(c.CredInfos) != 1 || c.CredInfos[0].Mechanism != kadm.ScramSha512 || c.CredInfos[0].Iterations != 4096 {
		t.Fatalf("carol described as %+v", c)
	}
	if !errors.Is(described["ghost"].Err, kerr.ResourceNotFound) {
		t.Fatalf("ghost: %v", described["ghost"].Err)
	}
}

// TestClusterScramCredentialsReplicated: on a three-node cluster with SASL
// required, a user created through one node authenticates on every node
// (credentials are metadata records, so Raft entries), and once deleted
// through another node, on none.
func TestClusterScramCredentialsReplicated(t *testing.T) {
	procs := startCluster(t, 3, "--sasl-mechanisms", "SCRAM-SHA-256", "--bootstrap-user", adminUser+":"+adminPassword, "--superusers", "User:"+adminUser,
		"--inter-broker-user", "broker:broker-secret")
	adm := kadm.NewClient(newClient(t, procs[0].addr, kgo.SASL(scram256(adminUser, adminPassword))))
	ctx := testCtx(t, 60*time.Second)
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "dave", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "dave-pw"}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range procs {
		waitAuth(t, p.addr, "dave", "dave-pw", nil, fmt.Sprintf("node %d", i+1))
	}
	adm2 := kadm.NewClient(newClient(t, procs[2].addr, kgo.SASL(scram256(adminUser, adminPassword))))
	if res, err := adm2.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "dave", Mechanism: kadm.ScramSha256}}, nil); err != nil || res.Error() != nil {
		t.Fatalf("delete through node 3: %v %v", err, res.Error())
	}
	for i, p := range procs {
		waitAuth(t, p.addr, "dave", "dave-pw", kerr.SaslAuthenticationFailed, fmt.Sprintf("node %d after delete", i+1))
	}
}

// waitAuth waits up to 10s for an authentication of user at addr to end
// with want (nil: success): a follower applies a committed entry a moment
// after the leader.
func waitAuth(t *testing.T, addr, user, pw string, want error, what string) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		err = pingErr(t, addr, kgo.SASL(scram256(user, pw)))
		if (want == nil && err == nil) || (want != nil && errors.Is(err, want)) {
			return
		}
	}
	t.Fatalf("%s: authentication of %s: %v, want %v", what, user, err, want)
}
