package kafka

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/acl"
)

// Authorisation of every API, as Kafka's KafkaApis does it, applied in
// front of the handlers: a request the principal may not make at all is
// answered here with the API's *_AUTHORIZATION_FAILED code; a request
// naming several topics or groups loses the ones denied, the handler
// serves the rest, and the denied ones are added to its response with
// their error code (authorize_topics.go, authorize_groups.go). With
// enforcement off (no --authorizer, no authentication) requests go
// straight to the handlers, as before ACLs existed.
//
// Checks run on the read goroutine, where the request's principal is
// known; anything a second phase checks captures principal and host first.

// serverSecurity is the ACL and quota state of a broker's listeners.
type serverSecurity struct {
	authz *acl.Authorizer
	// insecurePrincipalFromClientID is the test-only principal switch
	// (principal_testonly.go).
	insecurePrincipalFromClientID bool
	quotas                        *quotaManager // client quotas (quota.go)
}

// connSecurity is a connection's ACL and quota state.
type connSecurity struct {
	host      string // client IP, as ACL bindings name hosts
	principal string // counted against --max-connections-per-principal
	quota     connQuota
}

// host returns the client's IP address, looked up once per connection.
func (c *conn) host() string {
	if c.sec.host == "" {
		c.sec.host = c.ClientHost()
	}
	return c.sec.host
}

// allow reports whether the request's principal may do op on a resource.
func (c *conn) allow(op acl.Operation, rt acl.ResourceType, name string) bool {
	return c.s.security.authz.Authorize(c.effectivePrincipal(), c.host(), op, rt, name)
}

// allowCluster reports whether the principal may do op on the cluster.
func (c *conn) allowCluster(op acl.Operation) bool {
	return c.allow(op, acl.Cluster, acl.ClusterName)
}

// authorized returns the finisher of req: next's, after the checks.
func (c *conn) authorized(key int16, req kmsg.Request, next handlerFunc) finisher {
	if !c.s.security.authz.Enabled() {
		return next(c, req)
	}
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest, *kmsg.DescribeClusterRequest,
		// Authentication itself: it is what gives the principal.
		*kmsg.SASLHandshakeRequest, *kmsg.SASLAuthenticateRequest:
		return next(c, req)
	case *kmsg.ProduceRequest:
		return c.authorizeProduce(r, next)
	case *kmsg.FetchRequest:
		return c.authorizeFetch(r, next)
	case *kmsg.ListOffsetsRequest:
		return c.authorizeListOffsets(r, next)
	case *kmsg.MetadataRequest:
		return c.authorizeMetadata(r, next)
	case *kmsg.OffsetForLeaderEpochRequest:
		return c.authorizeOffsetForLeaderEpoch(r, next)
	case *kmsg.CreateTopicsRequest:
		return c.authorizeCreateTopics(r, next)
	case *kmsg.DeleteTopicsRequest:
		return c.authorizeDeleteTopics(r, next)
	case *kmsg.CreatePartitionsRequest:
		return c.authorizeCreatePartitions(r, next)
	case *kmsg.DescribeConfigsRequest:
		return c.authorizeDescribeConfigs(r, next)
	case *kmsg.AlterConfigsRequest:
		return c.authorizeAlterConfigs(r, next)
	case *kmsg.IncrementalAlterConfigsRequest:
		return c.authorizeIncrementalAlterConfigs(r, next)
	case *kmsg.DescribeLogDirsRequest:
		if !c.allowCluster(acl.Describe) {
			resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code // v3+; older versions see no dirs
			return now(resp)
		}
		return next(c, req)
	case *kmsg.DescribeACLsRequest, *kmsg.DescribeClientQuotasRequest, *kmsg.DescribeUserSCRAMCredentialsRequest:
		op := acl.Describe
		if key == 48 {
			op = acl.DescribeConfigs
		}
		if !c.allowCluster(op) {
			return now(clusterDenied(req))
		}
		return next(c, req)
	case *kmsg.CreateACLsRequest, *kmsg.DeleteACLsRequest, *kmsg.AlterClientQuotasRequest, *kmsg.AlterUserSCRAMCredentialsRequest:
		op := acl.Alter
		if key == 49 {
			op = acl.AlterConfigs
		}
		if !c.allowCluster(op) {
			return now(clusterDenied(req))
		}
		return next(c, req)
	}
	if fin, ok := c.authorizeGroupAPI(req, next); ok {
		return fin
	}
	if fin, ok := c.authorizeTxnAPI(req, next); ok {
		return fin
	}
	if fin, ok := c.authorizeReassignAPI(req, next); ok {
		return fin
	}
	// An API without a rule here is one only a superuser may use: a new
	// handler must not be open to everyone by omission.
	if c.s.security.authz.Superuser(c.effectivePrincipal()) {
		return next(c, req)
	}
	c.log.Warn("API has no authorisation rule; refused", "api", kmsg.NameForKey(key), "principal", c.effectivePrincipal())
	return now(clusterDenied(req))
}

// clusterDenied answers the cluster-wide admin requests a principal may
// not make.
func clusterDenied(req kmsg.Request) kmsg.Response {
	code := kerr.ClusterAuthorizationFailed.Code
	switch r := req.(type) {
	case *kmsg.DescribeACLsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.CreateACLsRequest:
		resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
		for range r.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode = code
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *kmsg.DeleteACLsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
		for range r.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode = code
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *kmsg.DescribeClientQuotasRequest:
		resp := r.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AlterClientQuotasRequest:
		resp := r.ResponseKind().(*kmsg.AlterClientQuotasResponse)
		for _, e := range r.Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			re.ErrorCode = code
			for _, ee := range e.Entity {
				ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ent.Type, ent.Name = ee.Type, ee.Name
				re.Entity = append(re.Entity, ent)
			}
			resp.Entries = append(resp.Entries, re)
		}
		return resp
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
		seen := map[string]bool{}
		add := func(user string) {
			if !seen[user] {
				seen[user] = true
				res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
				res.User, res.ErrorCode = user, code
				resp.Results = append(resp.Results, res)
			}
		}
		for _, d := range r.Deletions {
			add(d.Name)
		}
		for _, u := range r.Upsertions {
			add(u.Name)
		}
		return resp
	}
	// Any other API: its response with every error code field we can
	// reach set is more than we can build generically; the connection's
	// client gets the empty response, which no client reads as success
	// of a change it asked for.
	return req.ResponseKind()
}

// withAdded returns a finisher that runs fin and then add on its response
// (for entries of denied topics or groups), when it is a kmsg response.
func withAdded(fin finisher, add func(kmsg.Response)) finisher {
	return func() reply {
		rep := fin()
		if m, ok := rep.(msgReply); ok {
			add(m.resp)
		}
		return rep
	}
}
