package main

// Helpers shared by the commands that take an action ("ferry topic create",
// "ferry group delete", "ferry bench produce"): dispatch, name arguments,
// tables and per-name results.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kerr"
)

// runAction runs the action args[0] names with the rest of args. It prints
// usage to stdout for help (then returns flag.ErrHelp), and to stderr for a
// missing or unknown action, which are errors; kind is what the command
// calls its actions and choices lists them for those errors.
func runAction(args []string, usage, kind, choices string, actions map[string]func(args []string) error, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("missing %s: use %s", kind, choices)
	}
	if run, ok := actions[args[0]]; ok {
		return run(args[1:])
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return flag.ErrHelp
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown %s %q: use %s", kind, args[0], choices)
}

// parseName parses args and returns its one positional argument, the name
// of a kind ("topic", "group") of thing.
func parseName(fs *flag.FlagSet, args []string, kind string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", fmt.Errorf("want exactly one %s name, got %d", kind, len(pos))
	}
	return pos[0], nil
}

// parseNames parses args and returns its positional arguments, one or more
// names of a kind of thing.
func parseNames(fs *flag.FlagSet, args []string, kind string) ([]string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) == 0 {
		fs.Usage()
		return nil, fmt.Errorf("want at least one %s name", kind)
	}
	return pos, nil
}

// newTable returns a writer of aligned columns, separated by tabs in what
// is written to it, with header as its first row. Flush it at the end.
func newTable(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	return tw
}

// reportDeleted prints "deleted <kind> <name>" for each name whose failure
// is empty and returns an error listing the failures of the others.
func reportDeleted(stdout io.Writer, kind string, names []string, failure func(name string) string) error {
	var failed []string
	for _, name := range names {
		if why := failure(name); why != "" {
			failed = append(failed, name+": "+why)
			continue
		}
		fmt.Fprintf(stdout, "deleted %s %s\n", kind, name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not delete %d of %d %s(s): %s (see `ferry %s list`)", len(failed), len(names), kind, strings.Join(failed, "; "), kind)
	}
	return nil
}

// errMessage formats the broker's optional message about err as a suffix.
// A message that starts with err's own text (Ferry's do: "INVALID_CONFIG:
// The configuration is invalid.: config ...") loses that part, so the
// error's name and text are printed once.
func errMessage(err error, m string) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		for _, prefix := range []string{ke.Error(), ke.Message} {
			if rest, ok := strings.CutPrefix(m, prefix); ok {
				m = strings.TrimLeft(rest, ": ")
				break
			}
		}
		if m == ke.Description {
			m = "" // printed with the error already
		}
	}
	if m == "" {
		return ""
	}
	return ": " + m
}
