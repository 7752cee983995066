// Package grpcapi builds the gRPC server of the Scouter API (package scouter.grpc.v1): the
// interceptor chain, the message size limits, grpc.health.v1, server reflection and the
// shutdown helpers. Service implementations are injected through Deps; a nil one is replaced by
// a stand-in that answers codes.Unimplemented for every RPC.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/scoutergo/server/internal/gen/scouterv1"
)

// Message size limits. Upstream allows 64 MiB in both directions on DatasetService (Arrow IPC
// payloads) and keeps the 4 MiB default for requests to every other service.
const (
	DatasetMaxMsgSize     = 64 << 20
	DefaultMaxRecvMsgSize = 4 << 20
)

// streamWorkers is the number of goroutines kept to run RPCs (more
// concurrent RPCs get a goroutine each, as without workers). A fresh
// goroutine per RPC grew its stack from 8 KB on every call (ingest decoding
// runs deep): ~5% of the server's CPU under ingest load.
const streamWorkers = 64

// Deps are the dependencies of the gRPC server.
type Deps struct {
	// Logger receives one line per finished call (never payloads) and recovered panics. Required.
	Logger *slog.Logger
	// Registerer receives the grpc_server_* metrics. Required.
	Registerer prometheus.Registerer

	// Service implementations; nil registers a stand-in answering codes.Unimplemented.
	Auth    scouterv1.AuthServiceServer
	Message scouterv1.MessageServiceServer
	Dataset scouterv1.DatasetServiceServer

	// AuthInterceptor, when set, runs for MessageService and DatasetService RPCs only (not for
	// AuthService, health or reflection), after metrics and logging and before the size check and
	// recovery.
	AuthInterceptor grpc.UnaryServerInterceptor

	// ServerOptions are appended to the server's own options (e.g. an OpenTelemetry
	// grpc.StatsHandler). They must not add interceptors: use the fields above.
	ServerOptions []grpc.ServerOption
}

// Server is a configured *grpc.Server together with its health service.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
}

// New builds the server with every service, health, reflection and the interceptor chain
// registered, and registers the gRPC metrics on deps.Registerer. It does not listen.
func New(deps Deps) (*Server, error) {
	if deps.Logger == nil {
		return nil, errors.New("grpcapi: Deps.Logger is nil")
	}
	if deps.Registerer == nil {
		return nil, errors.New("grpcapi: Deps.Registerer is nil")
	}

	metrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	if err := deps.Registerer.Register(metrics); err != nil {
		return nil, fmt.Errorf("register grpc metrics: %w", err)
	}

	opts := []grpc.ServerOption{
		grpc.NumStreamWorkers(streamWorkers),
		grpc.MaxRecvMsgSize(DatasetMaxMsgSize),
		grpc.MaxSendMsgSize(DatasetMaxMsgSize),
		grpc.ChainUnaryInterceptor(unaryChain(deps, metrics)...),
		grpc.ChainStreamInterceptor(streamChain(deps, metrics)...),
	}
	opts = append(opts, deps.ServerOptions...)
	srv := grpc.NewServer(opts...)

	authSvc := deps.Auth
	if authSvc == nil {
		authSvc = unimplementedAuth{}
	}
	messageSvc := deps.Message
	if messageSvc == nil {
		messageSvc = unimplementedMessage{}
	}
	datasetSvc := deps.Dataset
	if datasetSvc == nil {
		datasetSvc = unimplementedDataset{}
	}
	scouterv1.RegisterAuthServiceServer(srv, authSvc)
	scouterv1.RegisterMessageServiceServer(srv, messageSvc)
	scouterv1.RegisterDatasetServiceServer(srv, datasetSvc)

	hs := health.NewServer()
	for _, name := range HealthServiceNames() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(srv, hs)

	// Registers grpc.reflection.v1 and grpc.reflection.v1alpha.
	reflection.Register(srv)

	// Pre-create the series of every registered method so that dashboards see zeros.
	metrics.InitializeMetrics(srv)

	return &Server{grpc: srv, health: hs}, nil
}

// HealthServiceNames lists the names reported by grpc.health.v1: the server as a whole ("")
// and each Scouter service. Clients ask for scouter.grpc.v1.MessageService.
func HealthServiceNames() []string {
	return []string{
		"",
		scouterv1.MessageService_ServiceDesc.ServiceName,
		scouterv1.AuthService_ServiceDesc.ServiceName,
		scouterv1.DatasetService_ServiceDesc.ServiceName,
	}
}

// GRPC returns the underlying server, e.g. to register further services before Serve.
func (s *Server) GRPC() *grpc.Server {
	return s.grpc
}

// Serve accepts connections on lis until the server is stopped. It returns nil after Stop,
// GracefulStop or Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	if err := s.grpc.Serve(lis); err != nil {
		return fmt.Errorf("serve grpc on %s: %w", lis.Addr(), err)
	}
	return nil
}

// SetNotServing reports NOT_SERVING for every health name, so that load balancers stop sending
// traffic before the server drains. Later status changes are ignored.
func (s *Server) SetNotServing() {
	s.health.Shutdown()
}

// Shutdown sets every health status to NOT_SERVING and then stops the server gracefully, falling
// back to a hard stop when ctx ends first (see GracefulStop).
func (s *Server) Shutdown(ctx context.Context) error {
	s.SetNotServing()
	return GracefulStop(ctx, s.grpc)
}

// GracefulStop stops srv from accepting new connections and RPCs and waits for pending RPCs to
// finish. If ctx ends first, it stops srv hard (closing every connection and cancelling pending
// RPCs) and returns an error wrapping the ctx error. Long-lived streams such as health Watch keep
// a graceful stop waiting, so always pass a ctx with a deadline.
func GracefulStop(ctx context.Context, srv *grpc.Server) error {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.Stop()
		<-done
		return fmt.Errorf("grpc graceful stop, forced stop: %w", context.Cause(ctx))
	}
}
