package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
)

func TestACLAddListRemove(t *testing.T) {
	b := []string{"--brokers", startFerryWith(t, func(*config.Config) {})}
	out := mustRun(t, runACL, "", append([]string{"add", "--principal", "User:alice", "--operation", "write", "--topic", "orders-", "--prefixed"}, b...)...)
	if want := "added: allow User:alice * write topic prefixed orders-\n"; out != want {
		t.Fatalf("add printed %q, want %q", out, want)
	}
	mustRun(t, runACL, "", append([]string{"add", "--principal", "User:bob", "--operation", "read", "--group", "g", "--deny"}, b...)...)

	out = mustRun(t, runACL, "", append([]string{"list"}, b...)...)
	for _, re := range []string{`(?m)^allow\s+User:alice\s+\*\s+write\s+topic\s+prefixed\s+orders-$`, `(?m)^deny\s+User:bob\s+\*\s+read\s+group\s+literal\s+g$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("list output does not match %s:\n%s", re, out)
		}
	}
	out = mustRun(t, runACL, "", append([]string{"list", "--principal", "User:bob"}, b...)...)
	if strings.Contains(out, "alice") || !strings.Contains(out, "User:bob") {
		t.Errorf("list --principal User:bob:\n%s", out)
	}

	out = mustRun(t, runACL, "", append([]string{"remove", "--principal", "User:alice"}, b...)...)
	if !strings.Contains(out, "1 binding(s) removed") {
		t.Errorf("remove printed %q", out)
	}
	if out = mustRun(t, runACL, "", append([]string{"list"}, b...)...); strings.Contains(out, "alice") {
		t.Errorf("alice's binding listed after remove:\n%s", out)
	}

	if _, _, err := runCmd(t, runACL, "", append([]string{"add", "--principal", "alice", "--operation", "read", "--topic", "t"}, b...)...); err == nil {
		t.Error("add accepted a principal without User:")
	}
	if _, _, err := runCmd(t, runACL, "", append([]string{"add", "--principal", "User:a", "--operation", "fly", "--topic", "t"}, b...)...); err == nil {
		t.Error("add accepted an unknown operation")
	}
	if _, _, err := runCmd(t, runACL, "", append([]string{"remove"}, b...)...); err == nil {
		t.Error("remove with no filter accepted")
	}
}
