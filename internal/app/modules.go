package app

import (
	"context"

	"github.com/gin-gonic/gin"
	"google.golang.org/grpc"

	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/httpapi"
)

// modules is what the feature packages contribute to the server: HTTP
// routes, gRPC services, the auth hooks, background runners (consumers,
// writers) and their shutdown steps.
type modules struct {
	routes   []httpapi.Registrar
	httpAuth gin.HandlerFunc

	grpcAuth        scouterv1.AuthServiceServer
	grpcMessage     scouterv1.MessageServiceServer
	grpcDataset     scouterv1.DatasetServiceServer
	grpcInterceptor grpc.UnaryServerInterceptor

	runners []runner
	closers []step
}

// runner is a background loop owned by the server's errgroup; it returns
// when ctx is cancelled.
type runner struct {
	name string
	run  func(ctx context.Context) error
}

// buildModules wires the feature packages onto the shared dependencies.
func buildModules(ctx context.Context, d ServerDeps) (*modules, error) {
	m := &modules{}
	return m, nil
}
