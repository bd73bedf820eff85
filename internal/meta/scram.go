package meta

import (
	"fmt"
	"maps"
	"sort"
)

// SCRAM mechanisms a credential may be stored for (RFC 7677, RFC 5802 with
// SHA-512), named as Kafka names them.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
	// MinScramIterations is the least PBKDF2 iteration count stored, as in
	// Kafka (RFC 7677 recommends at least 4096).
	MinScramIterations = 4096
	// MaxScramIterations bounds the work one authentication can cost.
	MaxScramIterations = 16384
)

// ScramRecord stores (Delete false) or deletes one user's credential for
// one mechanism. It holds what the server needs to check a SCRAM proof and
// nothing from which the password follows without a brute-force search: the
// salt, the iteration count, StoredKey = H(HMAC(SaltedPassword, "Client
// Key")) and ServerKey = HMAC(SaltedPassword, "Server Key").
type ScramRecord struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Delete     bool   `json:"delete,omitempty"`
	Salt       []byte `json:"salt,omitempty"`
	Iterations int32  `json:"iterations,omitempty"`
	StoredKey  []byte `json:"stored_key,omitempty"`
	ServerKey  []byte `json:"server_key,omitempty"`
}

// ScramCredential is one user's stored credential for one mechanism.
type ScramCredential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism"`
	Salt       []byte `json:"salt"`
	Iterations int32  `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

type scramKey struct{ user, mechanism string }

// ScramKeyLen is the length of StoredKey and ServerKey for a mechanism, 0
// for a mechanism that is not SCRAM.
func ScramKeyLen(mechanism string) int {
	switch mechanism {
	case ScramSHA256:
		return 32
	case ScramSHA512:
		return 64
	}
	return 0
}

// ScramCredential returns user's credential for mechanism.
func (img *Image) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	c, ok := img.scram[scramKey{user, mechanism}]
	return c, ok
}

// ScramCredentials returns every stored credential, sorted by user and
// mechanism.
func (img *Image) ScramCredentials() []ScramCredential {
	out := make([]ScramCredential, 0, len(img.scram))
	for _, c := range img.scram {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Mechanism < out[j].Mechanism
	})
	return out
}

func (img *Image) applyScram(next *Image, r *ScramRecord) error {
	if r.User == "" {
		return fmt.Errorf("scram credential without a user")
	}
	keyLen := ScramKeyLen(r.Mechanism)
	if keyLen == 0 {
		return fmt.Errorf("scram credential of %q: unknown mechanism %q", r.User, r.Mechanism)
	}
	k := scramKey{r.User, r.Mechanism}
	if r.Delete {
		if _, ok := img.scram[k]; !ok {
			return fmt.Errorf("no %s credential of %q to delete", r.Mechanism, r.User)
		}
		next.scram = maps.Clone(img.scram)
		delete(next.scram, k)
		return nil
	}
	if r.Iterations < MinScramIterations || r.Iterations > MaxScramIterations || len(r.Salt) == 0 ||
		len(r.StoredKey) != keyLen || len(r.ServerKey) != keyLen {
		return fmt.Errorf("scram credential of %q for %s is malformed (iterations %d, salt %d bytes, keys %d and %d bytes)",
			r.User, r.Mechanism, r.Iterations, len(r.Salt), len(r.StoredKey), len(r.ServerKey))
	}
	next.scram = maps.Clone(img.scram)
	if next.scram == nil {
		next.scram = map[scramKey]ScramCredential{}
	}
	next.scram[k] = ScramCredential{User: r.User, Mechanism: r.Mechanism, Salt: r.Salt, Iterations: r.Iterations, StoredKey: r.StoredKey, ServerKey: r.ServerKey}
	return nil
}
