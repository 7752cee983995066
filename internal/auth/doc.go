// Package auth holds the transport-independent parts of authentication and
// authorization: secrets, JWT issue and validation, argon2 password hashing,
// permission checks, the bootstrap key, login rate limiting and header
// parsing. It does no HTTP and no database I/O; the HTTP middleware, the gRPC
// interceptor and the user store build on it.
package auth
