package main

import (
	"bytes"
	"strings"
	"testing"
)

// runMain runs the ferry command line and returns its exit status, stdout
// and stderr.
func runMain(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelpGoesToStdout: -h and --help print usage to stdout and exit 0,
// so `ferry serve -h | grep` finds things; a mistake prints usage to
// stderr and exits non-zero.
func TestHelpGoesToStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "usage: ferry <command>"},
		{[]string{"--help"}, "usage: ferry <command>"},
		{[]string{"serve", "-h"}, "-kafka-addr"},
		{[]string{"serve", "--help"}, "FERRY_PPROF_ADDR"},
		{[]string{"produce", "--help"}, "-timeout"},
		{[]string{"consume", "-h"}, "-brokers"},
		{[]string{"topic", "-h"}, "usage: ferry topic"},
		{[]string{"topic", "create", "NAME", "-h"}, "-partitions"},
		{[]string{"group", "list", "--help"}, "-state"},
		{[]string{"bench", "produce", "-h"}, "-records"},
	} {
		code, out, errOut := runMain(tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) || errOut != "" {
			t.Errorf("ferry %q: exit %d, stdout has %q: %v, stderr has %d bytes; want the help on stdout and exit 0", tc.args, code, tc.want, strings.Contains(out, tc.want), len(errOut))
		}
	}
	for _, args := range [][]string{{"produce", "--bogus"}, {"serve", "--bogus"}, {"topic", "bogus"}, {}} {
		code, out, errOut := runMain(args...)
		if code == 0 || out != "" || !strings.Contains(errOut, "usage:") {
			t.Errorf("ferry %q: exit %d, stdout %q, stderr %q; want usage on stderr and a non-zero exit", args, code, out, errOut)
		}
	}
}
