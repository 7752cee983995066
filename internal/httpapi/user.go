package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/user"
)

// Users is what the /user routes need from the user service.
type Users interface {
	Create(ctx context.Context, caller auth.Identity, in user.CreateInput) (*user.Created, error)
	Get(ctx context.Context, caller auth.Identity, username string) (*user.User, error)
	List(ctx context.Context, caller auth.Identity) ([]user.User, error)
	Update(ctx context.Context, caller auth.Identity, username string, in user.UpdateInput) (*user.User, error)
	Delete(ctx context.Context, caller auth.Identity, username string) error
}

// CreateUserRequest is the body of POST /scouter/user. Absent optional
// fields (or null) take the defaults: permissions ["read:all"],
// group_permissions ["user"], role "user", active true.
type CreateUserRequest struct {
	Username         *string   `json:"username"`
	Password         *string   `json:"password"`
	Email            *string   `json:"email"`
	Permissions      *[]string `json:"permissions"`
	GroupPermissions *[]string `json:"group_permissions"`
	Role             *string   `json:"role"`
	Active           *bool     `json:"active"`
}

// Validate requires the three mandatory fields, as upstream's extractor does.
func (r *CreateUserRequest) Validate() error {
	switch {
	case r.Username == nil:
		return errors.New("missing field `username`")
	case r.Password == nil:
		return errors.New("missing field `password`")
	case r.Email == nil:
		return errors.New("missing field `email`")
	}
	return nil
}

// UpdateUserRequest is the body of PUT /scouter/user/{username}; absent or
// null fields stay unchanged.
type UpdateUserRequest struct {
	Password         *string   `json:"password"`
	Permissions      *[]string `json:"permissions"`
	GroupPermissions *[]string `json:"group_permissions"`
	Active           *bool     `json:"active"`
	FavoriteSpaces   *[]string `json:"favorite_spaces"`
}

// UserResponse is a user as the API shows it: no hash, tokens or recovery codes.
type UserResponse struct {
	Username         string   `json:"username"`
	Email            string   `json:"email"`
	Active           bool     `json:"active"`
	Role             string   `json:"role"`
	Permissions      []string `json:"permissions"`
	GroupPermissions []string `json:"group_permissions"`
	FavoriteSpaces   []string `json:"favorite_spaces"`
}

// CreateUserResponse is the body of POST /scouter/user.
type CreateUserResponse struct {
	User          UserResponse `json:"user"`
	RecoveryCodes []string     `json:"recovery_codes"`
	Message       string       `json:"message"`
}

// UserListResponse is the body of GET /scouter/user.
type UserListResponse struct {
	Users []UserResponse `json:"users"`
}

// DeleteUserResponse is the body of DELETE /scouter/user/{username}.
type DeleteUserResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// RecoveryCodesMessage accompanies the recovery codes of a new user.
const RecoveryCodesMessage = "Save these recovery codes securely. They cannot be shown again!"

func newUserResponse(u *user.User) UserResponse {
	return UserResponse{
		Username:         u.Username,
		Email:            u.Email,
		Active:           u.Active,
		Role:             u.Role,
		Permissions:      userStrings(u.Permissions),
		GroupPermissions: userStrings(u.GroupPermissions),
		FavoriteSpaces:   userStrings(u.FavoriteSpaces),
	}
}

func userStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UserHandler serves the /scouter/user routes (authenticated group).
type UserHandler struct {
	users Users
}

var _ Registrar = (*UserHandler)(nil)

// NewUserHandler returns the /user routes over u.
func NewUserHandler(u Users) *UserHandler { return &UserHandler{users: u} }

// RegisterRoutes implements Registrar.
func (h *UserHandler) RegisterRoutes(_, authed *gin.RouterGroup) {
	authed.POST("/user", h.create)
	authed.GET("/user", h.list)
	authed.GET("/user/:username", h.get)
	authed.PUT("/user/:username", h.update)
	authed.DELETE("/user/:username", h.delete)
}

func (h *UserHandler) create(c *gin.Context) {
	var req CreateUserRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	created, err := h.users.Create(c.Request.Context(), caller, user.CreateInput{
		Username:         *req.Username,
		Password:         *req.Password,
		Email:            *req.Email,
		Permissions:      req.Permissions,
		GroupPermissions: req.GroupPermissions,
		Role:             req.Role,
		Active:           req.Active,
	})
	if err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, CreateUserResponse{
		User:          newUserResponse(&created.User),
		RecoveryCodes: userStrings(created.RecoveryCodes),
		Message:       RecoveryCodesMessage,
	})
}

func (h *UserHandler) list(c *gin.Context) {
	caller, ok := requireCaller(c)
	if !ok {
		return
	}
	users, err := h.users.List(c.Request.Context(), caller)
	if err != nil {
		writeUserError(c, err)
		return
	}
	resp := UserListResponse{Users: make([]UserResponse, 0, len(users))}
	for i := range users {
		resp.Users = append(resp.Users, newUserResponse(&users[i]))
	}
	c.JSON(http.StatusOK, resp)
}

func (h *UserHandler) get(c *gin.Context) {
	caller, ok := requireCaller(c)
	if !ok {
		return
	}
	u, err := h.users.Get(c.Request.Context(), caller, c.Param("username"))
	if err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(u))
}

func (h *UserHandler) update(c *gin.Context) {
	var req UpdateUserRequest
	caller, ok := bindCaller(c, &req)
	if !ok {
		return
	}
	u, err := h.users.Update(c.Request.Context(), caller, c.Param("username"), user.UpdateInput{
		Password:         req.Password,
		Permissions:      req.Permissions,
		GroupPermissions: req.GroupPermissions,
		Active:           req.Active,
		FavoriteSpaces:   req.FavoriteSpaces,
	})
	if err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(u))
}

func (h *UserHandler) delete(c *gin.Context) {
	caller, ok := requireCaller(c)
	if !ok {
		return
	}
	username := c.Param("username")
	if err := h.users.Delete(c.Request.Context(), caller, username); err != nil {
		writeUserError(c, err)
		return
	}
	c.JSON(http.StatusOK, DeleteUserResponse{Status: "success", Message: "User " + username + " deleted successfully"})
}
