#!/usr/bin/env bash
# Installs the tools the build, `make run` and `make test` need, skipping everything that is
# already present (a run with nothing to do takes well under a second).
#
#   .ci/deps.sh
#
# Debian packages are installed with apt-get when root; otherwise the exact command is printed.
# Go tools are installed with `go install` into $(go env GOPATH)/bin, pinned below.
set -euo pipefail

# ---- pinned versions: change them here only --------------------------------------------------
APT_PACKAGES=(postgresql-15-partman postgresql-15-cron protobuf-compiler)
# binary name | package path@version (the version is checked against `go version -m <binary>`)
GO_TOOLS=(
	"protoc-gen-go|google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.10"
	"protoc-gen-go-grpc|google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1"
	"sqlc|github.com/sqlc-dev/sqlc/cmd/sqlc@v1.30.0"
	"temporal|github.com/temporalio/cli/cmd/temporal@v1.5.1"
	"staticcheck|honnef.co/go/tools/cmd/staticcheck@v0.8.2"
	"workflowcheck|go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0"
)
# ----------------------------------------------------------------------------------------------

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# apt_missing prints the packages of APT_PACKAGES that are not installed.
apt_missing() {
	local pkg status
	for pkg in "${APT_PACKAGES[@]}"; do
		status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
		if [[ "$status" != "install ok installed" ]]; then
			printf '%s\n' "$pkg"
		fi
	done
}

ensure_apt() {
	local missing pkg
	command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: install ${APT_PACKAGES[*]} with your package manager"
	mapfile -t missing < <(apt_missing)
	if ((${#missing[@]} == 0)); then
		for pkg in "${APT_PACKAGES[@]}"; do
			echo "deps: $pkg present"
		done
		return
	fi
	if ! is_root; then
		die "missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
	fi
	log "installing Debian packages: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
	for pkg in "${APT_PACKAGES[@]}"; do
		if [[ " ${missing[*]} " == *" $pkg "* ]]; then
			echo "deps: $pkg installed"
		else
			echo "deps: $pkg present"
		fi
	done
}

# installed_version prints the main-module version recorded in a Go binary, or nothing.
installed_version() {
	local bin="$1"
	[[ -x "$bin" ]] || return 0
	go version -m "$bin" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# wait_other_install waits while another process runs `go install <pkg>` (e.g. a parallel
# `make test`), so that the same multi-minute build does not run twice at once.
wait_other_install() {
	local pkg="$1" waited=0
	while pgrep -f "go install $pkg" >/dev/null 2>&1; do
		if ((waited == 0)); then
			log "another process is running 'go install $pkg'; waiting for it"
		fi
		sleep 5
		waited=$((waited + 5))
		if ((waited % 60 == 0)); then
			log "still waiting for the other 'go install $pkg' (${waited}s)"
		fi
	done
}

ensure_go_tool() {
	local name="$1" spec="$2" pkg version bin have
	pkg="${spec%@*}"
	version="${spec##*@}"
	bin="$GO_BIN/$name"
	have="$(installed_version "$bin")"
	if [[ "$have" == "$version" ]]; then
		echo "deps: $name $version present"
		return
	fi
	wait_other_install "$pkg"
	have="$(installed_version "$bin")"
	if [[ "$have" == "$version" ]]; then
		echo "deps: $name $version present"
		return
	fi
	if [[ -n "$have" ]]; then
		log "$name is $have, want $version; reinstalling"
	fi
	log "go install $spec (this can take a few minutes)"
	# sqlc links libpg_query through cgo.
	CGO_ENABLED=1 GOBIN="$GO_BIN" go install "$spec" >&2
	have="$(installed_version "$bin")"
	[[ "$have" == "$version" ]] || die "$name: installed binary reports version '${have:-none}', want $version"
	echo "deps: $name $version installed"
}

main() {
	ensure_apt
	mkdir -p "$GO_BIN"
	local entry
	for entry in "${GO_TOOLS[@]}"; do
		ensure_go_tool "${entry%%|*}" "${entry#*|}"
	done
}

main "$@"
