// Package httpapi is the node's HTTP listener: /metrics for Prometheus,
// /healthz and /readyz for orchestrators, and a root handler (the console
// and its /api/) mounted once the broker is open.
//
// The listener starts before the broker opens its data directory, so a
// probe sees the node alive (/healthz 200) but not ready (/readyz 503)
// while partitions are recovered, then ready once the Kafka listener
// serves.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP on one listener.
type Server struct {
	lis  net.Listener
	srv  *http.Server
	log  *slog.Logger
	done chan struct{}

	// notReady says why /readyz answers 503; nil once ready.
	notReady atomic.Pointer[string]
	root     atomic.Pointer[http.Handler]
}

// Listen binds addr and starts serving metrics (nil: /metrics answers 404)
// in the background. The node starts not ready: call SetReady.
func Listen(addr string, metrics http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	lis, err := listen(addr)
	if err != nil {
		return nil, err
	}
	s := &Server{lis: lis, log: logger, done: make(chan struct{})}
	s.SetNotReady("starting")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("/", s.serveRoot)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http listener stopped", "addr", s.Addr(), "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// SetReady makes /readyz answer 200.
func (s *Server) SetReady() { s.notReady.Store(nil) }

// SetNotReady makes /readyz answer 503 with reason.
func (s *Server) SetNotReady(reason string) { s.notReady.Store(&reason) }

// Ready reports what /readyz says.
func (s *Server) Ready() bool { return s.notReady.Load() == nil }

// Mount serves h at "/" (and every path not served otherwise, such as the
// console's /api/). Before Mount those paths answer 503.
func (s *Server) Mount(h http.Handler) { s.root.Store(&h) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if reason := s.notReady.Load(); reason != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", *reason)
		return
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if h := s.root.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/" {
		http.Error(w, "ferry: the broker is starting; try again shortly", http.StatusServiceUnavailable)
		return
	}
	http.NotFound(w, r)
}

// Close stops the listener and waits briefly for requests in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// listen binds addr and says how to fix a failure.
func listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err == nil {
		return lis, nil
	}
	hint := "check --http-addr: it is host:port, such as 127.0.0.1:9644, or empty to turn the HTTP listener off"
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		hint = "another process holds the port, maybe another broker on this machine: pick another port with --http-addr, or --http-addr= to turn it off"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = "the host is no address of this machine: use one of its addresses, 127.0.0.1, or 0.0.0.0 in --http-addr"
	case errors.Is(err, syscall.EACCES):
		hint = "ports below 1024 need privileges: pick a port above 1023 with --http-addr"
	}
	return nil, fmt.Errorf("http listener on %s: %w (%s)", addr, err, hint)
}
