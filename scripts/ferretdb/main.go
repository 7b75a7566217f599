// Command ferretdb runs FerretDB 1.24 (MongoDB wire protocol) on a PostgreSQL backend by embedding
// the documented library package github.com/FerretDB/FerretDB/ferretdb.
//
// Why not upstream's cmd/ferretdb: built with `go install` it panics at start, because the module
// ships no build/version/version.txt. The embedded package does not need it.
//
// Usage:
//
//	ferretdb --listen-addr 127.0.0.1:27018 --postgresql-url postgres://user@127.0.0.1:54329/ferretdb
//
// It stops cleanly (closing the listener, client connections and the backend pool) on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL connection URL of the backend, e.g. postgres://user@127.0.0.1:5432/ferretdb")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()

	if *postgresqlURL == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: --postgresql-url is required")
		os.Exit(2)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(*logLevel))); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: bad --log-level %q: %s\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		logger.Error("cannot start FerretDB", slog.String("error", err.Error()))
		os.Exit(1)
	}

	logger.Info("FerretDB listening", slog.String("addr", *listenAddr), slog.String("backend", "postgresql"))

	if err := f.Run(ctx); err != nil {
		logger.Error("FerretDB stopped with an error", slog.String("error", err.Error()))
		os.Exit(1)
	}

	logger.Info("FerretDB stopped")
}
