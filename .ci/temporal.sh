#!/usr/bin/env bash
# Project-local Temporal dev servers (`temporal server start-dev`) for `make run` and `make test`.
#
#   .ci/temporal.sh start|stop|status|address dev|test
#
# dev:  127.0.0.1:7233, Web UI on http://localhost:8233, state kept in .local/temporal/dev/temporal.db
# test: 127.0.0.1:7243, headless, in memory (state is lost when it stops)
# Both register the Keyword search attributes the workers use. Pid file and log live in
# .local/temporal/<name>/. status exits 0 when the server answers and 3 when it does not.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SEARCH_ATTRIBUTES=(ScouterSpace ScouterName ScouterVersion ScouterDriftType)
START_TIMEOUT=60

usage() {
	echo "usage: $0 start|stop|status|address dev|test" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
action="$1"
name="$2"
dir="$LOCAL_DIR/temporal/$name"
case "$name" in
dev)
	port=7233
	mode_args=(--ui-port 8233 --db-filename "$dir/temporal.db")
	;;
test)
	port=7243
	mode_args=(--headless)
	;;
*) usage ;;
esac
address="127.0.0.1:$port"
pidfile="$dir/temporal.pid"
logfile="$dir/temporal.log"

case "$action" in
address)
	echo "$address"
	exit 0
	;;
start | stop | status) ;;
*) usage ;;
esac

ensure_binary() {
	if ! command -v temporal >/dev/null 2>&1; then
		log "temporal CLI not found; running .ci/deps.sh"
		"$ROOT/.ci/deps.sh" >&2
		command -v temporal >/dev/null 2>&1 || die "temporal CLI still not found after .ci/deps.sh (looked in PATH and $GO_BIN)"
	fi
}

# server_pid prints the pid of the server this script started, if it is still running.
server_pid() {
	local pid
	pid_alive "$pidfile" || return 1
	pid="$(cat "$pidfile")"
	# Guard against a stale pid file whose pid now belongs to another process.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'start-dev' || return 1
	echo "$pid"
}

healthy() {
	temporal operator cluster health --address "$address" \
		--client-connect-timeout 2s --command-timeout 3s >/dev/null 2>&1
}

do_start() {
	local pid i attr
	ensure_binary
	if pid="$(server_pid)"; then
		if healthy; then
			log "temporal $name already running on $address (pid $pid)"
			return
		fi
	elif healthy; then
		log "a Temporal server not started by this script already answers on $address; using it"
		return
	fi
	if [[ -z "${pid:-}" ]]; then
		local -a args=(server start-dev --ip 127.0.0.1 --port "$port" --log-level warn "${mode_args[@]}")
		for attr in "${SEARCH_ATTRIBUTES[@]}"; do
			args+=(--search-attribute "$attr=Keyword")
		done
		log "starting temporal $name on $address (log: $logfile)"
		# setsid: a Ctrl-C in the caller's terminal must not reach the server. The child writes
		# its own pid before exec, so the pid file is right even if setsid forks. 9>&-: it must
		# not inherit the lock.
		# shellcheck disable=SC2016 # expanded by the inner bash
		setsid bash -c 'echo "$$" >"$1"; shift; exec "$@"' _ "$pidfile" temporal "${args[@]}" \
			</dev/null >>"$logfile" 2>&1 9>&- &
		for ((i = 0; i < 50; i++)); do
			[[ -s "$pidfile" ]] && break
			sleep 0.1
		done
	fi
	for ((i = 0; i < START_TIMEOUT; i++)); do
		if healthy; then
			log "temporal $name ready on $address"
			return
		fi
		if ! server_pid >/dev/null; then
			tail -n 40 "$logfile" >&2 || true
			die "temporal $name exited during start-up (log: $logfile)"
		fi
		sleep 1
	done
	tail -n 40 "$logfile" >&2 || true
	die "temporal $name does not answer on $address after ${START_TIMEOUT}s (log: $logfile)"
}

do_stop() {
	local pid
	if ! pid="$(server_pid)"; then
		rm -f "$pidfile"
		if healthy; then
			log "a Temporal server not started by this script answers on $address; leaving it"
		else
			log "temporal $name is not running"
		fi
		return
	fi
	log "stopping temporal $name (pid $pid)"
	stop_pid "$pid" 15
	rm -f "$pidfile"
}

do_status() {
	local pid
	if pid="$(server_pid)" && healthy; then
		echo "temporal $name: running on $address (pid $pid, log $logfile)"
		return 0
	fi
	if healthy; then
		echo "temporal $name: a server not started by this script answers on $address"
		return 0
	fi
	if [[ -n "${pid:-}" ]]; then
		echo "temporal $name: process $pid running but not answering on $address (log $logfile)"
		return 3
	fi
	echo "temporal $name: stopped"
	return 3
}

mkdir -p "$dir"
# Serialise start/stop of one server across concurrent callers (e.g. two `make test`).
exec 9>"$dir/.lock"
flock -w 180 9 || die "timed out waiting for another .ci/temporal.sh on temporal $name"

case "$action" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
esac
