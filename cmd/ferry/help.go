package main

// -h and --help: a command's usage goes to stdout with exit status 0, so
// `ferry serve -h | grep addr` works; usage printed because of a mistake
// still goes to stderr with the error.

import (
	"flag"
	"io"
	"strconv"
)

// helpFlag is -h and -help as ordinary boolean flags, so the flag package
// does not print usage to its error output for them; showHelp prints it to
// stdout after parsing.
type helpFlag struct {
	requested bool
	stdout    io.Writer
}

func (h *helpFlag) IsBoolFlag() bool { return true }
func (h *helpFlag) String() string   { return "false" }
func (h *helpFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	h.requested = v
	return err
}

// addHelpFlags registers -h and -help on fs, printing usage to stdout.
func addHelpFlags(fs *flag.FlagSet, stdout io.Writer) {
	h := &helpFlag{stdout: stdout}
	fs.Var(h, "h", "print this help")
	fs.Var(h, "help", "print this help")
}

// showHelp prints fs's usage to stdout and returns true if -h or -help was
// given.
func showHelp(fs *flag.FlagSet) bool {
	f := fs.Lookup("help")
	if f == nil {
		return false
	}
	h, ok := f.Value.(*helpFlag)
	if !ok || !h.requested {
		return false
	}
	out := fs.Output()
	fs.SetOutput(h.stdout)
	fs.Usage()
	fs.SetOutput(out)
	return true
}
