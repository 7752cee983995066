package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/scoutergo/server/internal/gen/scouterv1"
)

// unaryChain returns the unary interceptors, outermost first:
// metrics → logging → auth (Message/Dataset only) → request size → recovery.
//
// Recovery is innermost so that a panic becomes codes.Internal before logging and metrics see
// the call. The size check runs after auth, like upstream, where the auth interceptor sees the
// call before the body is decoded.
func unaryChain(deps Deps, metrics *grpcprom.ServerMetrics) []grpc.UnaryServerInterceptor {
	chain := []grpc.UnaryServerInterceptor{
		metrics.UnaryServerInterceptor(),
		selector.UnaryServerInterceptor(
			logging.UnaryServerInterceptor(slogAdapter(deps.Logger), loggingOptions()...),
			selector.MatchFunc(notHealth),
		),
	}
	if deps.AuthInterceptor != nil {
		chain = append(chain, selector.UnaryServerInterceptor(deps.AuthInterceptor, selector.MatchFunc(needsAuth)))
	}
	return append(chain,
		unaryRequestSizeLimit,
		recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(recoverPanic(deps.Logger))),
	)
}

// streamChain returns the stream interceptors, outermost first. The Scouter services have no
// streaming RPCs; streams are health Watch and reflection, which need no auth.
func streamChain(deps Deps, metrics *grpcprom.ServerMetrics) []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{
		metrics.StreamServerInterceptor(),
		selector.StreamServerInterceptor(
			logging.StreamServerInterceptor(slogAdapter(deps.Logger), loggingOptions()...),
			selector.MatchFunc(notHealth),
		),
		recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(recoverPanic(deps.Logger))),
	}
}

// needsAuth reports whether a call goes through the auth hook: MessageService and
// DatasetService, as upstream.
func needsAuth(_ context.Context, c interceptors.CallMeta) bool {
	switch c.Service {
	case scouterv1.MessageService_ServiceDesc.ServiceName, scouterv1.DatasetService_ServiceDesc.ServiceName:
		return true
	default:
		return false
	}
}

// notHealth keeps health probes, which arrive every few seconds, out of the call log. They are
// still counted in the metrics.
func notHealth(_ context.Context, c interceptors.CallMeta) bool {
	return c.Service != healthpb.Health_ServiceDesc.ServiceName
}

// unaryRequestSizeLimit applies the 4 MiB request limit to every service except DatasetService.
// The transport limit is 64 MiB for all services (grpc-go has no per-service limit), so this
// check runs on the decoded request; proto.Size equals the wire size of the received message.
func unaryRequestSizeLimit(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	c := interceptors.NewServerCallMeta(info.FullMethod, nil, req)
	if c.Service != scouterv1.DatasetService_ServiceDesc.ServiceName {
		if m, ok := req.(proto.Message); ok {
			if size := proto.Size(m); size > DefaultMaxRecvMsgSize {
				return nil, status.Errorf(codes.ResourceExhausted,
					"received message larger than max (%d vs. %d)", size, DefaultMaxRecvMsgSize)
			}
		}
	}
	return handler(ctx, req)
}

// recoverPanic logs a recovered panic with its stack and turns it into codes.Internal. The
// panic value is not sent to the client.
func recoverPanic(logger *slog.Logger) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		logger.ErrorContext(ctx, "grpc handler panic",
			"method", method,
			"panic", fmt.Sprint(p),
			"stack", string(debug.Stack()),
		)
		return status.Error(codes.Internal, "internal server error")
	}
}

func loggingOptions() []logging.Option {
	return []logging.Option{
		// One line per call. PayloadReceived/PayloadSent are never enabled: no payloads in logs.
		logging.WithLogOnEvents(logging.FinishCall),
		// A success at debug (as the HTTP access log), the rest as the
		// middleware's defaults.
		logging.WithLevels(func(code codes.Code) logging.Level {
			if code == codes.OK {
				return logging.LevelDebug
			}
			return logging.DefaultServerCodeToLevel(code)
		}),
		logging.WithDurationField(func(d time.Duration) logging.Fields {
			return logging.Fields{"duration_ms", float64(d.Microseconds()) / 1000}
		}),
	}
}

// slogAdapter adapts slog to the go-grpc-middleware logger. It rewrites the middleware's dotted
// field names to the house keys (method, status, err, duration_ms, peer) and drops its other
// dotted fields, which also keeps any payload field out of the log. Fields without a dot (added by
// other interceptors through logging.InjectFields) pass through.
func slogAdapter(logger *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		if !logger.Enabled(ctx, slog.Level(lvl)) {
			return // e.g. a success (debug) at the default level: skip rewriting the fields
		}
		logger.Log(ctx, slog.Level(lvl), msg, houseFields(fields)...)
	})
}

func houseFields(fields []any) []any {
	var service, method string
	out := make([]any, 0, len(fields)+2)
	for i := 0; i+1 < len(fields); i += 2 {
		key, ok := fields[i].(string)
		if !ok {
			continue
		}
		val := fields[i+1]
		switch key {
		case logging.ServiceFieldKey:
			service = fmt.Sprint(val)
		case logging.MethodFieldKey:
			method = fmt.Sprint(val)
		case logging.MethodTypeFieldKey:
			out = append(out, "method_type", val)
		case "grpc.code":
			out = append(out, "status", val)
		case "grpc.error":
			out = append(out, "err", val)
		case "peer.address":
			out = append(out, "peer", val)
		default:
			if !strings.Contains(key, ".") {
				out = append(out, key, val)
			}
		}
	}
	if service != "" || method != "" {
		out = append([]any{"method", "/" + service + "/" + method}, out...)
	}
	return out
}
