// Command killserver is a test-only server for the ingest durability test:
// the ingest pipeline and the HTTP ingest routes on a random local port,
// against DATABASE_URI, with a stand-in auth middleware that lets every
// request in. It prints "listening <addr>" once it accepts connections.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/httpapi"
	"github.com/scoutergo/server/internal/ingest"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "killserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URI"))
	if err != nil {
		return err
	}
	defer pool.Close()
	resolver, err := entity.NewResolver(pool, 1000)
	if err != nil {
		return err
	}
	pipeline, err := ingest.New(ingest.Options{DB: pool, Entities: resolver, Writers: 2,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	router := httpapi.NewRouter(httpapi.Deps{
		Auth:   allowAll,
		Routes: []httpapi.Registrar{httpapi.NewIngestHandler(pipeline, nil)},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

func allowAll(c *gin.Context) {
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), auth.Identity{Username: "durability"}))
	c.Next()
}
