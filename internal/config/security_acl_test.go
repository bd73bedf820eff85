package config

import (
	"flag"
	"strings"
	"testing"
)

func TestACLConfigValidation(t *testing.T) {
	cases := map[string]struct {
		change func(*Config)
		want   string // "" for valid
	}{
		"defaults":                {func(*Config) {}, ""},
		"insecure needs authz":    {func(c *Config) { c.ACL.InsecurePrincipalFromClientID = true }, "test-only"},
		"insecure with authz":     {func(c *Config) { c.ACL.InsecurePrincipalFromClientID, c.ACL.Authorizer = true, true }, ""},
		"bad superuser":           {func(c *Config) { c.ACL.Superusers = []string{"admin"} }, `superuser "admin"`},
		"authorizer in a cluster": {func(c *Config) { c.ACL.Authorizer, c.ControllerQuorum = true, "1@127.0.0.1:9093" }, "--controller-quorum"},
		"negative principal conn": {func(c *Config) { c.ACL.MaxConnectionsPerPrincipal = -1 }, "per principal"},
	}
	for name, tc := range cases {
		cfg := Default()
		tc.change(&cfg)
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestSuperusersFlag(t *testing.T) {
	cfg := Default()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.Flags(fs)
	if err := fs.Parse([]string{"--authorizer", "--superusers", "User:admin, User:ops"}); err != nil {
		t.Fatal(err)
	}
	if !cfg.AuthorizationEnforced() || len(cfg.ACL.Superusers) != 2 || cfg.ACL.Superusers[1] != "User:ops" {
		t.Fatalf("parsed %+v", cfg.ACL)
	}
}
