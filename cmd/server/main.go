// Command scouter-server serves the Scouter HTTP and gRPC APIs.
//
//	scouter-server [--mode both|http|grpc]   run the server
//	scouter-server config                    print the effective configuration (secrets masked)
//	scouter-server migrate                   apply database migrations and exit
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/scoutergo/server/internal/app"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scouter-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", string(app.ModeBoth), "listeners to run: both, http or grpc")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	m, err := app.ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(stderr, "scouter-server:", err)
		return 2
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}

	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "scouter-server: invalid configuration:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, logging.Options{Level: cfg.Log.Level, JSON: cfg.Log.JSON})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "config":
		fmt.Fprint(stdout, cfg.Format())
		return 0
	case "migrate":
		if err := app.Migrate(ctx, cfg, logger); err != nil {
			logger.Error("migrate failed", "err", err)
			return 1
		}
		logger.Info("migrations applied")
		return 0
	case "serve":
		if err := app.RunServer(ctx, cfg, logger, m); err != nil {
			logger.Error("server stopped", "err", err)
			return 1
		}
		logger.Info("server stopped")
		return 0
	default:
		fmt.Fprintf(stderr, "scouter-server: unknown command %q (want config, migrate or no command)\n", cmd)
		return 2
	}
}
