package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/user"
)

// Header and cookie names of the auth contract.
const (
	HeaderUsername       = "Username"
	HeaderPassword       = "Password"
	HeaderAuthorization  = "Authorization"
	HeaderBootstrapToken = "X-Bootstrap-Token"
	CookieAccessToken    = "access_token"
)

// Sessions is what the /auth routes need from the user service.
type Sessions interface {
	Login(ctx context.Context, c user.Credentials) (string, error)
	Refresh(ctx context.Context, accessToken string) (string, error)
	Validate(accessToken string) (*auth.Claims, error)
}

// Authenticator is what the auth middleware needs from the user service.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (*user.Session, error)
	CheckBootstrap(key string) bool
}

// TokenResponse is the body of login and refresh: {"token": "<jwt>"}.
type TokenResponse struct {
	Token string `json:"token"`
}

// AuthenticatedResponse is the body of validate.
type AuthenticatedResponse struct {
	IsAuthenticated bool `json:"is_authenticated"`
}

// AuthHandler serves GET /scouter/auth/login, /refresh and /validate, which
// sit outside the auth middleware.
type AuthHandler struct {
	sessions Sessions
}

var _ Registrar = (*AuthHandler)(nil)

// NewAuthHandler returns the /auth routes over s.
func NewAuthHandler(s Sessions) *AuthHandler { return &AuthHandler{sessions: s} }

// RegisterRoutes implements Registrar.
func (h *AuthHandler) RegisterRoutes(public, _ *gin.RouterGroup) {
	public.GET("/auth/login", h.login)
	public.GET("/auth/refresh", h.refresh)
	public.GET("/auth/validate", h.validate)
}

// login takes the credentials from the Username and Password headers.
func (h *AuthHandler) login(c *gin.Context) {
	username, ok := credentialHeader(c, HeaderUsername, "Username header not found", "Invalid username format")
	if !ok {
		return
	}
	password, ok := credentialHeader(c, HeaderPassword, "Password header not found", "Invalid password format")
	if !ok {
		return
	}
	token, err := h.sessions.Login(c.Request.Context(), user.Credentials{
		Username: username, Password: password, ClientAddr: c.ClientIP(),
	})
	if err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, TokenResponse{Token: token})
}

// credentialHeader reads a header that must be present exactly once and hold
// printable ASCII. A missing header answers 400 missing; an empty, repeated
// or non-ASCII one answers 400 invalid.
func credentialHeader(c *gin.Context, name, missing, invalid string) (string, bool) {
	vals := c.Request.Header.Values(name)
	switch {
	case len(vals) == 0:
		WriteError(c, NewError(http.StatusBadRequest, missing))
		return "", false
	case len(vals) > 1 || !auth.ValidHeaderValue(vals[0]):
		WriteError(c, NewError(http.StatusBadRequest, invalid))
		return "", false
	}
	return vals[0], true
}

// authBearer returns the token of the request's one Authorization: Bearer
// header. A missing, repeated or malformed header gives false.
func authBearer(c *gin.Context) (string, bool) {
	vals := c.Request.Header.Values(HeaderAuthorization)
	if len(vals) != 1 {
		return "", false
	}
	return auth.BearerToken(vals[0])
}

// refresh exchanges an access token, expired or not, for a new one.
func (h *AuthHandler) refresh(c *gin.Context) {
	tok, ok := authBearer(c)
	if !ok {
		WriteError(c, NewError(http.StatusUnauthorized, "No refresh token provided"))
		return
	}
	token, err := h.sessions.Refresh(c.Request.Context(), tok)
	if err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, TokenResponse{Token: token})
}

// validate checks an access token (signature and expiry).
func (h *AuthHandler) validate(c *gin.Context) {
	tok, ok := authBearer(c)
	if !ok {
		WriteError(c, NewError(http.StatusUnauthorized, "Bearer token not found"))
		return
	}
	if _, err := h.sessions.Validate(tok); err != nil {
		WriteError(c, Wrap(http.StatusUnauthorized, "Failed to validate token", err))
		return
	}
	c.JSON(http.StatusOK, AuthenticatedResponse{IsAuthenticated: true})
}

// NewAuthMiddleware returns the middleware of the authenticated group (§3.4):
//
//  1. POST /scouter/user with the bootstrap key in X-Bootstrap-Token runs as
//     the synthetic bootstrap admin.
//  2. The token is the access_token cookie, else Authorization: Bearer;
//     none answers 401 "No access token provided".
//  3. A valid token proceeds with the identity from its claims.
//  4. An expired one is refreshed transparently (see user.Service.Authenticate);
//     the response then carries Authorization: Bearer <new token>, whatever
//     the handler's status.
//
// The identity reaches handlers through auth.IdentityFrom(c.Request.Context()).
func NewAuthMiddleware(a Authenticator) gin.HandlerFunc {
	bootstrapRoute := Prefix + "/user"
	return func(c *gin.Context) {
		if c.Request.Method == http.MethodPost && c.FullPath() == bootstrapRoute {
			if keys := c.Request.Header.Values(HeaderBootstrapToken); len(keys) == 1 && a.CheckBootstrap(keys[0]) {
				setCaller(c, auth.BootstrapIdentity())
				c.Next()
				return
			}
		}
		tok, ok := authAccessToken(c)
		if !ok {
			AbortUnauthorized(c, authMsgNoAccessToken)
			return
		}
		s, err := a.Authenticate(c.Request.Context(), tok)
		if err != nil {
			abortAuthError(c, err)
			return
		}
		if s.RefreshedToken != "" {
			c.Header(HeaderAuthorization, "Bearer "+s.RefreshedToken)
		}
		setCaller(c, s.Identity)
		c.Next()
	}
}

// authAccessToken returns the access_token cookie when present, else the bearer token.
func authAccessToken(c *gin.Context) (string, bool) {
	if v, err := c.Cookie(CookieAccessToken); err == nil && v != "" {
		return v, true
	}
	return authBearer(c)
}

func setCaller(c *gin.Context, id auth.Identity) {
	c.Request = c.Request.WithContext(auth.WithIdentity(c.Request.Context(), id))
}

// bindCaller binds the JSON body into req (see BindJSON), then returns the
// caller (see requireCaller); false means the request was answered.
func bindCaller(c *gin.Context, req any) (auth.Identity, bool) {
	if !BindJSON(c, req) {
		return auth.Identity{}, false
	}
	return requireCaller(c)
}

// requireCaller returns the caller set by the auth middleware; without one the
// request is refused (it cannot happen behind the middleware).
func requireCaller(c *gin.Context) (auth.Identity, bool) {
	id, ok := auth.IdentityFrom(c.Request.Context())
	if !ok {
		AbortUnauthorized(c, authMsgNoAccessToken)
	}
	return id, ok
}
