#!/usr/bin/env bash
# Local development: what `make run` does.
#
#   .ci/dev.sh        start Postgres (dev) and Temporal (dev) when needed, build and run the worker
#                     and the server in the foreground; Ctrl-C stops everything this run started
#   .ci/dev.sh deps   only start Postgres and Temporal, and print the `export` lines to use them
#                     (eval "$(.ci/dev.sh deps)")
#   .ci/dev.sh down   stop the dev Postgres and the dev Temporal server
#
# DATABASE_URI and TEMPORAL_ADDRESS, when set, point at services you run yourself: the matching
# local service is then not started.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CI_DIR="$ROOT/.ci"
BIN_DIR="$LOCAL_DIR/bin"
STOP_GRACE=15

started_pg=0
started_temporal=0
server_pid=""
worker_pid=""

usage() {
	echo "usage: $0 [deps|down]" >&2
	exit 2
}

# start_services starts what is needed and sets DATABASE_URI / TEMPORAL_ADDRESS. It records which
# services this invocation started, so that cleanup leaves the others alone.
start_services() {
	if [[ -n "${DATABASE_URI:-}" ]]; then
		log "DATABASE_URI is set: not starting the local Postgres"
	else
		if ! "$CI_DIR/pg.sh" status dev >/dev/null; then
			started_pg=1
		fi
		"$CI_DIR/pg.sh" start dev
		DATABASE_URI="$("$CI_DIR/pg.sh" url dev)"
	fi
	if [[ -n "${TEMPORAL_ADDRESS:-}" ]]; then
		log "TEMPORAL_ADDRESS is set: not starting the local Temporal server"
	else
		if ! "$CI_DIR/temporal.sh" status dev >/dev/null; then
			started_temporal=1
		fi
		"$CI_DIR/temporal.sh" start dev
		TEMPORAL_ADDRESS="$("$CI_DIR/temporal.sh" address dev)"
	fi
	export DATABASE_URI TEMPORAL_ADDRESS
}

# stop_child stops a child process: SIGTERM, then SIGKILL after STOP_GRACE seconds.
stop_child() {
	local pid="$1" what="$2" watchdog
	[[ -n "$pid" ]] || return 0
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	log "stopping $what (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	(
		sleep "$STOP_GRACE"
		log "$what did not stop within ${STOP_GRACE}s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	) &
	watchdog=$!
	wait "$pid" 2>/dev/null || true
	kill "$watchdog" 2>/dev/null || true
	wait "$watchdog" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# Best effort from here on: stop everything even if one step fails, and survive a closed
	# stdout/stderr (e.g. `make run | tee` when Ctrl-C has already killed tee).
	trap '' PIPE
	set +e
	stop_child "$server_pid" "scouter-server"
	stop_child "$worker_pid" "scouter-worker"
	if ((started_temporal)); then
		"$CI_DIR/temporal.sh" stop dev || true
	fi
	if ((started_pg)); then
		"$CI_DIR/pg.sh" stop dev || true
	fi
	exit "$rc"
}

# run_prefixed starts a program in the background with each output line prefixed. The program
# gets its own session, so a terminal Ctrl-C reaches only this script, which then stops it with
# SIGTERM; the prefixer ignores the signals and ends when the program closes its output.
# Sets LAST_PID to the program's pid.
run_prefixed() {
	local prefix="$1"
	shift
	setsid "$@" </dev/null > >(
		trap '' INT TERM
		exec sed -u "s/^/$prefix /"
	) 2>&1 &
	LAST_PID=$!
}

build() {
	mkdir -p "$BIN_DIR"
	log "building ./cmd/server and ./cmd/worker into .local/bin/"
	(cd "$ROOT" && go build -o "$BIN_DIR/scouter-server" ./cmd/server)
	(cd "$ROOT" && go build -o "$BIN_DIR/scouter-worker" ./cmd/worker)
}

run() {
	local rc=0
	trap cleanup EXIT
	# On a signal, exit through cleanup with 130 (the EXIT trap runs cleanup).
	trap 'exit 130' INT TERM
	"$CI_DIR/deps.sh" >&2
	start_services
	build

	cd "$ROOT"
	run_prefixed "[worker]" "$BIN_DIR/scouter-worker"
	worker_pid=$LAST_PID
	run_prefixed "[server]" "$BIN_DIR/scouter-server"
	server_pid=$LAST_PID

	cat >&2 <<EOF
[dev] scouter is starting (worker pid $worker_pid, server pid $server_pid); Ctrl-C stops it
[dev]   healthcheck  http://localhost:8000/scouter/healthcheck
[dev]   gRPC         localhost:50051
[dev]   metrics      http://localhost:8001/metrics
[dev]   Temporal UI  http://localhost:8233 (log: .local/temporal/dev/temporal.log)
[dev]   DATABASE_URI=$DATABASE_URI
[dev]   TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS
EOF
	# Wait until either program exits (or a signal arrives); then stop the other one too.
	wait -n "$worker_pid" "$server_pid" || rc=$?
	if kill -0 "$server_pid" 2>/dev/null; then
		log "scouter-worker exited (status $rc); stopping"
	else
		log "scouter-server exited (status $rc); stopping"
	fi
	exit "$rc"
}

deps() {
	"$CI_DIR/deps.sh" >&2
	start_services
	log "dev services are up; stop them with: make down (.ci/dev.sh down)"
	printf 'export DATABASE_URI=%q\n' "$DATABASE_URI"
	printf 'export TEMPORAL_ADDRESS=%q\n' "$TEMPORAL_ADDRESS"
}

down() {
	"$CI_DIR/temporal.sh" stop dev
	"$CI_DIR/pg.sh" stop dev
}

[[ $# -le 1 ]] || usage
case "${1:-run}" in
run) run ;;
deps) deps ;;
down) down ;;
*) usage ;;
esac
