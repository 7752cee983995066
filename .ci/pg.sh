#!/usr/bin/env bash
# Project-local PostgreSQL 15 clusters (with pg_cron preloaded) for `make run` and `make test`.
#
#   .ci/pg.sh start|stop|status|url dev|test
#
# Layout: .local/pg/<name>/data (data directory) and .local/pg/<name>/postgres.log.
# Ports: dev 54320 (SCOUTER_DEV_PG_PORT), test 54330 (SCOUTER_TEST_PG_PORT). User postgres, trust
# auth, listening on 127.0.0.1 only, database "scouter".
#
# initdb and postgres refuse to run as root: as root, the cluster belongs to the "postgres" user and
# its commands run through `runuser -u postgres --`. When that user cannot reach the repository
# (e.g. it lives under /root), .local/pg/<name> becomes a symlink to a directory under
# ${TMPDIR:-/tmp} instead.
#
# status exits 0 when the cluster is running and 3 when it is not.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN="${SCOUTER_PG_BIN:-/usr/lib/postgresql/15/bin}"
DB_NAME="scouter"
PG_OWNER="postgres"

usage() {
	echo "usage: $0 start|stop|status|url dev|test" >&2
	exit 2
}

[[ $# -eq 2 ]] || usage
action="$1"
name="$2"
case "$name" in
dev) port="${SCOUTER_DEV_PG_PORT:-54320}" ;;
test) port="${SCOUTER_TEST_PG_PORT:-54330}" ;;
*) usage ;;
esac
[[ "$port" =~ ^[0-9]+$ ]] || die "invalid port '$port' for the $name cluster"

url="postgres://postgres@127.0.0.1:$port/$DB_NAME?sslmode=disable"
if [[ "$action" == url ]]; then
	echo "$url"
	exit 0
fi
case "$action" in start | stop | status) ;; *) usage ;; esac

[[ -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL 15 server binaries not found in $PG_BIN (run .ci/deps.sh, or apt-get install postgresql-15)"

# as_pg runs a command as the cluster owner: via runuser when root, directly otherwise. It runs
# from / so that the owner never needs access to the caller's working directory.
as_pg() {
	# 9>&-: the postmaster must not inherit (and so hold forever) the lock taken below.
	if is_root; then
		(cd / && runuser -u "$PG_OWNER" -- "$@") 9>&-
	else
		(cd / && "$@") 9>&-
	fi
}

# owner_can_enter reports whether the cluster owner can traverse into the given directory.
owner_can_enter() {
	if is_root; then
		runuser -u "$PG_OWNER" -- test -x "$1" 2>/dev/null
	else
		test -x "$1"
	fi
}

# resolve_base sets BASE, the directory holding data/ and postgres.log.
resolve_base() {
	local link="$LOCAL_DIR/pg/$name" tmp hash candidate
	if is_root && ! id -u "$PG_OWNER" >/dev/null 2>&1; then
		die "running as root needs a '$PG_OWNER' user to own the cluster (initdb refuses to run as root); create it or run as a normal user"
	fi
	mkdir -p "$LOCAL_DIR/pg"
	if [[ -L "$link" ]]; then
		BASE="$(readlink -f "$link")"
		mkdir -p "$BASE"
		return
	fi
	if owner_can_enter "$LOCAL_DIR/pg"; then
		mkdir -p "$link"
		BASE="$link"
		return
	fi
	# The owner cannot enter the repository: keep the cluster in a temp directory it can reach.
	if [[ -d "$link" ]]; then
		if [[ -e "$link/data/PG_VERSION" ]]; then
			die "$link holds a cluster that the '$PG_OWNER' user cannot reach; move the repository or remove $link"
		fi
		rm -rf "$link"
	fi
	hash="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
	BASE=""
	for tmp in "${TMPDIR:-/tmp}" /tmp; do
		candidate="$tmp/scouter-pg-$name-$hash"
		mkdir -p "$candidate"
		if is_root; then chown "$PG_OWNER:" "$candidate"; fi
		if owner_can_enter "$candidate"; then
			BASE="$candidate"
			break
		fi
	done
	[[ -n "$BASE" ]] || die "no directory the '$PG_OWNER' user can reach for the $name cluster"
	ln -sfn "$BASE" "$link"
	log "the '$PG_OWNER' user cannot enter $LOCAL_DIR; the $name cluster lives in $BASE (symlinked from .local/pg/$name)"
}

is_running() {
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# running_port prints the port recorded in postmaster.pid (4th line) of the running cluster.
running_port() {
	sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true
}

running_pid() {
	sed -n 1p "$DATA/postmaster.pid" 2>/dev/null || true
}

# write_config sets our settings in postgresql.conf: an existing active line for a key is
# replaced in place, later duplicates are dropped, missing keys are appended. The file is only
# rewritten when something changes.
write_config() {
	local conf="$DATA/postgresql.conf" tmp
	local -a settings=(
		"port = $port"
		"listen_addresses = '127.0.0.1'"
		"unix_socket_directories = '/tmp'"
		"shared_preload_libraries = 'pg_cron'"
		"cron.database_name = '$DB_NAME'"
		"max_connections = 500"
	)
	if [[ "$name" == test ]]; then
		# Durability is irrelevant for a throwaway test cluster; this makes DDL-heavy tests faster.
		settings+=("fsync = off" "synchronous_commit = off" "full_page_writes = off")
	fi
	tmp="$(mktemp)"
	printf '%s\n' "${settings[@]}" | awk '
		NR == FNR {
			key = $1
			want[key] = $0
			order[++n] = key
			next
		}
		{
			line = $0
			sub(/^[ \t]+/, "", line)
			split(line, parts, /[ \t=]/)
			key = parts[1]
			if (key in want) {
				if (!(key in done)) { print want[key]; done[key] = 1 }
				next
			}
			print
		}
		END {
			for (i = 1; i <= n; i++) if (!(order[i] in done)) print want[order[i]]
		}
	' - "$conf" >"$tmp"
	if ! cmp -s "$tmp" "$conf"; then
		# cat keeps the file's owner and mode.
		cat "$tmp" >"$conf"
		log "updated $conf"
	fi
	rm -f "$tmp"
}

init_cluster() {
	log "initdb $name cluster in $DATA"
	if is_root; then chown "$PG_OWNER:" "$BASE"; fi
	as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 || {
		tail -n 30 "$BASE/initdb.log" >&2
		die "initdb failed (full output in $BASE/initdb.log)"
	}
}

wait_ready() {
	local i
	for ((i = 0; i < 60; i++)); do
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
			return 0
		fi
		sleep 1
	done
	tail -n 30 "$LOG" >&2 || true
	die "the $name cluster does not accept connections on 127.0.0.1:$port after 60s (log: $LOG)"
}

psql_admin() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -tA "$@"
}

ensure_database() {
	if [[ -n "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]]; then
		return
	fi
	# A concurrent start may create it first: only fail when it still does not exist.
	psql_admin -c "CREATE DATABASE $DB_NAME" 2>/dev/null ||
		[[ -n "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]] ||
		die "could not create database $DB_NAME in the $name cluster"
	log "created database $DB_NAME"
}

do_start() {
	local have
	if [[ ! -f "$DATA/PG_VERSION" ]]; then
		init_cluster
	fi
	if is_running; then
		have="$(running_port)"
		if [[ -n "$have" && "$have" != "$port" ]]; then
			die "the $name cluster is already running on port $have, not $port; stop it first (.ci/pg.sh stop $name)"
		fi
		log "$name cluster already running on 127.0.0.1:$port"
	else
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
			die "another server already listens on 127.0.0.1:$port (another checkout's $name cluster?); stop it or choose another port with SCOUTER_${name^^}_PG_PORT"
		fi
		write_config
		if is_root; then
			# pg_ctl runs as the owner and appends to the log in BASE.
			chown "$PG_OWNER:" "$BASE"
			if [[ -e "$LOG" ]]; then chown "$PG_OWNER:" "$LOG"; fi
		fi
		log "starting $name cluster on 127.0.0.1:$port (log: $LOG)"
		# setsid: a Ctrl-C in the caller's terminal must not reach the postmaster.
		if ! as_pg setsid -w "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 90 start >/dev/null; then
			tail -n 30 "$LOG" >&2 || true
			die "could not start the $name cluster (log: $LOG)"
		fi
	fi
	wait_ready
	ensure_database
}

do_stop() {
	if ! is_running; then
		log "$name cluster is not running"
		return
	fi
	log "stopping $name cluster"
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
}

do_status() {
	if [[ -f "$DATA/PG_VERSION" ]] && is_running; then
		echo "pg $name: running on 127.0.0.1:$(running_port) (pid $(running_pid), data $DATA)"
		return 0
	fi
	echo "pg $name: stopped"
	return 3
}

resolve_base
DATA="$BASE/data"
LOG="$BASE/postgres.log"

# Serialise start/stop of one cluster across concurrent callers (e.g. two `make test`).
exec 9>"$LOCAL_DIR/pg/.$name.lock"
flock -w 180 9 || die "timed out waiting for another .ci/pg.sh on the $name cluster"

case "$action" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
esac
