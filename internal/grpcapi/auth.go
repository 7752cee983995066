package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/user"
)

// Metadata keys of the auth contract.
const (
	MetadataAuthorization  = "authorization"
	MetadataRefreshedToken = "x-refreshed-token"
	MetadataRetryAfter     = "retry-after"
)

// AuthSessions is what AuthService needs from the user service.
type AuthSessions interface {
	Login(ctx context.Context, c user.Credentials) (string, error)
	Refresh(ctx context.Context, accessToken string) (string, error)
	Validate(accessToken string) (*auth.Claims, error)
}

// Authenticator is what the auth interceptor needs from the user service.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (*user.Session, error)
}

// AuthService implements scouter.grpc.v1.AuthService.
type AuthService struct {
	scouterv1.UnimplementedAuthServiceServer
	sessions AuthSessions
	logger   *slog.Logger
}

var _ scouterv1.AuthServiceServer = (*AuthService)(nil)

// NewAuthService returns the AuthService over s. logger receives the causes
// of INTERNAL errors (nil discards them).
func NewAuthService(s AuthSessions, logger *slog.Logger) *AuthService {
	return &AuthService{sessions: s, logger: orDiscard(logger)}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Login checks the credentials; the client requires status "success".
func (a *AuthService) Login(ctx context.Context, req *scouterv1.LoginRequest) (*scouterv1.LoginResponse, error) {
	token, err := a.sessions.Login(ctx, user.Credentials{
		Username:   req.GetUsername(),
		Password:   req.GetPassword(),
		ClientAddr: peerIP(ctx),
	})
	if err != nil {
		return nil, authStatus(ctx, a.logger, err, rpcLogin)
	}
	return &scouterv1.LoginResponse{Token: token, Status: "success", Message: "Login successful"}, nil
}

// RefreshToken exchanges an access token, expired or not, for a new one.
func (a *AuthService) RefreshToken(ctx context.Context, req *scouterv1.RefreshTokenRequest) (*scouterv1.RefreshTokenResponse, error) {
	token, err := a.sessions.Refresh(ctx, req.GetAccessToken())
	if err != nil {
		return nil, authStatus(ctx, a.logger, err, rpcRefresh)
	}
	return &scouterv1.RefreshTokenResponse{Token: token, Status: "success", Message: "Token refreshed successfully"}, nil
}

// ValidateToken never fails: it reports whether the token is valid.
func (a *AuthService) ValidateToken(_ context.Context, req *scouterv1.ValidateTokenRequest) (*scouterv1.ValidateTokenResponse, error) {
	if _, err := a.sessions.Validate(req.GetToken()); err != nil {
		return &scouterv1.ValidateTokenResponse{IsAuthenticated: false, Status: "failed", Message: "Token is invalid"}, nil
	}
	return &scouterv1.ValidateTokenResponse{IsAuthenticated: true, Status: "success", Message: "Token is valid"}, nil
}

// NewAuthInterceptor returns the unary interceptor for MessageService and
// DatasetService (grpcapi.Deps.AuthInterceptor). It requires metadata
// authorization: Bearer <token>, refreshes an expired token as the HTTP
// middleware does, and then returns the new token in the response header
// metadata x-refreshed-token (raw JWT) of whichever call it intercepted. The
// identity reaches handlers through auth.IdentityFrom(ctx). logger receives
// the causes of INTERNAL errors (nil discards them).
func NewAuthInterceptor(a Authenticator, logger *slog.Logger) grpc.UnaryServerInterceptor {
	logger = orDiscard(logger)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		token, ok := metadataBearer(ctx)
		if !ok {
			return nil, status.Error(codes.Unauthenticated, "Missing authorization token")
		}
		s, err := a.Authenticate(ctx, token)
		if err != nil {
			return nil, authStatus(ctx, logger, err, rpcIntercepted)
		}
		if s.RefreshedToken != "" {
			// SetHeader fails only once headers were sent, which cannot have
			// happened before the handler ran; the call goes on regardless.
			_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataRefreshedToken, s.RefreshedToken))
		}
		return handler(auth.WithIdentity(ctx, s.Identity), req)
	}
}

// metadataBearer returns the token of the one authorization metadata value
// "Bearer <token>".
func metadataBearer(ctx context.Context) (string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", false
	}
	vals := md.Get(MetadataAuthorization)
	if len(vals) != 1 {
		return "", false
	}
	return auth.BearerToken(vals[0])
}

// peerIP is the caller's IP address (the rate limit's second key), or the
// transport's address string when it is not TCP.
func peerIP(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}

type authRPC int

const (
	rpcLogin authRPC = iota
	rpcRefresh
	rpcIntercepted
)

// authFailedOpMessages are the INTERNAL messages per failed storage step.
var authFailedOpMessages = map[user.Op]string{
	user.OpGetUser:           "Failed to get user",
	user.OpStoreRefreshToken: "Failed to refresh token",
}

// authStatus is the one mapping of the user service's errors to gRPC
// statuses (spec §2.3). The interceptor answers UNAUTHENTICATED for every
// token problem and INTERNAL "Failed to update refresh token" when the
// refresh could not be completed; Login and RefreshToken answer NOT_FOUND for
// a missing user and UNAUTHENTICATED for bad credentials or tokens.
func authStatus(ctx context.Context, logger *slog.Logger, err error, rpc authRPC) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	st := authStatusOf(ctx, err, rpc)
	if st.Code() == codes.Internal {
		method, _ := grpc.Method(ctx)
		logger.ErrorContext(ctx, "grpc auth failed", slog.String("method", method), slog.Any("err", err))
	}
	return st.Err()
}

func authStatusOf(ctx context.Context, err error, rpc authRPC) *status.Status {
	if rpc == rpcIntercepted {
		switch {
		case errors.Is(err, user.ErrInvalidToken):
			return status.New(codes.Unauthenticated, "Invalid token")
		case errors.Is(err, user.ErrNotFound):
			return status.New(codes.Unauthenticated, "User not found")
		case errors.Is(err, user.ErrRefreshTokenMissing):
			return status.New(codes.Unauthenticated, "Refresh token not found")
		case errors.Is(err, user.ErrRefreshTokenInvalid):
			return status.New(codes.Unauthenticated, "Invalid refresh token")
		default:
			return status.New(codes.Internal, "Failed to update refresh token")
		}
	}
	var rl *user.RateLimitError
	switch {
	case errors.As(err, &rl):
		secs := max(1, int(math.Ceil(rl.RetryAfter.Seconds())))
		// Best effort: the trailer is a hint, the code is what matters.
		_ = grpc.SetTrailer(ctx, metadata.Pairs(MetadataRetryAfter, strconv.Itoa(secs)))
		return status.Newf(codes.ResourceExhausted, "Too many failed login attempts, retry after %d seconds", secs)
	case errors.Is(err, user.ErrNotFound):
		return status.New(codes.NotFound, "User not found: no user with that name")
	case errors.Is(err, user.ErrInvalidCredentials):
		return status.New(codes.Unauthenticated, "Invalid credentials: wrong password")
	case errors.Is(err, user.ErrInvalidToken):
		return status.New(codes.Unauthenticated, "Invalid token: cannot decode the access token")
	}
	if op, ok := user.FailedOp(err); ok {
		if msg, ok := authFailedOpMessages[op]; ok {
			return status.New(codes.Internal, msg)
		}
	}
	return status.New(codes.Internal, "internal server error")
}
