package main

// ferry acl add|list|remove: ACL administration over the Kafka APIs
// CreateAcls, DescribeAcls and DeleteAcls.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const aclUsage = `usage: ferry acl <action> [flags]

actions:
  add    --principal User:NAME --operation OP (--topic T | --group G | --transactional-id X | --cluster) [--prefixed] [--deny] [--host IP]
  list   [the same flags, each narrowing the list]
  remove [the same flags: removes every binding they match]

operations: all, read, write, create, delete, alter, describe, cluster_action,
describe_configs, alter_configs, idempotent_write

run 'ferry acl <action> -h' for an action's flags`

func runACL(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	list := func(args []string) error { return aclList(ctx, args, stdout, stderr) }
	return runAction(args, aclUsage, "action", "add, list or remove", map[string]func([]string) error{
		"add":    func(args []string) error { return aclAdd(ctx, args, stdout, stderr) },
		"list":   list,
		"ls":     list,
		"remove": func(args []string) error { return aclRemove(ctx, args, stdout, stderr) },
		"rm":     func(args []string) error { return aclRemove(ctx, args, stdout, stderr) },
	}, stdout, stderr)
}

// aclFlags are the flags that name a binding, or filter bindings.
type aclFlags struct {
	principal, host, operation   string
	topic, group, txnID          string
	cluster, prefixed, deny, any bool
}

func addACLFlags(fs *flag.FlagSet) *aclFlags {
	f := &aclFlags{}
	fs.StringVar(&f.principal, "principal", "", "principal, `User:NAME` (User:* for every user)")
	fs.StringVar(&f.host, "host", "", "client IP the binding applies to (default * for add)")
	fs.StringVar(&f.operation, "operation", "", "operation, e.g. read, write, describe, all")
	fs.StringVar(&f.topic, "topic", "", "topic name (* for every topic)")
	fs.StringVar(&f.group, "group", "", "consumer group name (* for every group)")
	fs.StringVar(&f.txnID, "transactional-id", "", "transactional id (* for every id)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster resource (cluster-wide operations: create topics, idempotent write …)")
	fs.BoolVar(&f.prefixed, "prefixed", false, "the resource name is a prefix: the binding covers every name starting with it")
	fs.BoolVar(&f.deny, "deny", false, "deny instead of allow (a deny wins over any allow)")
	return f
}

// resource returns the resource type and name the flags give.
func (f *aclFlags) resource(required bool) (kmsg.ACLResourceType, *string, error) {
	n := 0
	typ, name := kmsg.ACLResourceTypeAny, (*string)(nil)
	for _, r := range []struct {
		set  bool
		typ  kmsg.ACLResourceType
		name string
	}{
		{f.topic != "", kmsg.ACLResourceTypeTopic, f.topic},
		{f.group != "", kmsg.ACLResourceTypeGroup, f.group},
		{f.txnID != "", kmsg.ACLResourceTypeTransactionalId, f.txnID},
		{f.cluster, kmsg.ACLResourceTypeCluster, "kafka-cluster"},
	} {
		if r.set {
			n++
			typ, name = r.typ, &r.name
		}
	}
	if n > 1 {
		return 0, nil, fmt.Errorf("give one of --topic, --group, --transactional-id, --cluster, not %d", n)
	}
	if n == 0 && required {
		return 0, nil, fmt.Errorf("give one of --topic, --group, --transactional-id or --cluster")
	}
	return typ, name, nil
}

func (f *aclFlags) operationCode(required bool) (kmsg.ACLOperation, error) {
	if f.operation == "" {
		if required {
			return 0, fmt.Errorf("--operation is required (e.g. read, write, describe, all)")
		}
		return kmsg.ACLOperationAny, nil
	}
	op, err := kmsg.ParseACLOperation(strings.ReplaceAll(strings.ToLower(f.operation), "-", "_"))
	if err != nil || op == kmsg.ACLOperationAny || op == kmsg.ACLOperationUnknown {
		return 0, fmt.Errorf("unknown --operation %q; see 'ferry acl -h' for the list", f.operation)
	}
	return op, nil
}

// filter returns the DescribeAcls/DeleteAcls filter the flags give.
func (f *aclFlags) filter() (kmsg.DescribeACLsRequest, error) {
	req := kmsg.NewDescribeACLsRequest()
	rt, name, err := f.resource(false)
	if err != nil {
		return req, err
	}
	op, err := f.operationCode(false)
	if err != nil {
		return req, err
	}
	req.ResourceType, req.ResourceName, req.Operation = rt, name, op
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	if name != nil {
		req.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		if f.prefixed {
			req.ResourcePatternType = kmsg.ACLResourcePatternTypePrefixed
		}
	}
	req.PermissionType = kmsg.ACLPermissionTypeAny
	if f.deny {
		req.PermissionType = kmsg.ACLPermissionTypeDeny
	}
	if f.principal != "" {
		req.Principal = &f.principal
	}
	if f.host != "" {
		req.Host = &f.host
	}
	return req, nil
}

func aclAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("acl add", "ferry acl add [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	f := addACLFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	rt, name, err := f.resource(true)
	if err != nil {
		return err
	}
	op, err := f.operationCode(true)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(f.principal, "User:") || len(f.principal) == len("User:") {
		return fmt.Errorf("--principal %q: want User:NAME (or User:*)", f.principal)
	}
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.Operation, c.Principal = rt, *name, op, f.principal
	c.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
	if f.prefixed {
		c.ResourcePatternType = kmsg.ACLResourcePatternTypePrefixed
	}
	c.PermissionType = kmsg.ACLPermissionTypeAllow
	if f.deny {
		c.PermissionType = kmsg.ACLPermissionTypeDeny
	}
	c.Host = "*"
	if f.host != "" {
		c.Host = f.host
	}
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = append(req.Creations, c)
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("cannot add acl: %w", err)
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("cannot add acl: the broker answered %d results for 1 binding", len(resp.Results))
	}
	if err := codeErr(resp.Results[0].ErrorCode, resp.Results[0].ErrorMessage); err != nil {
		return fmt.Errorf("cannot add acl: %w", err)
	}
	fmt.Fprintf(stdout, "added: %s\n", bindingString(c.PermissionType, c.Principal, c.Host, c.Operation, c.ResourceType, c.ResourcePatternType, c.ResourceName))
	return nil
}

func aclList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("acl list", "ferry acl list [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	f := addACLFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	req, err := f.filter()
	if err != nil {
		return err
	}
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("cannot list acls: %w", err)
	}
	if err := codeErr(resp.ErrorCode, resp.ErrorMessage); err != nil {
		return fmt.Errorf("cannot list acls: %w", err)
	}
	var lines []string
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			lines = append(lines, bindingString(a.PermissionType, a.Principal, a.Host, a.Operation, r.ResourceType, r.ResourcePatternType, r.ResourceName))
		}
	}
	sort.Strings(lines)
	tw := newTable(stdout, "PERMISSION\tPRINCIPAL\tHOST\tOPERATION\tRESOURCE\tPATTERN\tNAME")
	for _, l := range lines {
		fmt.Fprintln(tw, strings.ReplaceAll(l, " ", "\t"))
	}
	return tw.Flush()
}

func aclRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("acl remove", "ferry acl remove [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	f := addACLFlags(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if f.principal == "" && f.topic == "" && f.group == "" && f.txnID == "" && !f.cluster {
		return fmt.Errorf("give at least --principal or a resource: remove does not delete every binding at once")
	}
	d, err := f.filter()
	if err != nil {
		return err
	}
	rf := kmsg.NewDeleteACLsRequestFilter()
	rf.ResourceType, rf.ResourceName, rf.ResourcePatternType = d.ResourceType, d.ResourceName, d.ResourcePatternType
	rf.Principal, rf.Host, rf.Operation, rf.PermissionType = d.Principal, d.Host, d.Operation, d.PermissionType
	req := kmsg.NewPtrDeleteACLsRequest()
	req.Filters = append(req.Filters, rf)
	cl, err := cf.newClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("cannot remove acls: %w", err)
	}
	if len(resp.Results) != 1 {
		return fmt.Errorf("cannot remove acls: the broker answered %d results for 1 filter", len(resp.Results))
	}
	res := resp.Results[0]
	if err := codeErr(res.ErrorCode, res.ErrorMessage); err != nil {
		return fmt.Errorf("cannot remove acls: %w", err)
	}
	for _, m := range res.MatchingACLs {
		fmt.Fprintf(stdout, "removed: %s\n", bindingString(m.PermissionType, m.Principal, m.Host, m.Operation, m.ResourceType, m.ResourcePatternType, m.ResourceName))
	}
	fmt.Fprintf(stdout, "%d binding(s) removed\n", len(res.MatchingACLs))
	return nil
}

func bindingString(perm kmsg.ACLPermissionType, principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, pt kmsg.ACLResourcePatternType, name string) string {
	return strings.Join([]string{strings.ToLower(perm.String()), principal, host, strings.ToLower(op.String()), strings.ToLower(rt.String()), strings.ToLower(pt.String()), name}, " ")
}

func codeErr(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	err := kerr.ErrorForCode(code)
	if msg != nil && *msg != "" {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q; flags start with --", pos[0])
	}
	return nil
}
