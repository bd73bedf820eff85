package integration

import (
	"errors"
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
