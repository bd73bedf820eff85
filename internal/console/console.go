package console

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds on what one request may read; see the package doc.
const (
	MaxMessages     = 500
	DefaultMessages = 50
	MaxFetchBytes   = 8 << 20
	MaxShownBytes   = 64 << 10
	MaxSearchScan   = 100_000
	DefaultScan     = 10_000
	MaxSearchHits   = 50
	// MaxConcurrentScans bounds the browses and searches running at once:
	// each has a Kafka consumer of its own and may hold MaxFetchBytes.
	MaxConcurrentScans = 4
	maxBodyBytes       = 1 << 20
)

//go:embed assets
var assets embed.FS

// Options configure a Console.
type Options struct {
	// Brokers are the Kafka addresses to seed the console's client with:
	// normally the node's own Kafka listener.
	Brokers []string
	// ClientOpts are added to every client the console makes (TLS, SASL).
	ClientOpts []kgo.Opt
	// Logger gets one line per failed request; nil discards.
	Logger *slog.Logger
	// RequestTimeout bounds each API request; 0 means 15 s.
	RequestTimeout time.Duration
	// Now is the clock for live rates; nil means time.Now.
	Now func() time.Time
}

// Console serves the web console and its JSON API. Close it to close its
// Kafka client.
type Console struct {
	opts    Options
	log     *slog.Logger
	client  *kgo.Client
	admin   *kadm.Client
	handler http.Handler
	// unavailable, when set, is why the console cannot work: every API
	// request answers it with 503 and the page shows it.
	unavailable string

	scans chan struct{} // a slot per running scan

	liveMu   sync.Mutex
	liveLast liveSample
}

// New returns the console for the cluster at opts.Brokers. It does not
// connect yet: the client dials on the first request, so a console made
// before the Kafka listener is up still works once it is.
func New(opts Options) *Console {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Console{opts: opts, log: opts.Logger, scans: make(chan struct{}, MaxConcurrentScans)}
	var err error
	if c.client, err = kgo.NewClient(c.clientOpts()...); err != nil {
		c.unavailable = "the console has no Kafka client: " + err.Error()
	} else {
		c.admin = kadm.NewClient(c.client)
	}
	c.handler = c.protect(c.routes())
	return c
}

// Unavailable returns a console that only says why it cannot work (on the
// page and, 503, on every API request), for a node whose listener it cannot
// use: better than a page that fails without a reason.
func Unavailable(reason string) *Console {
	c := &Console{opts: Options{Logger: slog.New(slog.DiscardHandler)}, log: slog.New(slog.DiscardHandler), unavailable: reason}
	c.handler = c.protect(c.routes())
	return c
}

// protect refuses mutating requests from other sites' pages, in JSON.
func (c *Console) protect(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusForbidden, msg: "cross-origin " + r.Method + " refused: use the console's own page"})
	}))
	return cop.Handler(h)
}

// clientOpts are the options every client of the console starts from.
func (c *Console) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.opts.Brokers...),
		kgo.ClientID("ferry-console"),
		kgo.MetadataMinAge(500 * time.Millisecond),
		kgo.RetryTimeout(5 * time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
	opts = append(opts, c.opts.ClientOpts...)
	return append(opts, extra...)
}

// LocalSeed turns a bound listener address into one this process can dial:
// a wildcard host (0.0.0.0, ::, none) becomes loopback.
func LocalSeed(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// Close closes the console's Kafka client.
func (c *Console) Close() {
	if c.client != nil {
		c.client.Close()
	}
}

// ServeHTTP serves the page, its assets and the API.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.handler.ServeHTTP(w, r)
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})
	api := func(pattern string, m methods) { mux.Handle(pattern, c.api(m)) }
	api("/api/cluster", methods{"GET": c.getCluster})
	api("/api/topics", methods{"GET": c.listTopics})
	api("/api/topics/{topic}", methods{"GET": c.getTopic})
	api("/api/topics/{topic}/configs", methods{"GET": c.getConfigs, "POST": c.alterConfigs})
	api("/api/topics/{topic}/messages", methods{"GET": c.browse, "POST": c.produce})
	api("/api/topics/{topic}/search", methods{"GET": c.search})
	api("/api/groups", methods{"GET": c.listGroups})
	api("/api/groups/{group}", methods{"GET": c.getGroup})
	api("/api/groups/{group}/reset", methods{"POST": c.resetOffsets})
	api("/api/transactions", methods{"GET": c.listTransactions})
	api("/api/transactions/{id}", methods{"GET": c.getTransaction})
	api("/api/live", methods{"GET": c.live})
	mux.Handle("/api/", c.api(nil)) // anything else under /api is a JSON 404
	return mux
}

// apiFunc handles one API request: it returns the value to send as JSON, or
// an error (an *apiError says which status).
type apiFunc func(ctx context.Context, r *http.Request) (any, error)

// methods maps an HTTP method to its handler for one path.
type methods map[string]apiFunc

// api wraps handlers for one path: method dispatch, time limit, body limit,
// JSON answers and errors. A nil map answers 404.
func (c *Console) api(m methods) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m == nil {
			writeError(w, errNotFound("no API endpoint %s", r.URL.Path))
			return
		}
		h, ok := m[r.Method]
		if !ok {
			w.Header().Set("Allow", allowed(m))
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, msg: r.Method + " is not allowed on " + r.URL.Path})
			return
		}
		if c.unavailable != "" {
			writeError(w, &apiError{status: http.StatusServiceUnavailable, msg: c.unavailable})
			return
		}
		defer func() {
			// A bug in a handler answers one request with a 500, in JSON,
			// and a logged stack; it never takes the listener down.
			if p := recover(); p != nil {
				c.log.Error("console handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeError(w, &apiError{status: http.StatusInternalServerError, msg: fmt.Sprintf("internal error: %v", p)})
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), c.opts.RequestTimeout)
		defer cancel()
		v, err := h(ctx, r)
		if err != nil {
			ae := classify(err)
			if ae.status >= 500 {
				c.log.Warn("console request failed", "method", r.Method, "path", r.URL.Path, "status", ae.status, "err", ae.msg)
			}
			writeError(w, ae)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}
