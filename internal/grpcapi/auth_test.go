package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/grpcapi"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/user"
)

var grpcAuthSecrets = auth.Secrets{
	Access:    []byte("grpc-test-access-secret-0123456789abcdef"),
	Refresh:   []byte("grpc-test-refresh-secret-0123456789abcdef"),
	Bootstrap: []byte("grpc-test-bootstrap-key-0123456789abcdef"),
}

// identityMessage is a MessageService that reports the caller it was given.
type identityMessage struct {
	scouterv1.UnimplementedMessageServiceServer
}

func (identityMessage) InsertMessage(ctx context.Context, _ *scouterv1.InsertMessageRequest) (*scouterv1.InsertMessageResponse, error) {
	id, ok := auth.IdentityFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no identity in context")
	}
	return &scouterv1.InsertMessageResponse{Status: "success", Message: id.Username}, nil
}

type authHarness struct {
	*harness
	svc    *user.Service
	tokens *auth.Manager
	auth   scouterv1.AuthServiceClient
	msg    scouterv1.MessageServiceClient
}

// startAuth serves the real AuthService and interceptor over a user service
// on a fresh database with the default users.
func startAuth(t *testing.T) *authHarness {
	t.Helper()
	pool := pgtest.New(t)
	tokens, err := auth.NewManager(grpcAuthSecrets, nil)
	require.NoError(t, err)
	svc, err := user.New(user.Options{Store: user.NewPGStore(pool), Tokens: tokens})
	require.NoError(t, err)
	_, err = svc.EnsureDefaultUsers(context.Background(), user.Defaults{AdminUsername: "admin", AdminPassword: "admin"})
	require.NoError(t, err)
	h := start(t, grpcapi.Deps{
		Auth:            grpcapi.NewAuthService(svc, nil),
		Message:         identityMessage{},
		AuthInterceptor: grpcapi.NewAuthInterceptor(svc, nil),
	})
	return &authHarness{
		harness: h, svc: svc, tokens: tokens,
		auth: scouterv1.NewAuthServiceClient(h.conn),
		msg:  scouterv1.NewMessageServiceClient(h.conn),
	}
}

func (h *authHarness) login(t *testing.T, username, password string) string {
	t.Helper()
	resp, err := h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: username, Password: password})
	require.NoError(t, err)
	require.Equal(t, "success", resp.GetStatus())
	return resp.GetToken()
}

func withBearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func assertStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "not a status: %v", err)
	assert.Equal(t, code, st.Code(), "code (message %q)", st.Message())
	assert.Equal(t, msg, st.Message())
}

func TestGRPCLogin(t *testing.T) {
	h := startAuth(t)
	resp, err := h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "guest", Password: "guest"})
	require.NoError(t, err)
	assert.Equal(t, "success", resp.GetStatus())
	assert.Equal(t, "Login successful", resp.GetMessage())
	claims, err := h.tokens.ValidateAccess(resp.GetToken())
	require.NoError(t, err)
	assert.Equal(t, "guest", claims.Subject)

	_, err = h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "nobody", Password: "x"})
	assertStatus(t, err, codes.NotFound, "User not found: no user with that name")
	_, err = h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "guest", Password: "wrong"})
	assertStatus(t, err, codes.Unauthenticated, "Invalid credentials: wrong password")
	_, err = h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "a\x00b", Password: "x"})
	assertStatus(t, err, codes.NotFound, "User not found: no user with that name")
}

func TestGRPCLoginRateLimit(t *testing.T) {
	h := startAuth(t)
	for range auth.DefaultMaxFailures {
		_, err := h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "admin", Password: "wrong"})
		require.Equal(t, codes.Unauthenticated, status.Code(err))
	}
	var trailer metadata.MD
	_, err := h.auth.Login(testCtx(t), &scouterv1.LoginRequest{Username: "admin", Password: "admin"}, grpc.Trailer(&trailer))
	assertStatus(t, err, codes.ResourceExhausted, "Too many failed login attempts, retry after 300 seconds")
	assert.Equal(t, []string{"300"}, trailer.Get("retry-after"))
}

func TestGRPCRefreshAndValidate(t *testing.T) {
	h := startAuth(t)
	tok := h.login(t, "guest", "guest")

	ref, err := h.auth.RefreshToken(testCtx(t), &scouterv1.RefreshTokenRequest{AccessToken: tok})
	require.NoError(t, err)
	assert.Equal(t, "success", ref.GetStatus())
	assert.Equal(t, "Token refreshed successfully", ref.GetMessage())
	_, err = h.tokens.ValidateAccess(ref.GetToken())
	require.NoError(t, err)

	_, err = h.auth.RefreshToken(testCtx(t), &scouterv1.RefreshTokenRequest{AccessToken: "a.b.c"})
	assertStatus(t, err, codes.Unauthenticated, "Invalid token: cannot decode the access token")

	v, err := h.auth.ValidateToken(testCtx(t), &scouterv1.ValidateTokenRequest{Token: tok})
	require.NoError(t, err)
	assert.True(t, v.GetIsAuthenticated())
	assert.Equal(t, "success", v.GetStatus())
	assert.Equal(t, "Token is valid", v.GetMessage())

	v, err = h.auth.ValidateToken(testCtx(t), &scouterv1.ValidateTokenRequest{Token: "garbage"})
	require.NoError(t, err, "ValidateToken never fails")
	assert.False(t, v.GetIsAuthenticated())
	assert.Equal(t, "failed", v.GetStatus())
	assert.Equal(t, "Token is invalid", v.GetMessage())

	// A deleted user's token cannot be refreshed.
	require.NoError(t, h.svc.Delete(testCtx(t), auth.BootstrapIdentity(), "guest"))
	_, err = h.auth.RefreshToken(testCtx(t), &scouterv1.RefreshTokenRequest{AccessToken: tok})
	assert.Equal(t, codes.NotFound, status.Code(err))
}

func TestGRPCInterceptor(t *testing.T) {
	h := startAuth(t)
	tok := h.login(t, "guest", "guest")
	req := &scouterv1.InsertMessageRequest{MessageRecord: []byte(`{}`)}

	t.Run("valid token", func(t *testing.T) {
		var header metadata.MD
		resp, err := h.msg.InsertMessage(withBearer(testCtx(t), tok), req, grpc.Header(&header))
		require.NoError(t, err)
		assert.Equal(t, "guest", resp.GetMessage(), "identity handed to the handler")
		assert.Empty(t, header.Get("x-refreshed-token"))
	})

	t.Run("refused without metadata", func(t *testing.T) {
		_, err := h.msg.InsertMessage(testCtx(t), req)
		assertStatus(t, err, codes.Unauthenticated, "Missing authorization token")
	})

	missing := map[string]metadata.MD{
		"not bearer":   metadata.Pairs("authorization", "Basic Z3Vlc3Q6Z3Vlc3Q="),
		"empty bearer": metadata.Pairs("authorization", "Bearer "),
		"repeated":     metadata.Pairs("authorization", "Bearer "+tok, "authorization", "Bearer "+tok),
		"wrong key":    metadata.Pairs("token", tok),
	}
	for name, md := range missing {
		t.Run(name, func(t *testing.T) {
			_, err := h.msg.InsertMessage(metadata.NewOutgoingContext(testCtx(t), md), req)
			assertStatus(t, err, codes.Unauthenticated, "Missing authorization token")
		})
	}

	refreshTok, err := h.tokens.NewRefreshToken(auth.Identity{Username: "guest"})
	require.NoError(t, err)
	for name, bad := range map[string]string{"garbage": "x.y.z", "refresh-secret token": refreshTok} {
		t.Run(name, func(t *testing.T) {
			_, err := h.msg.InsertMessage(withBearer(testCtx(t), bad), req)
			assertStatus(t, err, codes.Unauthenticated, "Invalid token")
		})
	}

	t.Run("expired token is refreshed", func(t *testing.T) {
		past, err := auth.NewManager(grpcAuthSecrets, func() time.Time { return time.Now().Add(-2 * time.Hour) })
		require.NoError(t, err)
		expired, err := past.NewAccessToken(auth.Identity{Username: "guest"})
		require.NoError(t, err)

		var header metadata.MD
		resp, err := h.msg.InsertMessage(withBearer(testCtx(t), expired), req, grpc.Header(&header))
		require.NoError(t, err)
		assert.Equal(t, "guest", resp.GetMessage())
		fresh := header.Get("x-refreshed-token")
		require.Len(t, fresh, 1, "x-refreshed-token metadata")
		_, err = h.tokens.ValidateAccess(fresh[0])
		require.NoError(t, err, "the refreshed token is a raw, valid JWT")

		// The new token works without a further refresh.
		header = nil
		_, err = h.msg.InsertMessage(withBearer(testCtx(t), fresh[0]), req, grpc.Header(&header))
		require.NoError(t, err)
		assert.Empty(t, header.Get("x-refreshed-token"))

		// DatasetService goes through the same interceptor: refreshed, then
		// answered by the stand-in.
		header = nil
		_, err = scouterv1.NewDatasetServiceClient(h.conn).ListDatasets(withBearer(testCtx(t), expired),
			&scouterv1.ListDatasetsRequest{}, grpc.Header(&header))
		assert.Equal(t, codes.Unimplemented, status.Code(err))
		assert.Len(t, header.Get("x-refreshed-token"), 1)

		// admin never logged in: no stored refresh token.
		adminExpired, err := past.NewAccessToken(auth.Identity{Username: "admin"})
		require.NoError(t, err)
		_, err = h.msg.InsertMessage(withBearer(testCtx(t), adminExpired), req)
		assertStatus(t, err, codes.Unauthenticated, "Refresh token not found")

		ghost, err := past.NewAccessToken(auth.Identity{Username: "ghost"})
		require.NoError(t, err)
		_, err = h.msg.InsertMessage(withBearer(testCtx(t), ghost), req)
		assertStatus(t, err, codes.Unauthenticated, "User not found")
	})

	t.Run("dataset service needs a token", func(t *testing.T) {
		_, err := scouterv1.NewDatasetServiceClient(h.conn).ListDatasets(testCtx(t), &scouterv1.ListDatasetsRequest{})
		assertStatus(t, err, codes.Unauthenticated, "Missing authorization token")
	})

	t.Run("health and auth stay open", func(t *testing.T) {
		_, err := healthpb.NewHealthClient(h.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{Service: "scouter.grpc.v1.MessageService"})
		require.NoError(t, err)
	})
}
