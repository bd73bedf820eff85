package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/auth"
	"github.com/ferry-mq/ferry/internal/meta"
)

// ScramChange stores or deletes one SCRAM credential of a user. A stored
// credential arrives salted by the client (AlterUserScramCredentials):
// the broker never sees the password.
type ScramChange struct {
	Mechanism      string
	Delete         bool
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// AlterScramCredentials applies one user's changes together in one
// metadata update, so they are replicated and take effect on every node
// at once. Errors are Kafka's: UNSUPPORTED_SASL_MECHANISM,
// UNACCEPTABLE_CREDENTIAL, RESOURCE_NOT_FOUND (deleting what is not
// there).
func (b *Broker) AlterScramCredentials(user string, changes []ScramChange) error {
	if user == "" {
		return fmt.Errorf("%w: empty user name", kerr.UnacceptableCredential)
	}
	recs := make([]meta.Record, 0, len(changes))
	for _, c := range changes {
		if meta.ScramKeyLen(c.Mechanism) == 0 {
			return fmt.Errorf("%w: %q", kerr.UnsupportedSaslMechanism, c.Mechanism)
		}
		if c.Delete {
			recs = append(recs, meta.Record{Scram: &meta.ScramRecord{User: user, Mechanism: c.Mechanism, Delete: true}})
			continue
		}
		if c.Iterations < meta.MinScramIterations || c.Iterations > meta.MaxScramIterations {
			return fmt.Errorf("%w: %d iterations, allowed %d to %d", kerr.UnacceptableCredential, c.Iterations, meta.MinScramIterations, meta.MaxScramIterations)
		}
		if len(c.Salt) == 0 {
			return fmt.Errorf("%w: empty salt", kerr.UnacceptableCredential)
		}
		rec, err := auth.RecordFromSalted(c.Mechanism, user, c.Salt, c.SaltedPassword, c.Iterations)
		if err != nil {
			return fmt.Errorf("%w: %v", kerr.UnacceptableCredential, err)
		}
		recs = append(recs, meta.Record{Scram: &rec})
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		for _, r := range recs {
			if _, ok := img.ScramCredential(user, r.Scram.Mechanism); r.Scram.Delete && !ok {
				return nil, fmt.Errorf("%w: user %q has no %s credential", kerr.ResourceNotFound, user, r.Scram.Mechanism)
			}
		}
		return recs, nil
	})
	if err == nil {
		b.log.Info("SCRAM credentials changed", "user", user, "changes", len(changes))
	}
	return err
}

// EnsureUser stores SCRAM-SHA-256 and SCRAM-SHA-512 credentials of name
// with password unless name has a credential already (--bootstrap-user:
// a password changed since is kept). It reports whether it created them.
func (b *Broker) EnsureUser(name, password string) (bool, error) {
	var recs []meta.Record
	for _, mech := range []string{meta.ScramSHA256, meta.ScramSHA512} {
		rec, err := auth.NewRecord(mech, name, password, auth.DefaultIterations)
		if err != nil {
			return false, err
		}
		recs = append(recs, meta.Record{Scram: &rec})
	}
	created := false
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		for _, r := range recs {
			if _, ok := img.ScramCredential(name, r.Scram.Mechanism); ok {
				return nil, meta.ErrNoChange
			}
		}
		created = true
		return recs, nil
	})
	return created, err
}
