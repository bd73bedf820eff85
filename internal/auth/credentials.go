package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/ferry-mq/ferry/internal/meta"
)

// DefaultIterations is the PBKDF2 iteration count of credentials made
// here: twice the minimum, as cheap for a client as Kafka's tools' default.
const DefaultIterations = 8192

// Credentials finds stored SCRAM credentials; *meta.Image is one.
type Credentials interface {
	ScramCredential(user, mechanism string) (meta.ScramCredential, bool)
}

// hashOf returns the hash of a SCRAM mechanism.
func hashOf(mechanism string) (func() hash.Hash, error) {
	switch mechanism {
	case meta.ScramSHA256:
		return sha256.New, nil
	case meta.ScramSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unknown SCRAM mechanism %q", mechanism)
}

// SaltPassword returns SaltedPassword = Hi(password, salt, iterations) of
// RFC 5802: PBKDF2 with the mechanism's HMAC.
func SaltPassword(mechanism, password string, salt []byte, iterations int) ([]byte, error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return nil, err
	}
	return pbkdf2.Key(h, password, salt, iterations, h().Size())
}

// ScramKeys derives what a server stores from a salted password:
// StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key").
func ScramKeys(mechanism string, saltedPassword []byte) (storedKey, serverKey []byte, err error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return nil, nil, err
	}
	mac := hmac.New(h, saltedPassword)
	mac.Write([]byte("Client Key"))
	clientKey := mac.Sum(nil)
	sum := h()
	sum.Write(clientKey)
	storedKey = sum.Sum(nil)
	mac = hmac.New(h, saltedPassword)
	mac.Write([]byte("Server Key"))
	return storedKey, mac.Sum(nil), nil
}

// RecordFromSalted is the record storing a credential whose password a
// client already salted (AlterUserScramCredentials sends the salted
// password, never the password).
func RecordFromSalted(mechanism, user string, salt, saltedPassword []byte, iterations int32) (meta.ScramRecord, error) {
	h, err := hashOf(mechanism)
	if err != nil {
		return meta.ScramRecord{}, err
	}
	if len(saltedPassword) != h().Size() {
		return meta.ScramRecord{}, fmt.Errorf("salted password of %d bytes for %s, want %d", len(saltedPassword), mechanism, h().Size())
	}
	stored, server, err := ScramKeys(mechanism, saltedPassword)
	if err != nil {
		return meta.ScramRecord{}, err
	}
	return meta.ScramRecord{User: user, Mechanism: mechanism, Salt: salt, Iterations: iterations, StoredKey: stored, ServerKey: server}, nil
}

// NewRecord salts password with a random salt and returns the record
// storing it (--bootstrap-user).
func NewRecord(mechanism, user, password string, iterations int) (meta.ScramRecord, error) {
	salt := make([]byte, 24)
	rand.Read(salt)
	salted, err := SaltPassword(mechanism, password, salt, iterations)
	if err != nil {
		return meta.ScramRecord{}, err
	}
	return RecordFromSalted(mechanism, user, salt, salted, int32(iterations))
}
