package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with --pprof-addr
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/server"
)

func runServe(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := config.Default()
	cfg.HTTPAddr = config.DefaultHTTPAddr
	fs := newFlagSet("serve", "ferry serve [flags]", stdout, stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ferry serve [flags]\n\nRuns a broker. Every flag also reads a FERRY_* environment variable (shown with each flag).\n\nflags:")
		fs.PrintDefaults()
	}
	cfg.Flags(fs)
	pprofAddr := fs.String("pprof-addr", "", "serve Go's /debug/pprof on this host:port, for profiling; off by default (env FERRY_PPROF_ADDR)")
	if err := config.ApplyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if showHelp(fs) {
		return flag.ErrHelp
	}
	if cfg.HTTPAddr == "off" {
		cfg.HTTPAddr = "" // what an environment variable can say (FERRY_HTTP_ADDR= is ignored)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags start with --", fs.Arg(0))
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	logger.Info("ferry starting", readBuildVersion().logAttrs()...)
	// The CLI's variables may well be set in the same shell.
	for _, v := range config.UnknownEnv(fs, os.Environ(), append([]string{brokersEnv, timeoutEnv}, securityEnv...)...) {
		logger.Warn("ignoring environment variable that is no ferry serve setting (misspelled?)", "var", v.Name, "did_you_mean", v.DidYouMean)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.Listen(cfg, logger)
	if err != nil {
		return err
	}
	if addr := srv.HTTPAddr(); addr != "" {
		logger.Info("http listening", "addr", addr)
	}
	if err := srv.Open(); err != nil {
		return err
	}
	if *pprofAddr != "" {
		go func() {
			logger.Info("pprof listening", "addr", *pprofAddr)
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				logger.Error("pprof listener", "err", err)
			}
		}()
	}
	logger.Info("ferry is serving", "kafka", srv.Addr(), "kafka_tls", srv.TLSAddr(), "http", srv.HTTPAddr(), "sasl", cfg.Security.SASLMechanisms, "data_dir", cfg.DataDir)
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-srv.Done():
		if err != nil {
			srv.Close()
			return err
		}
	}
	return srv.Close()
}

func levelOf(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
