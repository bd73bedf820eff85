package main

// ferry version: what this binary was built from.

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildVersion is what the Go toolchain recorded in the binary: the module
// version ("(devel)" for a build from a checkout), the VCS revision and
// commit time when built inside a checkout, and the Go version.
type buildVersion struct {
	Module   string
	Revision string
	Time     string
	Modified bool
	Go       string
}

func readBuildVersion() buildVersion {
	v := buildVersion{Module: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v.Module = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is one line: "ferry (devel) rev 1a2b3c4d5e6f (modified) 2026-01-02T03:04:05Z go1.24.0".
func (v buildVersion) String() string {
	parts := []string{"ferry", v.Module}
	if v.Revision != "" {
		parts = append(parts, "rev", shortRevision(v.Revision))
		if v.Modified {
			parts = append(parts, "(modified)")
		}
	}
	if v.Time != "" {
		parts = append(parts, v.Time)
	}
	return strings.Join(append(parts, v.Go), " ")
}

// logAttrs are the version's fields for the start-up log line.
func (v buildVersion) logAttrs() []any {
	attrs := []any{"version", v.Module, "go", v.Go}
	if v.Revision != "" {
		attrs = append(attrs, "revision", shortRevision(v.Revision), "modified", v.Modified, "commit_time", v.Time)
	}
	return attrs
}

func shortRevision(r string) string { return r[:min(len(r), 12)] }

func runVersion(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "ferry version", stdout, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected arguments %q: version takes none", pos)
	}
	fmt.Fprintln(stdout, readBuildVersion())
	return nil
}
