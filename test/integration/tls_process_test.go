package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var tlsServingRE = regexp.MustCompile(`msg="ferry is serving".* kafka_tls=(\S+)`)

// tlsAddr is the TLS listener address p logged.
func (p *ferryProc) tlsAddr(t testing.TB) string {
	t.Helper()
	m := tlsServingRE.FindStringSubmatch(p.log())
	if m == nil || m[1] == `""` {
		t.Fatalf("no TLS listener in the log:\n%s", p.log())
	}
	return m[1]
}

// servedSerial is the serial number of the certificate the listener at
// addr presents to a new connection.
func servedSerial(t *testing.T, addr string, tc *tls.Config) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSCertificateRotatesWithoutRestart: a `ferry serve` process serves
// a new certificate to new connections once its files are replaced; a
// connection opened before keeps working; a key that does not match its
// certificate (a half-done replacement) keeps the last good pair.
func TestTLSCertificateRotatesWithoutRestart(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, first := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	p := startFerry(t, t.TempDir(), "--kafka-tls-addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
	addr := p.tlsAddr(t)
	tc := pki.clientTLS(t, "", "")
	if got := servedSerial(t, addr, tc); got != first {
		t.Fatalf("served serial %d, want %d", got, first)
	}
	cl := newClient(t, addr, kgo.DialTLSConfig(tc))
	topic := topicName(t)
	createTopic(t, kadm.NewClient(cl), topic, 1)
	produceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("before")})

	// Renew: issue writes the new pair over the old files.
	_, _, second := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	if got := servedSerial(t, addr, tc); got != second {
		t.Fatalf("after renewal served serial %d, want %d", got, second)
	}
	produceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("after")})

	// A key from another pair: refused, the renewed pair stays.
	_, otherKey, _ := pki.issue(t, "other", pkix.Name{CommonName: "other"}, true)
	b, err := os.ReadFile(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, key, b)
	if got := servedSerial(t, addr, tc); got != second {
		t.Fatalf("with a mismatched key served serial %d, want %d (the last good pair)", got, second)
	}
	waitForLog(t, p, "do not load")
	if !strings.Contains(p.log(), "do not load") {
		t.Fatalf("mismatched key not logged:\n%s", p.log())
	}
	if n := len(consumeN(t, addr, allFrom(1, kgo.NewOffset().AtStart()), topic, 2, kgo.DialTLSConfig(tc))); n != 2 {
		t.Fatalf("read %d of 2", n)
	}
}

func writeFileAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLSPrincipal: with --tls-client-ca the TLS listener refuses a
// client without a certificate and names one with a certificate by its
// subject, as Kafka does (RFC 2253, most specific first).
func TestMutualTLSPrincipal(t *testing.T) {
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	p := startFerry(t, t.TempDir(), "--kafka-tls-addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
		"--tls-client-ca", pki.caFile, "--log-level", "debug")
	addr := p.tlsAddr(t)
	ccert, ckey, _ := pki.issue(t, "alice", pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"Ferry Test"}}, false)
	if err := pingErr(t, addr, kgo.DialTLSConfig(pki.clientTLS(t, ccert, ckey))); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	const want = `principal="User:CN=alice,OU=eng,O=Ferry Test"`
	waitForLog(t, p, want)
	if !strings.Contains(p.log(), want) {
		t.Fatalf("log has no %s:\n%s", want, p.log())
	}
	if err := pingErr(t, addr, kgo.DialTLSConfig(pki.clientTLS(t, "", ""))); err == nil {
		t.Fatal("client without a certificate was served")
	}
}

// TestUserCommandAndBootstrapUser: `ferry serve --bootstrap-user` creates
// the admin, who creates a user with `ferry user create` (password on
// stdin); that user can then authenticate, is listed, and once deleted
// cannot authenticate any more. A restart keeps the users (metadata log)
// and does not reset the admin's password.
func TestUserCommandAndBootstrapUser(t *testing.T) {
	dir := t.TempDir()
	p := startFerry(t, dir, "--sasl-mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512", "--bootstrap-user", adminUser+":"+adminPassword, "--superusers", "User:"+adminUser)
	ferry := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(ferryBinary(t), args...)
		cmd.Env = append(os.Environ(), "FERRY_BROKERS="+p.addr, "FERRY_SASL_USER="+adminUser, "FERRY_SASL_PASSWORD="+adminPassword)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	if out, err := ferry("bob-secret\n", "user", "create", "bob"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	out, err := ferry("", "user", "list")
	if err != nil || !strings.Contains(out, "bob\tSCRAM-SHA-256(8192 iterations),SCRAM-SHA-512(8192 iterations)") || !strings.Contains(out, adminUser) {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	if err := pingErr(t, p.addr, kgo.SASL(scram512("bob", "bob-secret"))); err != nil {
		t.Fatalf("bob: %v", err)
	}
	p.stop()
	p = startFerry(t, dir, "--sasl-mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512", "--bootstrap-user", adminUser+":another", "--superusers", "User:"+adminUser)
	if err := pingErr(t, p.addr, kgo.SASL(scram256("bob", "bob-secret"))); err != nil {
		t.Fatalf("bob after restart: %v", err)
	}
	if err := pingErr(t, p.addr, kgo.SASL(scram256(adminUser, adminPassword))); err != nil {
		t.Fatalf("admin after restart with another bootstrap password: %v", err)
	}
	if out, err := ferry("", "user", "delete", "bob"); err != nil {
		t.Fatalf("user delete: %v\n%s", err, out)
	}
	if err := pingErr(t, p.addr, kgo.SASL(scram256("bob", "bob-secret"))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("deleted bob: err %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if out, err := ferry("", "user", "list", "--sasl-password", "wrong"); err == nil {
		t.Fatalf("user list with a wrong password succeeded:\n%s", out)
	}
}

// TestKcatSASLSSL: librdkafka produces and consumes over SASL_SSL with
// SCRAM, and over SSL with a client certificate; a wrong password fails
// with an authentication error.
func TestKcatSASLSSL(t *testing.T) {
	kcatPath(t)
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	p := startFerry(t, t.TempDir(), "--kafka-tls-addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
		"--sasl-mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN", "--bootstrap-user", adminUser+":"+adminPassword, "--superusers", "User:"+adminUser)
	addr := p.tlsAddr(t)
	tc := pki.clientTLS(t, "", "")
	adm := kadm.NewClient(newClient(t, addr, kgo.DialTLSConfig(tc), kgo.SASL(scram256(adminUser, adminPassword))))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("broker log:\n%s", p.log())
		}
	})
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			topic := topicName(t)
			createTopic(t, adm, topic, 1)
			sec := []string{"-b", addr, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + pki.caFile,
				"-X", "sasl.mechanisms=" + mech, "-X", "sasl.username=" + adminUser}
			var in strings.Builder
			for i := range 50 {
				fmt.Fprintf(&in, "line-%d\n", i)
			}
			runKcat(t, in.String(), append(sec, "-X", "sasl.password="+adminPassword, "-t", topic, "-P")...)
			out := runKcat(t, "", append(sec, "-X", "sasl.password="+adminPassword, "-t", topic, "-C", "-o", "beginning", "-e", "-c", "50")...)
			if got := strings.Count(out, "line-"); got != 50 {
				t.Fatalf("kcat read %d of 50:\n%s", got, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, kcatPath(t), append(sec, "-X", "sasl.password=wrong", "-L")...)
			b, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(b), "uthentication") {
				t.Fatalf("kcat with a wrong password: %v\n%s", err, b)
			}
		})
	}
}

// TestKcatMutualTLS: librdkafka with a client certificate on a listener
// that requires one.
func TestKcatMutualTLS(t *testing.T) {
	kcatPath(t)
	pki := newTestPKI(t)
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	p := startFerry(t, t.TempDir(), "--kafka-addr", "", "--kafka-tls-addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
		"--tls-client-ca", pki.caFile, "--log-level", "debug")
	addr := p.tlsAddr(t)
	ccert, ckey, _ := pki.issue(t, "kcat", pkix.Name{CommonName: "kcat-client"}, false)
	out := runKcat(t, "", "-b", addr, "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+pki.caFile,
		"-X", "ssl.certificate.location="+ccert, "-X", "ssl.key.location="+ckey, "-L")
	if !strings.Contains(out, addr) {
		t.Fatalf("kcat -L over mutual TLS does not list the broker at %s:\n%s", addr, out)
	}
	waitForLog(t, p, `principal="User:CN=kcat-client"`)
	if !strings.Contains(p.log(), `principal="User:CN=kcat-client"`) {
		t.Fatalf("no principal in the log:\n%s", p.log())
	}
}

// waitForLog waits up to 10s for p to log s: the log is read from a pipe,
// a little behind the client.
func waitForLog(t *testing.T, p *ferryProc, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.log(), s) {
			return
		}
	}
}
