package auth

import (
	"crypto/hmac"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// prefixedNonceFinal checks a client-final message whose nonce is longer
// than the server's and ends with it, and reports whether it handled the
// message (ok false: not such a message, the library checks it).
//
// librdkafka puts its own nonce before the whole server nonce, which
// already starts with it, so its nonce is client+client+server. RFC 5802
// wants the server's nonce exactly, and xdg-go/scram refuses anything
// else; Kafka's broker only checks that the nonce ends with the server's,
// so every librdkafka client authenticates there. The proof covers the
// message as sent, so the check is the one RFC 5802 gives, over this
// AuthMessage; the server's fresh nonce is still in it, so nothing can be
// replayed.
func (x *scramExchange) prefixedNonceFinal(final string) (reply []byte, ok bool, err error) {
	serverNonce, _ := scramAttr(x.serverFirst, "r")
	fields := strings.Split(final, ",")
	if len(fields) < 3 || serverNonce == "" {
		return nil, false, nil
	}
	nonce, isNonce := strings.CutPrefix(fields[1], "r=")
	if !isNonce || nonce == serverNonce || !strings.HasSuffix(nonce, serverNonce) {
		return nil, false, nil
	}
	x.conv = nil // this exchange ends here, either way
	fail := func(why string) ([]byte, bool, error) {
		if x.unknownUser {
			why = "unknown user"
		}
		return nil, true, fmt.Errorf("%w: %s user %q: %s", ErrFailed, x.mechanism, x.cred.User, why)
	}
	// The channel binding echoes the client's gs2 header: its first two
	// fields ("n,," without binding, as Kafka clients send).
	gs2 := strings.SplitN(x.clientFirst, ",", 3)
	if len(gs2) < 3 || fields[0] != "c="+base64.StdEncoding.EncodeToString([]byte(gs2[0]+","+gs2[1]+",")) {
		return fail("channel binding does not match the client's first message")
	}
	if authz, _ := strings.CutPrefix(gs2[1], "a="); authz != "" && authz != x.cred.User {
		return fail("asked to act as another user")
	}
	proofB64, isProof := strings.CutPrefix(fields[len(fields)-1], "p=")
	proof, derr := base64.StdEncoding.DecodeString(proofB64)
	if !isProof || derr != nil || len(proof) != x.keyLen {
		return fail("malformed proof")
	}
	authMessage := gs2[2] + "," + x.serverFirst + "," + final[:strings.LastIndex(final, ",")]
	mac := hmac.New(x.hashGen, x.cred.StoredKey)
	mac.Write([]byte(authMessage))
	clientKey := mac.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	h := x.hashGen()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), x.cred.StoredKey) != 1 || x.unknownUser {
		return fail("proof not valid")
	}
	mac = hmac.New(x.hashGen, x.cred.ServerKey)
	mac.Write([]byte(authMessage))
	x.done, x.user = true, x.cred.User
	return []byte("v=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))), true, nil
}

// scramAttr returns the value of attribute key in a SCRAM message.
func scramAttr(msg, key string) (string, bool) {
	for _, f := range strings.Split(msg, ",") {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v, true
		}
	}
	return "", false
}
