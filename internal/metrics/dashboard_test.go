package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardUsesRealMetrics: deploy/grafana/ferry.json is valid JSON,
// every panel queries something, and every ferry_ metric it queries exists
// (histograms through their _bucket, _sum and _count series).
func TestDashboardUsesRealMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/ferry.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	kinds := map[string]Kind{}
	for _, d := range All {
		kinds[d.Name] = d.Kind
	}
	used := map[string]bool{}
	name := regexp.MustCompile(`ferry_[a-z_]+`)
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if k, ok := kinds[strings.TrimSuffix(m, suffix)]; ok && k == KindHistogram && strings.HasSuffix(m, suffix) {
						base = strings.TrimSuffix(m, suffix)
					}
				}
				if _, ok := kinds[base]; !ok {
					t.Errorf("panel %q queries %s, which Ferry does not export", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	if len(used) < len(All)*3/4 {
		t.Errorf("the dashboard shows %d of %d metrics", len(used), len(All))
	}
}
