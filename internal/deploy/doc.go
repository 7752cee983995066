// Package deploy holds no code: its tests keep docker-compose.temporal.yml
// and the Dockerfile at the repository root consistent with the
// configuration defaults (ports, service addresses, database name), since
// no Docker engine runs in CI to try them.
package deploy
