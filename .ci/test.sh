#!/usr/bin/env bash
# What `make test` (and CI, through .ci/run) does:
#   1. install missing tools (.ci/deps.sh; nothing is installed when all are present)
#   2. static checks, failing fast: gofmt, go vet, staticcheck, workflowcheck, generated code
#      up to date
#   3. start the test Postgres (127.0.0.1:54330) and the test Temporal server (127.0.0.1:7243)
#      unless SCOUTER_TEST_DATABASE_URI / SCOUTER_TEST_TEMPORAL_ADDRESS are already set
#   4. go test, with the race detector (see RACE_PKGS)
#   5. stop the services that this run started (the ones that were already running stay up)
#
#   .ci/test.sh [go test args...]    e.g. .ci/test.sh -run TestX ./internal/db/...
#
# Arguments are passed to go test; when they name no package, RACE_PKGS is used.
set -euo pipefail

# Packages tested with -race. Default: everything, in a single `go test -race` run. On this
# 2-core machine a plain `go test ./...` followed by a -race run over a subset compiles and runs
# that subset twice, and the -race run finds every failure the plain one finds, so one -race run
# over all packages is both cheaper and stricter. Packages outside RACE_PKGS (when it is narrowed,
# e.g. RACE_PKGS="./internal/... ./workflows/... ./activities/...") run once without -race.
RACE_PKGS="${RACE_PKGS:-./...}"
# SCOUTER_TEST_RACE=0 turns the race detector off (e.g. for a quick local run).
RACE="${SCOUTER_TEST_RACE:-1}"
GO_TEST_FLAGS=(-count=1 -timeout 25m)

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CI_DIR="$ROOT/.ci"
started_pg=0
started_temporal=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	trap '' PIPE
	set +e
	if ((started_temporal)); then
		"$CI_DIR/temporal.sh" stop test
	fi
	if ((started_pg)); then
		"$CI_DIR/pg.sh" stop test
	fi
	exit "$rc"
}

step() {
	printf '==> %s\n' "$*"
}

check_gofmt() {
	local -a files unformatted
	step "gofmt"
	mapfile -t files < <(find . \( -path ./.git -o -path ./.local -o -path ./vendor -o -name testdata \) -prune \
		-o -type f -name '*.go' -print | LC_ALL=C sort)
	((${#files[@]} > 0)) || return 0
	mapfile -t unformatted < <(gofmt -l "${files[@]}")
	if ((${#unformatted[@]} > 0)); then
		printf '  %s\n' "${unformatted[@]}" >&2
		die "gofmt: the files above are not formatted; run: gofmt -w on them"
	fi
}

check_vet() {
	step "go vet ./..."
	go vet ./... || die "go vet found problems (see above)"
}

check_staticcheck() {
	step "staticcheck ./..."
	staticcheck ./... || die "staticcheck found problems (see above)"
}

check_workflows() {
	step "workflowcheck ./... (workflow code is deterministic)"
	workflowcheck ./... || die "workflowcheck: workflow code calls something non-deterministic (see above); move it into an activity"
}

check_generated() {
	if [[ -f "$CI_DIR/generate.sh" ]]; then
		step "generated code is up to date (.ci/generate.sh --check)"
		bash "$CI_DIR/generate.sh" --check || die ".ci/generate.sh --check failed (see above); if generated code is stale, run: make generate"
	fi
}

start_services() {
	if [[ -n "${SCOUTER_TEST_DATABASE_URI:-}" ]]; then
		log "SCOUTER_TEST_DATABASE_URI is set: not starting the local test Postgres"
	else
		"$CI_DIR/pg.sh" status test >/dev/null || started_pg=1
		"$CI_DIR/pg.sh" start test
		SCOUTER_TEST_DATABASE_URI="$("$CI_DIR/pg.sh" url test)"
	fi
	if [[ -n "${SCOUTER_TEST_TEMPORAL_ADDRESS:-}" ]]; then
		log "SCOUTER_TEST_TEMPORAL_ADDRESS is set: not starting the local test Temporal server"
	else
		"$CI_DIR/temporal.sh" status test >/dev/null || started_temporal=1
		"$CI_DIR/temporal.sh" start test
		SCOUTER_TEST_TEMPORAL_ADDRESS="$("$CI_DIR/temporal.sh" address test)"
	fi
	export SCOUTER_TEST_DATABASE_URI SCOUTER_TEST_TEMPORAL_ADDRESS
	log "SCOUTER_TEST_DATABASE_URI=$SCOUTER_TEST_DATABASE_URI"
	log "SCOUTER_TEST_TEMPORAL_ADDRESS=$SCOUTER_TEST_TEMPORAL_ADDRESS"
}

# names_packages reports whether the go test arguments name packages (./x, x/..., module paths).
names_packages() {
	local arg module
	module="$(go list -m)"
	for arg in "$@"; do
		case "$arg" in
		./* | ../* | . | *...* | "$module" | "$module"/*) return 0 ;;
		esac
	done
	return 1
}

run_tests() {
	local -a race_flag=() race_pkgs plain_pkgs
	if [[ "$RACE" != 0 ]]; then
		race_flag=(-race)
		export CGO_ENABLED=1
	fi
	if (($# > 0)) && names_packages "$@"; then
		step "go test ${race_flag[*]} ${GO_TEST_FLAGS[*]} $*"
		go test "${race_flag[@]}" "${GO_TEST_FLAGS[@]}" "$@"
		return
	fi
	# shellcheck disable=SC2086 # RACE_PKGS is a space-separated list of patterns
	mapfile -t race_pkgs < <(go list $RACE_PKGS)
	mapfile -t plain_pkgs < <(go list ./... | grep -vxF -f <(printf '%s\n' "${race_pkgs[@]}") || true)
	if ((${#race_pkgs[@]} == 0 && ${#plain_pkgs[@]} == 0)); then
		die "no Go packages to test"
	fi
	if ((${#plain_pkgs[@]} > 0)); then
		step "go test ${GO_TEST_FLAGS[*]} $* (${#plain_pkgs[@]} packages outside RACE_PKGS)"
		go test "${GO_TEST_FLAGS[@]}" "$@" "${plain_pkgs[@]}"
	fi
	if ((${#race_pkgs[@]} > 0)); then
		step "go test ${race_flag[*]} ${GO_TEST_FLAGS[*]} $* $RACE_PKGS"
		go test "${race_flag[@]}" "${GO_TEST_FLAGS[@]}" "$@" "${race_pkgs[@]}"
	fi
}

main() {
	cd "$ROOT"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	step "tools (.ci/deps.sh)"
	"$CI_DIR/deps.sh"
	check_gofmt
	check_vet
	check_staticcheck
	check_workflows
	check_generated
	step "services"
	start_services
	run_tests "$@"
	step "all checks and tests passed"
}

main "$@"
