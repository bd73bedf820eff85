package auth

import (
	"errors"
	"testing"
)

// FuzzScramServer feeds arbitrary client-first and client-final messages
// to the SCRAM server. Whatever they hold, the exchange fails with
// ErrFailed or succeeds for a real user; it never panics.
func FuzzScramServer(f *testing.F) {
	f.Add(false, []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abcXYZ,p=AAAA"))
	f.Add(true, []byte("n,,n=alice,r=rOprNGfwEbeRWgbNEkqO"), []byte("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	f.Add(false, []byte("y,a=bob,n=alice,r=x,ext=1"), []byte("c=eSxhPWJvYiw=,r=x,p="))
	f.Add(true, []byte("p=tls-unique,,n=a=2Cb,r=q"), []byte(",,,"))
	creds := testCreds(f)
	a := NewAuthenticator(func() Credentials { return creds })
	f.Fuzz(func(t *testing.T, sha512 bool, first, final []byte) {
		mech := ScramSHA256
		if sha512 {
			mech = ScramSHA512
		}
		x, err := a.Start(mech)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range [][]byte{first, final, final} {
			if _, err := x.Step(msg); err != nil {
				if !errors.Is(err, ErrFailed) {
					t.Fatalf("error %v does not wrap ErrFailed", err)
				}
				return
			}
		}
		if x.Done() {
			t.Fatalf("fuzzed messages authenticated %q", x.User())
		}
	})
}

// FuzzPlain feeds arbitrary PLAIN messages: only alice's password may
// succeed.
func FuzzPlain(f *testing.F) {
	f.Add([]byte("\x00alice\x00secret"))
	f.Add([]byte("alice\x00alice\x00wrong"))
	f.Add([]byte("\x00\x00\x00"))
	creds := testCreds(f)
	a := NewAuthenticator(func() Credentials { return creds })
	f.Fuzz(func(t *testing.T, msg []byte) {
		x, _ := a.Start(Plain)
		_, err := x.Step(msg)
		if err != nil && !errors.Is(err, ErrFailed) {
			t.Fatalf("error %v does not wrap ErrFailed", err)
		}
		if x.Done() && x.User() != "alice" {
			t.Fatalf("authenticated %q", x.User())
		}
	})
}
