package metrics

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// tableRow is a metric's row in README's metrics table.
func tableRow(d *Desc) string {
	labels := strings.Join(d.Labels, ", ")
	if labels == "" {
		labels = "—"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s |", d.Name, d.Kind, labels, d.Help, d.Like)
}

// TestReadmeListsEveryMetric: README's table has one row per metric, as
// tableRow writes it, and names no metric that does not exist. Run with
// -v to print the rows when adding a metric.
func TestReadmeListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	names := map[string]bool{}
	var rows []string
	for _, d := range All {
		names[d.Name] = true
		rows = append(rows, tableRow(d))
		if !strings.Contains(readme, tableRow(d)+"\n") {
			t.Errorf("README lacks the row of %s (or it is out of date):\n%s", d.Name, tableRow(d))
		}
	}
	for _, m := range regexp.MustCompile("\\| `(ferry_[a-z_]+)` \\|").FindAllStringSubmatch(readme, -1) {
		if !names[m[1]] {
			t.Errorf("README lists %s, which no Desc defines", m[1])
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("rows:\n%s", strings.Join(rows, "\n"))
	}
}

// TestDescsAreConsistent: names are unique and Prometheus-shaped, counters
// end in _total, scraped metrics are no histograms.
func TestDescsAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	valid := regexp.MustCompile(`^ferry_[a-z_]+$`)
	for _, d := range All {
		if seen[d.Name] || !valid.MatchString(d.Name) {
			t.Errorf("%s: duplicate or badly formed name", d.Name)
		}
		seen[d.Name] = true
		if (d.Kind == KindCounter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: counters, and only counters, end in _total", d.Name)
		}
		if d.Scraped && d.Kind == KindHistogram {
			t.Errorf("%s: a scraped histogram cannot be emitted", d.Name)
		}
		if d.Help == "" || d.Like == "" {
			t.Errorf("%s: no help or no Kafka/Redpanda equivalent", d.Name)
		}
	}
}
