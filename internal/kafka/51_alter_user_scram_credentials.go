package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// AlterUserScramCredentials: v0.
//
// Stores (upsertions, salted by the client: the password never reaches the
// broker) and deletes users' SCRAM credentials in the metadata log, so every
// node of a cluster authenticates the same users. One result per user; all
// changes of one user apply together or not at all. Errors: a user named
// twice DUPLICATE_RESOURCE, an unknown mechanism UNSUPPORTED_SASL_MECHANISM,
// iterations outside 4096-16384 or an empty name or salt
// UNACCEPTABLE_CREDENTIAL, deleting a missing credential RESOURCE_NOT_FOUND.
// The metadata update runs in the second phase, as CreateTopics does.

func init() { register(51, 0, 0, handleAlterUserScramCredentials) }

func handleAlterUserScramCredentials(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	var users []string
	changes := map[string][]broker.ScramChange{}
	bad := map[string]error{}
	add := func(user string, ch broker.ScramChange, code int8) {
		if _, ok := changes[user]; !ok {
			users = append(users, user)
		}
		changes[user] = append(changes[user], ch)
		if ch.Mechanism == "" && bad[user] == nil {
			bad[user] = fmt.Errorf("%w: mechanism %d", kerr.UnsupportedSaslMechanism, code)
		}
	}
	seen := map[[2]string]bool{}
	note := func(user, mech string) {
		k := [2]string{user, mech}
		if seen[k] && bad[user] == nil {
			bad[user] = fmt.Errorf("%w: %s of user %q changed twice in one request", kerr.DuplicateResource, mech, user)
		}
		seen[k] = true
	}
	for _, d := range req.Deletions {
		m := scramMechanismName(d.Mechanism)
		note(d.Name, m)
		add(d.Name, broker.ScramChange{Mechanism: m, Delete: true}, d.Mechanism)
	}
	for _, u := range req.Upsertions {
		m := scramMechanismName(u.Mechanism)
		note(u.Name, m)
		add(u.Name, broker.ScramChange{Mechanism: m, Iterations: u.Iterations, Salt: u.Salt, SaltedPassword: u.SaltedPassword}, u.Mechanism)
	}
	b := c.s.broker
	return func() reply {
		resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
		for _, user := range users {
			err := bad[user]
			if err == nil {
				err = b.AlterScramCredentials(user, changes[user])
			}
			r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			r.User = user
			if err != nil {
				var ke *kerr.Error
				if !errors.As(err, &ke) {
					ke = kerr.UnknownServerError
				}
				r.ErrorCode = ke.Code
				msg := err.Error()
				r.ErrorMessage = &msg
			}
			resp.Results = append(resp.Results, r)
		}
		return msgReply{resp}
	}
}
