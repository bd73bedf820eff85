package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// librdkafkaFinal builds the client-final message librdkafka sends: its
// nonce, then the whole server nonce (which starts with its nonce again).
func librdkafkaFinal(t *testing.T, clientNonce, serverFirst, clientFirstBare, password string) string {
	t.Helper()
	serverNonce, _ := scramAttr(serverFirst, "r")
	saltB64, _ := scramAttr(serverFirst, "s")
	salt, _ := base64.StdEncoding.DecodeString(saltB64)
	salted, err := SaltPassword(ScramSHA256, password, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	withoutProof := "c=biws,r=" + clientNonce + serverNonce
	auth := clientFirstBare + "," + serverFirst + "," + withoutProof
	mac := hmac.New(sha256.New, salted)
	mac.Write([]byte("Client Key"))
	clientKey := mac.Sum(nil)
	stored := sha256.Sum256(clientKey)
	mac = hmac.New(sha256.New, stored[:])
	mac.Write([]byte(auth))
	proof := mac.Sum(nil)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

// TestScramLibrdkafkaNonce: librdkafka's client-final nonce is its nonce
// followed by the server's whole nonce. Kafka accepts it; so must we (kcat
// failed every SCRAM authentication before), and only with the right
// password.
func TestScramLibrdkafkaNonce(t *testing.T) {
	creds := testCreds(t)
	a := NewAuthenticator(func() Credentials { return creds })
	const cnonce = "_182^5nZchr^/cNeX8s3{2iQ;Rn`Z|:"
	for pw, ok := range map[string]bool{"secret": true, "wrong": false} {
		x, _ := a.Start(ScramSHA256)
		first := "n,,n=alice,r=" + cnonce
		sf, err := x.Step([]byte(first))
		if err != nil {
			t.Fatal(err)
		}
		reply, err := x.Step([]byte(librdkafkaFinal(t, cnonce, string(sf), strings.TrimPrefix(first, "n,,"), pw)))
		if ok != (err == nil) || x.Done() != ok {
			t.Fatalf("password %q: err %v, done %v", pw, err, x.Done())
		}
		if ok && (!strings.HasPrefix(string(reply), "v=") || x.User() != "alice") {
			t.Fatalf("server-final %q, user %q", reply, x.User())
		}
		if !ok && !errors.Is(err, ErrFailed) {
			t.Fatalf("error %v does not wrap ErrFailed", err)
		}
		if _, err := x.Step([]byte("again")); err == nil {
			t.Fatal("a step after the end succeeded")
		}
	}
}

// TestScramOverlongProof: a proof longer than the hash made xdg-go/scram
// v1.1.2 index out of range (a panic in the broker's read goroutine); it
// must fail as a wrong password does.
func TestScramOverlongProof(t *testing.T) {
	creds := testCreds(t)
	a := NewAuthenticator(func() Credentials { return creds })
	x, _ := a.Start(ScramSHA256)
	sf, err := x.Step([]byte("n,,n=alice,r=abc"))
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := scramAttr(string(sf), "r")
	long := base64.StdEncoding.EncodeToString(make([]byte, 64))
	if _, err := x.Step([]byte("c=biws,r=" + nonce + ",p=" + long)); !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
}
