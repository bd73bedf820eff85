package config

import (
	"flag"
	"sort"
	"strings"
)

// UnknownVar is a FERRY_* environment variable that no setting reads,
// most likely a misspelling, with the closest known name if one is near.
type UnknownVar struct {
	Name       string
	DidYouMean string // empty when no known name is close
}

// UnknownEnv lists the FERRY_* variables in environ ("NAME=value" entries,
// as os.Environ returns) that no flag of fs reads and that are not in also
// (variables read elsewhere, such as the CLI's FERRY_BROKERS), sorted.
func UnknownEnv(fs *flag.FlagSet, environ []string, also ...string) []UnknownVar {
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "h" && f.Name != "help" { // as in ApplyEnv
			known[EnvName(f.Name)] = true
		}
	})
	for _, name := range also {
		known[name] = true
	}
	var out []UnknownVar
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "FERRY_") || known[name] {
			continue
		}
		out = append(out, UnknownVar{Name: name, DidYouMean: closest(name, known)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// closest returns the known name nearest to name by edit distance, if it
// is near enough to be a misspelling of it.
func closest(name string, known map[string]bool) string {
	best, bestDist := "", len(name)/3+1
	for k := range known {
		if d := editDistance(name, k); d < bestDist || (d == bestDist && best != "" && k < best) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
