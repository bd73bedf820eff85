package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xscram "github.com/xdg-go/scram"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

const (
	adminUser     = "admin"
	adminPassword = "admin-secret"
)

// startSecureBroker starts an in-process broker with a plaintext and a TLS
// listener, SASL required on both with every mechanism, and the admin user;
// change lets a test adjust the config.
func startSecureBroker(t testing.TB, pki *testPKI, change func(*config.Config)) *server.Server {
	t.Helper()
	srv, _ := startServer(t, secureConfig(t, pki, change))
	return srv
}

// secureConfig is startSecureBroker's config.
func secureConfig(t testing.TB, pki *testPKI, change func(*config.Config)) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	cfg.AutoCreateTopics = false
	cert, key, _ := pki.issue(t, "server", pkix.Name{CommonName: "localhost"}, true)
	cfg.Security = config.SecurityConfig{
		TLSAddr: "127.0.0.1:0", TLSCert: cert, TLSKey: key,
		SASLMechanisms: []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"},
		BootstrapUser:  adminUser + ":" + adminPassword,
	}
	// SASL turns ACL checks on: the admin passes them.
	cfg.ACL.Superusers = []string{"User:" + adminUser}
	if change != nil {
		change(&cfg)
	}
	return cfg
}

// logBuffer collects a broker's log lines for a test to look at.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func scram256(user, pw string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pw}.AsSha256Mechanism()
}
func scram512(user, pw string) sasl.Mechanism {
	return scram.Auth{User: user, Pass: pw}.AsSha512Mechanism()
}
func plainMech(user, pw string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pw}.AsMechanism()
}

// pingErr is the error of a first request from a client with opts.
func pingErr(t *testing.T, addr string, opts ...kgo.Opt) error {
	t.Helper()
	cl := newClient(t, addr, append(opts, kgo.RetryTimeout(2*time.Second))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestSASLOverTLSWithFranzGo: over TLS each mechanism lets the right
// password in to create a topic, produce and consume (the consume reads
// segment bytes through TLS, which cannot use sendfile); a wrong password
// or an unknown user gets SASL_AUTHENTICATION_FAILED.
func TestSASLOverTLSWithFranzGo(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	tc := pki.clientTLS(t, "", "")
	for name, mech := range map[string]func(string, string) sasl.Mechanism{"SCRAM-SHA-256": scram256, "SCRAM-SHA-512": scram512, "PLAIN": plainMech} {
		t.Run(name, func(t *testing.T) {
			opts := []kgo.Opt{kgo.DialTLSConfig(tc), kgo.SASL(mech(adminUser, adminPassword))}
			cl := newClient(t, srv.TLSAddr(), opts...)
			topic := topicName(t)
			createTopic(t, kadm.NewClient(cl), topic, 2)
			var rs []*kgo.Record
			for i := range 300 {
				rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(strings.Repeat("v", i*7))})
			}
			produceSync(t, cl, rs...)
			got := consumeN(t, srv.TLSAddr(), allFrom(2, kgo.NewOffset().AtStart()), topic, len(rs), opts...)
			checkSameOrder(t, rs, got)

			for _, bad := range [][2]string{{adminUser, "wrong"}, {"nobody", adminPassword}} {
				err := pingErr(t, srv.TLSAddr(), kgo.DialTLSConfig(tc), kgo.SASL(mech(bad[0], bad[1])))
				if !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Fatalf("%s/%s: err = %v, want SASL_AUTHENTICATION_FAILED", bad[0], bad[1], err)
				}
			}
		})
	}
}

// checkSameOrder compares values per partition, in order.
func checkSameOrder(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	w, g := byPartition(want), byPartition(got)
	for p, rs := range w {
		if len(g[p]) != len(rs) {
			t.Fatalf("partition %d: %d records back, want %d", p, len(g[p]), len(rs))
		}
		for i := range rs {
			if string(g[p][i].Value) != string(rs[i].Value) {
				t.Fatalf("partition %d record %d differs", p, i)
			}
		}
	}
}

// rawConn speaks Kafka requests by hand, to see what the broker does with
// requests a real client would not send.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	r    *bufio.Reader
	corr int32
}

func dialRaw(t *testing.T, addr string, tc *tls.Config) *rawConn {
	t.Helper()
	var nc net.Conn
	var err error
	if tc != nil {
		nc, err = tls.Dial("tcp", addr, tc)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// send writes req and reads its response; a closed connection is io.EOF.
func (c *rawConn) send(req kmsg.Request) (kmsg.Response, error) {
	c.corr++
	body := req.AppendTo(nil)
	hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(c.corr))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len("raw")))
	hdr = append(hdr, "raw"...)
	if req.IsFlexible() {
		hdr = append(hdr, 0)
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+len(body)))
	if _, err := c.nc.Write(append(append(frame, hdr...), body...)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.r, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return nil, err
	}
	resp := req.ResponseKind()
	skip := 4
	if resp.IsFlexible() && req.Key() != 18 {
		skip = 5
	}
	if err := resp.ReadFrom(buf[skip:]); err != nil {
		c.t.Fatalf("decode %T: %v", resp, err)
	}
	return resp, nil
}

// authenticate runs a SCRAM-SHA-256 exchange with SaslHandshake v1 and
// SaslAuthenticate v1, returning the last response.
func (c *rawConn) authenticate(user, pw string) *kmsg.SASLAuthenticateResponse {
	c.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-256"
	if resp, err := c.send(hs); err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
		c.t.Fatalf("SaslHandshake: %v %+v", err, resp)
	}
	cl, err := xscram.SHA256.NewClient(user, pw, "")
	if err != nil {
		c.t.Fatal(err)
	}
	conv := cl.NewConversation()
	msg, _ := conv.Step("")
	for {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = 1, []byte(msg)
		resp, err := c.send(req)
		if err != nil {
			c.t.Fatalf("SaslAuthenticate: %v", err)
		}
		ar := resp.(*kmsg.SASLAuthenticateResponse)
		if ar.ErrorCode != 0 || conv.Done() {
			return ar
		}
		if msg, err = conv.Step(string(ar.SASLAuthBytes)); err != nil {
			c.t.Fatalf("client step: %v", err)
		}
		if conv.Done() {
			return ar
		}
	}
}

func metadataReq() kmsg.Request {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 4
	return req
}

// TestSASLRequiredClosesUnauthenticated: with SASL required, ApiVersions is
// answered before authentication but any other request closes the
// connection, on both listeners; once authenticated the same request is
// answered.
func TestSASLRequiredClosesUnauthenticated(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	for _, l := range []struct {
		addr string
		tc   *tls.Config
	}{{srv.Addr(), nil}, {srv.TLSAddr(), pki.clientTLS(t, "", "")}} {
		c := dialRaw(t, l.addr, l.tc)
		av := kmsg.NewPtrApiVersionsRequest()
		av.Version = 3
		av.ClientSoftwareName, av.ClientSoftwareVersion = "raw", "1"
		if _, err := c.send(av); err != nil {
			t.Fatalf("%s: ApiVersions before authentication: %v", l.addr, err)
		}
		if _, err := c.send(metadataReq()); !connClosed(err) {
			t.Fatalf("%s: Metadata before authentication: err %v, want the connection closed", l.addr, err)
		}
		c = dialRaw(t, l.addr, l.tc)
		if ar := c.authenticate(adminUser, adminPassword); ar.ErrorCode != 0 {
			t.Fatalf("%s: authentication failed: %v", l.addr, kerr.ErrorForCode(ar.ErrorCode))
		}
		if _, err := c.send(metadataReq()); err != nil {
			t.Fatalf("%s: Metadata after authentication: %v", l.addr, err)
		}
	}
	// A franz-go client without SASL gets nowhere either.
	if err := pingErr(t, srv.Addr()); err == nil {
		t.Fatal("client without SASL was served")
	}
}

// TestPlainRefusedWithoutTLS: PLAIN is not offered on the plaintext
// listener (UNSUPPORTED_SASL_MECHANISM) while SCRAM is; with
// --allow-plain-without-tls it is.
func TestPlainRefusedWithoutTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	if err := pingErr(t, srv.Addr(), kgo.SASL(plainMech(adminUser, adminPassword))); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Fatalf("PLAIN on plaintext: err = %v, want UNSUPPORTED_SASL_MECHANISM", err)
	}
	if err := pingErr(t, srv.Addr(), kgo.SASL(scram512(adminUser, adminPassword))); err != nil {
		t.Fatalf("SCRAM on plaintext: %v", err)
	}
	c := dialRaw(t, srv.Addr(), nil)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-256"
	resp, err := c.send(hs)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(resp.(*kmsg.SASLHandshakeResponse).SupportedMechanisms, ","); got != "SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Fatalf("plaintext listener offers %s", got)
	}

	allowed := startSecureBroker(t, pki, func(cfg *config.Config) { cfg.Security.AllowPlainWithoutTLS = true })
	if err := pingErr(t, allowed.Addr(), kgo.SASL(plainMech(adminUser, adminPassword))); err != nil {
		t.Fatalf("PLAIN on plaintext with --allow-plain-without-tls: %v", err)
	}
}

// TestFailedAuthenticationsLockOutAddress: after 10 failures from one
// address within a minute, even the right password is refused from it,
// with a message that says why.
func TestFailedAuthenticationsLockOutAddress(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	for i := range 10 {
		c := dialRaw(t, srv.Addr(), nil)
		if ar := c.authenticate(adminUser, "guess"); ar.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("guess %d: error code %d", i, ar.ErrorCode)
		}
	}
	c := dialRaw(t, srv.Addr(), nil)
	ar := c.authenticate(adminUser, adminPassword)
	if ar.ErrorCode != kerr.SaslAuthenticationFailed.Code || ar.ErrorMessage == nil || !strings.Contains(*ar.ErrorMessage, "too many failed") {
		t.Fatalf("right password after 10 failures: code %d message %v", ar.ErrorCode, ar.ErrorMessage)
	}
}

// TestSessionLifetime: the client is told the lifetime; franz-go
// re-authenticates on its own and keeps working past several lifetimes,
// while a client that does not re-authenticate is closed at its first
// request after the session ended.
func TestSessionLifetime(t *testing.T) {
	pki := newTestPKI(t)
	const lifetime = 1500 * time.Millisecond
	var logs logBuffer
	srv, err := server.Start(secureConfig(t, pki, func(cfg *config.Config) { cfg.Security.SASLSessionLifetime = lifetime }),
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c := dialRaw(t, srv.Addr(), nil)
	ar := c.authenticate(adminUser, adminPassword)
	if ar.ErrorCode != 0 || ar.SessionLifetimeMillis != lifetime.Milliseconds() {
		t.Fatalf("authenticate: code %d, session lifetime %dms", ar.ErrorCode, ar.SessionLifetimeMillis)
	}
	if _, err := c.send(metadataReq()); err != nil {
		t.Fatal(err)
	}

	cl := newClient(t, srv.Addr(), kgo.SASL(scram256(adminUser, adminPassword)))
	topic := topicName(t)
	createTopic(t, kadm.NewClient(cl), topic, 1)
	end := time.Now().Add(3 * lifetime)
	n := 0
	for time.Now().Before(end) {
		produceSync(t, cl, &kgo.Record{Topic: topic, Value: []byte("x")})
		n++
		time.Sleep(100 * time.Millisecond)
	}

	// franz-go re-authenticated on its connections before they expired.
	if !strings.Contains(logs.String(), "reauthentication=true") {
		t.Fatalf("franz-go never re-authenticated:\n%s", logs.String())
	}
	// Well past its lifetime, the raw connection never re-authenticated.
	if _, err := c.send(metadataReq()); !connClosed(err) {
		t.Fatalf("request after the session expired: err %v, want the connection closed", err)
	}
	if got := len(consumeN(t, srv.Addr(), allFrom(1, kgo.NewOffset().AtStart()), topic, n, kgo.SASL(scram256(adminUser, adminPassword)))); got != n {
		t.Fatalf("consumed %d of %d", got, n)
	}
}

// TestReauthenticationKeepsPrincipalAndMechanism: a second SASL exchange on
// an authenticated connection (KIP-368) succeeds as the same user; as
// another user it is refused and the connection closed; with another
// mechanism the handshake answers ILLEGAL_SASL_STATE and closes.
func TestReauthenticationKeepsPrincipalAndMechanism(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	adm := kadm.NewClient(newClient(t, srv.Addr(), kgo.SASL(scram256(adminUser, adminPassword))))
	if res, err := adm.AlterUserSCRAMs(testCtx(t, 20*time.Second), nil, []kadm.UpsertSCRAM{{User: "eve", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "eve-pw"}}); err != nil || res.Error() != nil {
		t.Fatalf("create eve: %v %v", err, res.Error())
	}

	c := dialRaw(t, srv.Addr(), nil)
	for range 2 {
		if ar := c.authenticate(adminUser, adminPassword); ar.ErrorCode != 0 {
			t.Fatalf("(re-)authentication as admin: %v", kerr.ErrorForCode(ar.ErrorCode))
		}
		if _, err := c.send(metadataReq()); err != nil {
			t.Fatalf("Metadata after (re-)authentication: %v", err)
		}
	}
	if ar := c.authenticate("eve", "eve-pw"); ar.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("re-authentication as another user: code %d", ar.ErrorCode)
	}
	if _, err := c.send(metadataReq()); !connClosed(err) {
		t.Fatalf("after a refused re-authentication: err %v, want the connection closed", err)
	}

	c = dialRaw(t, srv.Addr(), nil)
	if ar := c.authenticate(adminUser, adminPassword); ar.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(ar.ErrorCode))
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-512"
	resp, err := c.send(hs)
	if err != nil || resp.(*kmsg.SASLHandshakeResponse).ErrorCode != kerr.IllegalSaslState.Code {
		t.Fatalf("re-authentication with another mechanism: %v %+v", err, resp)
	}
	if _, err := c.send(metadataReq()); !connClosed(err) {
		t.Fatalf("after ILLEGAL_SASL_STATE: err %v, want the connection closed", err)
	}
}

// TestEachListenerAdvertisesItself: Metadata through the TLS listener names
// the TLS address, through the plaintext one the plaintext address, so a
// client stays on the listener it bootstrapped from.
func TestEachListenerAdvertisesItself(t *testing.T) {
	pki := newTestPKI(t)
	srv := startSecureBroker(t, pki, nil)
	for addr, opts := range map[string][]kgo.Opt{
		srv.Addr():    {kgo.SASL(scram256(adminUser, adminPassword))},
		srv.TLSAddr(): {kgo.SASL(scram256(adminUser, adminPassword)), kgo.DialTLSConfig(pki.clientTLS(t, "", ""))},
	} {
		md, err := kadm.NewClient(newClient(t, addr, opts...)).BrokerMetadata(testCtx(t, 20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port))) != addr {
			t.Fatalf("Metadata through %s lists %+v", addr, md.Brokers)
		}
	}
}

// connClosed reports whether err says the broker closed the connection:
// EOF, or a reset when the close found bytes the broker had not read.
func connClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}
