package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMountServesRootAndAPI: before Mount, "/" answers 503 (starting) and
// other paths 404; after, the mounted handler gets "/" and every path the
// listener does not serve itself (the console's /api/...), while /healthz,
// /readyz and /metrics stay the listener's.
func TestMountServesRootAndAPI(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") })
	s, err := Listen("127.0.0.1:0", metrics, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	if code, _ := get(t, base+"/"); code != http.StatusServiceUnavailable {
		t.Errorf("/ before Mount: %d, want 503", code)
	}
	if code, _ := get(t, base+"/api/topics"); code != http.StatusNotFound {
		t.Errorf("/api/topics before Mount: %d, want 404", code)
	}
	s.Mount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console "+r.URL.Path) }))
	s.SetReady()
	for path, want := range map[string]string{
		"/":           "console /",
		"/api/topics": "console /api/topics",
		"/metrics":    "metrics",
		"/readyz":     "ready",
		"/healthz":    "ok",
	} {
		code, body := get(t, base+path)
		if code != http.StatusOK || !strings.HasPrefix(body, want) {
			t.Errorf("%s: %d %q, want 200 %q", path, code, body, want)
		}
	}
}
