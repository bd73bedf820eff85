package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/meta"
)

// DescribeUserScramCredentials: v0.
//
// Lists users' SCRAM mechanisms and iteration counts, never salts or keys:
// every user for a null or empty list, else the users named (a user with
// no credential is RESOURCE_NOT_FOUND, one named twice DUPLICATE_RESOURCE).

func init() { register(50, 0, 0, handleDescribeUserScramCredentials) }

// scramMechanismCodes are the mechanism numbers of the SCRAM admin APIs.
var scramMechanismCodes = map[string]int8{meta.ScramSHA256: 1, meta.ScramSHA512: 2}

func scramMechanismName(code int8) string {
	for name, c := range scramMechanismCodes {
		if c == code {
			return name
		}
	}
	return ""
}

func handleDescribeUserScramCredentials(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	byUser := map[string][]meta.ScramCredential{}
	var users []string
	for _, cred := range c.s.broker.Image().ScramCredentials() {
		if _, ok := byUser[cred.User]; !ok {
			users = append(users, cred.User)
		}
		byUser[cred.User] = append(byUser[cred.User], cred)
	}
	if len(req.Users) > 0 {
		users = users[:0]
		for _, u := range req.Users {
			users = append(users, u.Name)
		}
	}
	seen := map[string]int{}
	for _, u := range users {
		seen[u]++
	}
	for _, u := range users {
		if seen[u] < 0 {
			continue // named twice: reported once already
		}
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		switch creds := byUser[u]; {
		case seen[u] > 1:
			seen[u] = -1
			r.ErrorCode = kerr.DuplicateResource.Code
			msg := "user named more than once"
			r.ErrorMessage = &msg
		case len(creds) == 0:
			r.ErrorCode = kerr.ResourceNotFound.Code
			msg := "no SCRAM credential for user " + u
			r.ErrorMessage = &msg
		default:
			for _, cred := range creds {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = scramMechanismCodes[cred.Mechanism], cred.Iterations
				r.CredentialInfos = append(r.CredentialInfos, info)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return now(resp)
}
