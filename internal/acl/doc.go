// Package acl decides whether a principal may do an operation on a
// resource, with Kafka's authorisation model.
//
// A binding (meta.ACL) names a principal ("User:alice", or "User:*" for
// every user), a host (a client IP, or "*"), an operation, a permission
// (allow or deny) and a resource: a type (topic, group, cluster,
// transactional id), a name, and a pattern: literal (the name exactly, or
// "*" for every resource of the type) or prefixed (every name that starts
// with it).
//
// A request is allowed when no deny binding matches it and at least one
// allow binding does; deny wins. With no matching binding it is denied, as
// Kafka with allow.everyone.if.no.acl.found=false. An allow of READ, WRITE,
// DELETE or ALTER implies DESCRIBE, ALTER_CONFIGS implies
// DESCRIBE_CONFIGS, and ALL implies everything; a deny only denies the
// operation it names (or every one for ALL). Superusers pass every check.
//
// Bindings are stored as metadata records (meta.ACLRecord), so a cluster
// replicates them and a restart keeps them. The Authorizer indexes the
// image's immutable ACLSet by resource type and name and rebuilds the
// index when the set changes (a pointer comparison per request), so a
// decision allocates nothing.
package acl
