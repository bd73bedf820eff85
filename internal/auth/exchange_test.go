package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/ferry-mq/ferry/internal/meta"
)

// testCreds returns credentials holding alice's password "secret" for
// both SCRAM mechanisms.
func testCreds(t testing.TB) Credentials {
	img := meta.NewImage(0)
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		rec, err := NewRecord(mech, "alice", "secret", meta.MinScramIterations)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = img.Apply([]meta.Record{{Scram: &rec}}); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// runScram runs a whole exchange with xdg-go's client and returns the
// server's verdict.
func runScram(t *testing.T, a *Authenticator, mech, user, password string) (Exchange, error) {
	t.Helper()
	hg := scram.SHA256
	if mech == ScramSHA512 {
		hg = scram.SHA512
	}
	cl, err := hg.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := cl.NewConversation()
	x, err := a.Start(mech)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := conv.Step("")
	for err == nil && !x.Done() {
		var reply []byte
		if reply, err = x.Step([]byte(msg)); err != nil {
			break
		}
		msg, err = conv.Step(string(reply))
		if err != nil {
			t.Fatalf("client refused the server's message: %v", err)
		}
	}
	if err == nil && !conv.Valid() {
		t.Fatal("client did not verify the server's signature")
	}
	return x, err
}

func TestScramExchange(t *testing.T) {
	creds := testCreds(t)
	a := NewAuthenticator(func() Credentials { return creds })
	for _, mech := range []string{ScramSHA256, ScramSHA512} {
		x, err := runScram(t, a, mech, "alice", "secret")
		if err != nil || !x.Done() || x.User() != "alice" {
			t.Fatalf("%s right password: err %v, done %v, user %q", mech, err, x.Done(), x.User())
		}
		for _, c := range []struct{ user, password string }{{"alice", "wrong"}, {"mallory", "secret"}} {
			x, err := runScram(t, a, mech, c.user, c.password)
			if !errors.Is(err, ErrFailed) || x.Done() || x.User() != "" {
				t.Fatalf("%s %s/%s: err %v, done %v", mech, c.user, c.password, err, x.Done())
			}
		}
	}
}

func TestPlainExchange(t *testing.T) {
	creds := testCreds(t)
	a := NewAuthenticator(func() Credentials { return creds })
	for msg, ok := range map[string]bool{
		"\x00alice\x00secret":      true,
		"alice\x00alice\x00secret": true,
		"\x00alice\x00wrong":       false,
		"\x00bob\x00secret":        false,
		"bob\x00alice\x00secret":   false,
		"alice\x00secret":          false,
		"\x00alice\x00":            false,
	} {
		x, _ := a.Start(Plain)
		_, err := x.Step([]byte(msg))
		if (err == nil) != ok || x.Done() != ok {
			t.Errorf("PLAIN %q: err %v, done %v; want ok %v", msg, err, x.Done(), ok)
		}
		if err != nil && !errors.Is(err, ErrFailed) {
			t.Errorf("PLAIN %q: error %v does not wrap ErrFailed", msg, err)
		}
	}
}

func TestFailureLimiterLocksOutAfterMaxFailures(t *testing.T) {
	l := &FailureLimiter{MaxFailures: 3, Window: time.Minute, MaxAddrs: 10}
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := l.Allow("10.0.0.1", t0); !ok {
			t.Fatalf("refused before failure %d", i+1)
		}
		if locked := l.Fail("10.0.0.1", t0.Add(time.Duration(i)*time.Second)); locked != (i == 2) {
			t.Fatalf("failure %d: lockedOut %v", i+1, locked)
		}
	}
	if ok, wait := l.Allow("10.0.0.1", t0.Add(10*time.Second)); ok || wait != 50*time.Second {
		t.Fatalf("after 3 failures: allowed %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("10.0.0.2", t0.Add(10*time.Second)); !ok {
		t.Fatal("another address was refused")
	}
	if ok, _ := l.Allow("10.0.0.1", t0.Add(time.Minute)); !ok {
		t.Fatal("still refused once the window ended")
	}
}
