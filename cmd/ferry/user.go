package main

// ferry user create|delete|list: SCRAM users over the Kafka admin APIs
// (AlterUserScramCredentials, DescribeUserScramCredentials). The password is
// salted here; the broker stores only what it derives from the salted
// password.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

const userUsage = `usage: ferry user <action> [flags]

actions:
  create NAME [--password P] [--mechanism M] [--iterations N]
         (without --password the password is the first line of standard input)
  delete NAME [--mechanism M]
  list

run 'ferry user <action> -h' for an action's flags`

func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := interruptContext()
	defer cancel()
	list := func(args []string) error { return userList(ctx, args, stdout, stderr) }
	return runAction(args, userUsage, "action", "create, delete or list", map[string]func([]string) error{
		"create": func(args []string) error { return userCreate(ctx, args, stdin, stdout, stderr) },
		"delete": func(args []string) error { return userDelete(ctx, args, stdout, stderr) },
		"list":   list,
		"ls":     list,
	}, stdout, stderr)
}

// scramMechanisms maps --mechanism to kadm's mechanisms; "both" is both.
func scramMechanisms(s string) ([]kadm.ScramMechanism, error) {
	switch strings.ToUpper(s) {
	case "BOTH", "":
		return []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}, nil
	case "SCRAM-SHA-256":
		return []kadm.ScramMechanism{kadm.ScramSha256}, nil
	case "SCRAM-SHA-512":
		return []kadm.ScramMechanism{kadm.ScramSha512}, nil
	}
	return nil, fmt.Errorf("--mechanism %q: use SCRAM-SHA-256, SCRAM-SHA-512 or both", s)
}

func userCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("user create", "ferry user create NAME [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	password := fs.String("password", "", "the user's password; default: the first line of standard input (which keeps it out of process listings and shell history)")
	mech := fs.String("mechanism", "both", "SCRAM-SHA-256, SCRAM-SHA-512 or both (PLAIN clients are checked against either)")
	iterations := fs.Int("iterations", 8192, "PBKDF2 iterations, 4096 to 16384")
	name, err := parseName(fs, args, "user")
	if err != nil {
		return err
	}
	mechs, err := scramMechanisms(*mech)
	if err != nil {
		return err
	}
	if *iterations < 4096 || *iterations > 16384 {
		return fmt.Errorf("--iterations %d is not valid: use 4096 to 16384", *iterations)
	}
	pw := *password
	if pw == "" {
		if pw, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	var ups []kadm.UpsertSCRAM
	for _, m := range mechs {
		ups = append(ups, kadm.UpsertSCRAM{User: name, Mechanism: m, Iterations: int32(*iterations), Password: pw})
	}
	if err := alterUsers(ctx, cf, nil, ups); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s stored (%s)\n", name, mechNames(mechs))
	return nil
}

func userDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user delete", "ferry user delete NAME [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	mech := fs.String("mechanism", "both", "SCRAM-SHA-256, SCRAM-SHA-512 or both")
	name, err := parseName(fs, args, "user")
	if err != nil {
		return err
	}
	mechs, err := scramMechanisms(*mech)
	if err != nil {
		return err
	}
	if strings.EqualFold(*mech, "both") {
		// Delete what the user has: asking for a missing one fails.
		if mechs, err = userMechanisms(ctx, cf, name); err != nil {
			return err
		}
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range mechs {
		dels = append(dels, kadm.DeleteSCRAM{User: name, Mechanism: m})
	}
	if err := alterUsers(ctx, cf, dels, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s deleted (%s)\n", name, mechNames(mechs))
	return nil
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user list", "ferry user list [flags]", stdout, stderr)
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return fmt.Errorf("cannot list users: %w", err)
	}
	names := make([]string, 0, len(described))
	for n := range described {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(stdout, "USER\tMECHANISMS")
	for _, n := range names {
		var ms []string
		for _, info := range described[n].CredInfos {
			ms = append(ms, fmt.Sprintf("%s(%d iterations)", info.Mechanism, info.Iterations))
		}
		fmt.Fprintf(stdout, "%s\t%s\n", n, strings.Join(ms, ","))
	}
	return nil
}

// userMechanisms returns the mechanisms name has credentials for.
func userMechanisms(ctx context.Context, cf *clientFlags, name string) ([]kadm.ScramMechanism, error) {
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	described, err := adm.DescribeUserSCRAMs(ctx, name)
	if err == nil {
		err = described[name].Err
	}
	if err != nil {
		return nil, fmt.Errorf("cannot find user %q: %w", name, err)
	}
	var out []kadm.ScramMechanism
	for _, info := range described[name].CredInfos {
		out = append(out, info.Mechanism)
	}
	return out, nil
}

func alterUsers(ctx context.Context, cf *clientFlags, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM) error {
	adm, cl, err := cf.newAdmin(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := adm.requestContext(ctx)
	defer cancel()
	altered, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err == nil {
		err = altered.Error()
	}
	if err != nil {
		return fmt.Errorf("cannot change user: %w%s", err, alteredMessages(altered))
	}
	return nil
}

func alteredMessages(a kadm.AlteredUserSCRAMs) string {
	var msgs []string
	for _, r := range a {
		if r.ErrMessage != "" {
			msgs = append(msgs, r.ErrMessage)
		}
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

func mechNames(ms []kadm.ScramMechanism) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	return strings.Join(out, ", ")
}

// readPassword reads the first line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "password: ")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password: give --password or a line on standard input")
	}
	return line, nil
}
