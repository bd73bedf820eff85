package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
)

func TestUserLifecycle(t *testing.T) {
	addr := startFerryWith(t, func(cfg *config.Config) {
		cfg.Security.SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}
		cfg.Security.BootstrapUser = "root:root-pw"
		cfg.ACL.Superusers = []string{"User:root"} // SASL turns ACL checks on
	})
	as := func(user, pw string, args ...string) []string {
		return append(args, "--brokers", addr, "--sasl-user", user, "--sasl-password", pw, "--sasl-mechanism", "SCRAM-SHA-256", "--timeout", "10s")
	}
	out := mustRun(t, runUser, "frank-pw\n", as("root", "root-pw", "create", "frank", "--mechanism", "SCRAM-SHA-256")...)
	if out != "user frank stored (SCRAM-SHA-256)\n" {
		t.Fatalf("create printed %q", out)
	}
	// frank authenticates, but listing users needs DESCRIBE on the cluster.
	if _, _, err := runCmd(t, runUser, "", as("frank", "frank-pw", "list")...); err == nil || !strings.Contains(err.Error(), "CLUSTER_AUTHORIZATION_FAILED") {
		t.Fatalf("frank listed users without DESCRIBE on the cluster: %v", err)
	}
	out = mustRun(t, runUser, "", as("root", "root-pw", "list")...)
	for _, re := range []string{`(?m)^USER\tMECHANISMS$`, `(?m)^frank\tSCRAM-SHA-256\(8192 iterations\)$`, `(?m)^root\tSCRAM-SHA-256\(8192 iterations\),SCRAM-SHA-512\(8192 iterations\)$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("list does not match %s:\n%s", re, out)
		}
	}
	out = mustRun(t, runUser, "", as("root", "root-pw", "delete", "frank")...)
	if out != "user frank deleted (SCRAM-SHA-256)\n" {
		t.Fatalf("delete printed %q", out)
	}
	if _, _, err := runCmd(t, runUser, "", as("frank", "frank-pw", "list")...); err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("deleted user listed users: %v", err)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", as("root", "root-pw", "create", "x"), "empty password"},
		{"pw\n", as("root", "root-pw", "create", "x", "--mechanism", "PLAIN"), "--mechanism"},
		{"pw\n", as("root", "root-pw", "create", "x", "--iterations", "100"), "--iterations 100"},
		{"", as("root", "root-pw", "delete", "nobody"), "RESOURCE_NOT_FOUND"},
		{"", []string{"list", "--brokers", addr, "--sasl-password", "x"}, "without --sasl-user"},
	} {
		if _, _, err := runCmd(t, runUser, c.stdin, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
}
