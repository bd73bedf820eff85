package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromiumPath finds a Chromium or Chrome binary: $FERRY_CHROMIUM, else
// the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("FERRY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is $FERRY_SCREENSHOT_DIR (kept after the test, for people
// to look at) or a temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("FERRY_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	return dir
}

// TestBrowserConsole drives the console in a real headless Chromium: the
// topic list, a partition's messages, a group's lag, a message produced
// through the form, and live numbers that refresh without a reload. It
// writes a PNG of each page and fails on any uncaught JavaScript error.
func TestBrowserConsole(t *testing.T) {
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("no Chromium found (install Debian's chromium, or set FERRY_CHROMIUM to a Chrome binary): the browser test of the console is skipped")
	}
	f := startFixture(t, nil)
	commits := kadm.Offsets{}
	commits.Add(kadm.Offset{Topic: f.topic, Partition: 0, At: 4, LeaderEpoch: -1})
	if err := f.adm.CommitAllOffsets(ctxFor(t, 10*time.Second), "billing", commits); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// A second topic takes the burst that the live numbers must show, so
	// the known data of "orders" stays as the other checks expect.
	if _, err := f.adm.CreateTopic(ctxFor(t, 10*time.Second), 1, 1, nil, "clicks"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	dir := screenshotDir(t)
	t.Logf("screenshots go to %s", dir)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 860))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser; no time limit here, or it would end it
		t.Fatalf("start %s: %v", chromium, err)
	}
	var mu sync.Mutex
	var jsErrors []string
	if err := chromedp.Listen(browser, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			jsErrors = append(jsErrors, e.ExceptionDetails.Text+" "+describe(e.ExceptionDetails.Exception))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browser, 40*time.Second)
	defer cancel()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}

	// The topic list, and live numbers: the rate cell fills in from
	// end-offset deltas after two polls, with no reload.
	do("open the topic list",
		chromedp.Navigate(f.http.URL+"/#/topics"),
		chromedp.WaitVisible(chromedp.CSS(`#topics-table tr[data-topic="orders"]`)))
	if row := text(`#topics-table tr[data-topic="orders"]`); !strings.Contains(row, "11") {
		t.Errorf("topic row %q lacks the 11 records", row)
	}
	// The live cell fills in after two polls of /api/live.
	do("see a live rate", chromedp.Poll[chromedp.Void](`document.querySelector('[data-live-rate="orders"]').textContent.endsWith("/s")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	// Records written now show as a rate above zero, on the same page.
	var burst []*kgo.Record
	for range 50 {
		burst = append(burst, &kgo.Record{Topic: "clicks", Value: []byte("burst")})
	}
	if err := f.cl.ProduceSync(ctx, burst...).FirstErr(); err != nil {
		t.Fatalf("produce a burst: %v", err)
	}
	do("see the burst as a rate without a reload", chromedp.Poll[chromedp.Void](
		`(() => { const s = document.querySelector('[data-live-rate="clicks"]').textContent; return s.endsWith("/s") && parseFloat(s) > 0; })()`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if got := text(`[data-live-records="clicks"]`); got != "50" {
		t.Errorf("records of clicks shown %q after the burst, want 50 (refreshed without a reload)", got)
	}
	shot("topics.png")

	// A partition's messages, JSON shown pretty.
	do("open the messages of orders/0",
		chromedp.Navigate(f.http.URL+"/#/topics/orders/messages?partition=0"),
		chromedp.WaitVisible(chromedp.CSS(`#messages-table tr[data-offset="9"]`)))
	if row := text(`#messages-table tr[data-offset="9"]`); !strings.Contains(row, `"n": 9`) || !strings.Contains(row, "k9") || !strings.Contains(row, "t9") {
		t.Errorf("message row 9 = %q, want key k9, pretty JSON value and header t9", row)
	}
	noStrayNull(t, ctx)
	shot("messages.png")

	// A group's lag.
	do("open group billing",
		chromedp.Navigate(f.http.URL+"/#/groups/billing"),
		chromedp.WaitVisible(chromedp.CSS(`#lag-table tr[data-topic="orders"][data-partition="0"]`)))
	if lag := text("#group-lag"); lag != "7" {
		t.Errorf("group lag shown %q, want 7", lag)
	}
	if row := text(`#lag-table tr[data-topic="orders"][data-partition="0"] .lag`); row != "6" {
		t.Errorf("lag of orders/0 shown %q, want 6", row)
	}
	noStrayNull(t, ctx)
	shot("group.png")

	// Reset offsets: the dry run shows the plan and changes nothing.
	do("dry-run a reset to earliest",
		chromedp.SetValue(chromedp.ID("reset-to"), "earliest"),
		chromedp.Click(chromedp.ID("reset-dry")),
		chromedp.WaitVisible(chromedp.CSS("#reset-table")))
	if plan := text("#reset-table"); !strings.Contains(plan, "4") {
		t.Errorf("reset plan %q lacks the current commit 4", plan)
	}
	shot("reset-plan.png")
	if committed, err := f.adm.FetchOffsets(ctx, "billing"); err != nil {
		t.Fatal(err)
	} else if o, _ := committed.Lookup(f.topic, 0); o.At != 4 {
		t.Errorf("the dry run moved the commit to %d", o.At)
	}

	// Search by key.
	do("search for key k7",
		chromedp.Navigate(f.http.URL+"/#/topics/orders/search"),
		chromedp.SendKeys(chromedp.ID("search-key"), "k7\n"),
		chromedp.WaitVisible(chromedp.CSS("#search-table")))
	if got := text("#search-result"); !strings.Contains(got, "1 match.") || !strings.Contains(got, `"n": 7`) {
		t.Errorf("search result %q, want 1 match with value n=7", got)
	}
	shot("search.png")

	// Edit a config.
	do("set retention.ms",
		chromedp.Navigate(f.http.URL+"/#/topics/orders/configs"),
		chromedp.WaitVisible(chromedp.CSS(`input[data-config="retention.ms"]`)),
		chromedp.SetValue(chromedp.CSS(`input[data-config="retention.ms"]`), "7200000"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('input[data-config="retention.ms"]').closest("tr").querySelector("button").click()`),
		chromedp.WaitVisible(chromedp.CSS("#config-status .ok")))
	if rcs, err := f.adm.DescribeTopicConfigs(ctx, f.topic); err != nil {
		t.Fatal(err)
	} else if rc, _ := rcs.On(f.topic, nil); !hasConfig(rc.Configs, "retention.ms", "7200000") {
		t.Errorf("retention.ms was not set to 7200000 through the page")
	}
	shot("configs.png")

	// Brokers and the controller.
	do("open the brokers", chromedp.Navigate(f.http.URL+"/#/"), chromedp.WaitVisible(chromedp.CSS("#brokers-table")))
	if got := text("#controller"); !strings.HasPrefix(got, "broker ") {
		t.Errorf("controller shown as %q", got)
	}
	shot("brokers.png")

	// Produce through the form, then a real client reads it.
	do("produce through the form",
		chromedp.Navigate(f.http.URL+"/#/topics/orders/produce"),
		chromedp.WaitVisible(chromedp.ID("produce-send")),
		chromedp.SetValue(chromedp.ID("produce-partition"), "2"),
		chromedp.SendKeys(chromedp.ID("produce-key"), "from-browser"),
		chromedp.SendKeys(chromedp.ID("produce-value"), `{"via":"chromium"}`),
		chromedp.Click(chromedp.ID("produce-send")),
		chromedp.WaitVisible(chromedp.CSS("#produce-result .ok")))
	if got := text("#produce-result"); !strings.Contains(got, "partition 2 at offset 0") {
		t.Errorf("produce result %q, want partition 2 at offset 0", got)
	}
	shot("produce.png")
	cons, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{f.topic: {2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	recs := cons.PollFetches(ctxFor(t, 10*time.Second)).Records()
	if len(recs) != 1 || string(recs[0].Key) != "from-browser" || string(recs[0].Value) != `{"via":"chromium"}` {
		t.Errorf("consumed %v, want the message produced in the browser", recs)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, e := range jsErrors {
		t.Errorf("uncaught JavaScript error in the console: %s", e)
	}
}

// noStrayNull fails if the page shows a line that is only "null": an
// optional part of a view left out must leave nothing, not the word.
func noStrayNull(t *testing.T, ctx context.Context) {
	t.Helper()
	stray, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`/^null$/m.test(document.getElementById("view").innerText)`))
	if err != nil {
		t.Fatal(err)
	}
	if stray {
		t.Errorf("the page shows a stray \"null\"")
	}
}

func hasConfig(cs []kadm.Config, name, value string) bool {
	for _, c := range cs {
		if c.Key == name && c.MaybeValue() == value {
			return true
		}
	}
	return false
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}
