# shellcheck shell=bash
# Helpers shared by the .ci/*.sh scripts. Source it; do not execute it.
#
# Sets:
#   ROOT       absolute path of the repository root (resolved from this file's location)
#   LOCAL_DIR  $ROOT/.local, where all runtime state lives (git-ignored)
#   GO_BIN     directory that `go install` writes to; prepended to PATH

if [[ -n "${SCOUTER_CI_LIB_LOADED:-}" ]]; then
	return 0
fi
SCOUTER_CI_LIB_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
LOCAL_DIR="$ROOT/.local"
export ROOT LOCAL_DIR

# log prints a message to stderr, prefixed with the calling script's name.
log() {
	# Never fail: a closed stderr (e.g. `make run | tee` after Ctrl-C) must not abort a cleanup.
	printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2 2>/dev/null || true
}

# die prints a message to stderr and exits non-zero.
die() {
	log "ERROR: $*"
	exit 1
}

# go_bin_dir prints the directory `go install` writes binaries to.
go_bin_dir() {
	local gobin gopath
	gobin="$(go env GOBIN)"
	if [[ -n "$gobin" ]]; then
		printf '%s\n' "$gobin"
		return
	fi
	gopath="$(go env GOPATH)"
	# GOPATH may be a list; go install uses the first entry.
	printf '%s/bin\n' "${gopath%%:*}"
}

command -v go >/dev/null 2>&1 || PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null 2>&1 || die "go is not installed (expected on PATH or in /usr/local/go/bin)"
GO_BIN="$(go_bin_dir)"
case ":$PATH:" in
*":$GO_BIN:"*) ;;
*) PATH="$GO_BIN:$PATH" ;;
esac
export GO_BIN PATH

# is_root reports whether the script runs as root.
is_root() {
	[[ "$(id -u)" -eq 0 ]]
}

# pid_alive reports whether the process in the given pid file is running.
pid_alive() {
	local pidfile="$1" pid
	[[ -f "$pidfile" ]] || return 1
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null
}

# stop_pid sends SIGTERM to a process, waits up to $2 seconds (default 15), then SIGKILLs it.
stop_pid() {
	local pid="$1" grace="${2:-15}" i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "process $pid still running after ${grace}s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}
