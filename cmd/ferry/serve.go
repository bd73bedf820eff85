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
	"github.com/ferry-mq/ferry/internal/console"
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
	if srv.HTTPAddr() != "" {
		cons := consoleFor(cfg, srv.Addr(), logger)
		defer cons.Close()
		srv.Mount(cons)
	}
	if *pprofAddr != "" {
		go func() {
			logger.Info("pprof listening", "addr", *pprofAddr)
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				logger.Error("pprof listener", "err", err)
			}
		}()
	}
	logger.Info("ferry is serving", "kafka", srv.Addr(), "kafka_tls", srv.TLSAddr(), "http", srv.HTTPAddr(), "rocketmq", srv.RocketMQAddr(), "sasl", cfg.Security.SASLMechanisms, "data_dir", cfg.DataDir)
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

// consoleFor is the web console at "/" of the HTTP listener: a Kafka
// client of this node's own plaintext listener (internal/console says why).
// Where that listener requires SASL the console, which has no login yet,
// is off rather than a way around the password; a node with only a TLS
// listener has none it can use. Either way the page says so.
func consoleFor(cfg config.Config, kafkaAddr string, logger *slog.Logger) *console.Console {
	switch {
	case len(cfg.Security.SASLMechanisms) > 0:
		return console.Unavailable("the console is off: the Kafka listener requires SASL (--sasl-mechanisms) and the console has no login yet, so it would let anyone who reaches the HTTP port act without a password")
	case kafkaAddr == "":
		return console.Unavailable("the console is off: it needs the plaintext Kafka listener (--kafka-addr) and this node has only a TLS one")
	}
	return console.New(console.Options{Brokers: []string{console.LocalSeed(kafkaAddr)}, Logger: logger.With("component", "console")})
}

func levelOf(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
