package main

// ferry log verify: an offline check of partition logs on disk. It reads
// every batch (length, CRC32C, offsets) without changing anything and lists
// the damaged ranges, including those a broker quarantined at start-up.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/log"
)

const logUsage = `usage: ferry log <action> [flags]

actions:
  verify --data-dir DIR [--topic T]   check every partition log; exit 1 if any is damaged

run 'ferry log <action> -h' for an action's flags`

func runLog(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runAction(args, logUsage, "action", "verify", map[string]func([]string) error{
		"verify": func(args []string) error { return logVerify(args, stdout, stderr) },
	}, stdout, stderr)
}

func logVerify(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("log verify", "ferry log verify --data-dir DIR [--topic T]", stdout, stderr)
	dataDir := fset.String("data-dir", "./data", "the broker's data directory (stop the broker first, or expect its active segments to be changing)")
	topic := fset.String("topic", "", "only the partitions of this topic")
	pos, err := parseArgs(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fset.Usage()
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	dirs, err := partitionDirs(*dataDir)
	if err != nil {
		return err
	}
	if *topic != "" {
		dirs = filterTopic(dirs, *topic)
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no partition logs under %s", *dataDir)
	}
	damaged, failed := 0, 0
	for _, dir := range dirs {
		name, _ := filepath.Rel(*dataDir, dir)
		ranges, err := log.Verify(dir)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(stdout, "%s: cannot verify: %v\n", name, err)
		case len(ranges) == 0:
			fmt.Fprintf(stdout, "%s: ok\n", name)
		default:
			damaged += len(ranges)
			fmt.Fprintf(stdout, "%s: %d damaged range(s)\n", name, len(ranges))
			for _, d := range ranges {
				fmt.Fprintf(stdout, "  %s\n", d)
			}
		}
	}
	if damaged > 0 || failed > 0 {
		return fmt.Errorf("%d damaged range(s), %d partition(s) not verified, in %d partition(s)", damaged, failed, len(dirs))
	}
	return nil
}

// partitionDirs returns the directories under dataDir that hold segment
// files (NNNNNNNNNNNNNNNNNNNN.log), sorted, except deleted partitions
// (TOPIC-N.<id>-delete) waiting for removal.
func partitionDirs(dataDir string) ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasSuffix(d.Name(), "-delete") {
			return fs.SkipDir // a deleted partition, being removed
		}
		if !d.IsDir() && isSegmentName(d.Name()) {
			seen[filepath.Dir(p)] = true
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("data directory %s does not exist", dataDir)
	}
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(seen))
	for dir := range seen {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	return dirs, nil
}

func isSegmentName(name string) bool {
	stem, ok := strings.CutSuffix(name, ".log")
	if !ok || len(stem) != 20 {
		return false
	}
	_, err := strconv.ParseUint(stem, 10, 64)
	return err == nil
}

// filterTopic keeps the partition directories of topic, named
// <topic>-<partition>.
func filterTopic(dirs []string, topic string) []string {
	var out []string
	for _, dir := range dirs {
		rest, ok := strings.CutPrefix(filepath.Base(dir), topic+"-")
		if _, err := strconv.Atoi(rest); ok && err == nil {
			out = append(out, dir)
		}
	}
	return out
}
