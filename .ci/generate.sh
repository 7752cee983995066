#!/usr/bin/env bash
# Regenerates all committed generated code.
#
#   .ci/generate.sh           regenerate protobuf/gRPC code (internal/gen/) and, when sqlc.yaml
#                             exists and sqlc is installed, run `sqlc generate`
#   .ci/generate.sh --check   regenerate into a temporary directory and fail, listing the files,
#                             when the committed generated code is out of date; the work tree is
#                             never modified (sqlc is checked with `sqlc diff`)
#
# The generator versions are pinned below; the script refuses to run with other versions because
# their output (including the version header) differs. Generators are looked up in
# $(go env GOPATH)/bin first, then in PATH.
set -euo pipefail

readonly PROTOC_VERSION="3.21.12"
readonly PROTOC_GEN_GO_VERSION="v1.36.10"
readonly PROTOC_GEN_GO_GRPC_VERSION="v1.5.1"

readonly PROTO_DIR="proto"
readonly GEN_DIR="internal/gen/scouterv1"

usage() {
	echo "usage: $0 [--check]" >&2
	exit 2
}

check=0
case "${1:-}" in
"") ;;
--check) check=1 ;;
-h | --help) usage ;;
*) usage ;;
esac
[[ $# -le 1 ]] || usage

cd "$(dirname "${BASH_SOURCE[0]}")/.."

die() {
	echo "generate: $*" >&2
	exit 1
}

# find_tool NAME prints the path of NAME, preferring $(go env GOPATH)/bin over PATH.
find_tool() {
	local name="$1" gobin
	gobin="$(go env GOPATH)/bin"
	if [[ -x "$gobin/$name" ]]; then
		echo "$gobin/$name"
	elif command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
	fi
}

command -v go >/dev/null 2>&1 || die "go is not installed"

module="$(awk '$1 == "module" { print $2; exit }' go.mod)"
[[ -n "$module" ]] || die "cannot read the module path from go.mod"

# --- tool versions ---------------------------------------------------------------------------
problems=()

protoc_bin="$(command -v protoc || true)"
if [[ -z "$protoc_bin" ]]; then
	problems+=("protoc is not installed; want libprotoc $PROTOC_VERSION (Debian bookworm: apt-get install protobuf-compiler)")
else
	got="$("$protoc_bin" --version | awk '{ print $2 }')"
	[[ "$got" == "$PROTOC_VERSION" ]] ||
		problems+=("protoc is $got, want $PROTOC_VERSION (Debian bookworm: apt-get install protobuf-compiler)")
fi

gen_go="$(find_tool protoc-gen-go)"
install_gen_go="go install google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
if [[ -z "$gen_go" ]]; then
	problems+=("protoc-gen-go is not installed; run: $install_gen_go")
else
	got="$("$gen_go" --version | awk '{ print $2 }')"
	[[ "$got" == "$PROTOC_GEN_GO_VERSION" ]] ||
		problems+=("protoc-gen-go is $got, want $PROTOC_GEN_GO_VERSION; run: $install_gen_go")
fi

gen_go_grpc="$(find_tool protoc-gen-go-grpc)"
install_gen_go_grpc="go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
if [[ -z "$gen_go_grpc" ]]; then
	problems+=("protoc-gen-go-grpc is not installed; run: $install_gen_go_grpc")
else
	# It prints "protoc-gen-go-grpc 1.5.1" (no leading v).
	got="v$("$gen_go_grpc" --version | awk '{ print $2 }')"
	[[ "$got" == "$PROTOC_GEN_GO_GRPC_VERSION" ]] ||
		problems+=("protoc-gen-go-grpc is $got, want $PROTOC_GEN_GO_GRPC_VERSION; run: $install_gen_go_grpc")
fi

sqlc_bin=""
if [[ -f sqlc.yaml ]]; then
	sqlc_bin="$(find_tool sqlc)"
	if [[ -z "$sqlc_bin" && $check -eq 1 ]]; then
		problems+=("sqlc.yaml exists but sqlc is not installed, so its output cannot be checked")
	fi
fi

if [[ ${#problems[@]} -gt 0 ]]; then
	printf 'generate: %s\n' "${problems[@]}" >&2
	exit 1
fi

# --- protobuf / gRPC -------------------------------------------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mapfile -t protos < <(cd "$PROTO_DIR" && find . -name '*.proto' -type f | sed 's|^\./||' | LC_ALL=C sort)
[[ ${#protos[@]} -gt 0 ]] || die "no .proto files under $PROTO_DIR/"

# Paths are relative to --proto_path, so the "source:" lines in the output do not depend on
# where the repository lives. module= strips the module prefix from go_package, so the files
# land at $tmp/$GEN_DIR.
"$protoc_bin" \
	--proto_path="$PROTO_DIR" \
	--plugin=protoc-gen-go="$gen_go" \
	--plugin=protoc-gen-go-grpc="$gen_go_grpc" \
	--go_out="$tmp" --go_opt=module="$module" \
	--go-grpc_out="$tmp" --go-grpc_opt=module="$module" \
	"${protos[@]}"

[[ -d "$tmp/$GEN_DIR" ]] || die "protoc wrote nothing to $GEN_DIR; check go_package in $PROTO_DIR/"

# gen_files DIR lists the generated *.pb.go files under DIR, relative to DIR, sorted.
gen_files() {
	[[ -d "$1" ]] || return 0
	(cd "$1" && find . -name '*.pb.go' -type f | sed 's|^\./||' | LC_ALL=C sort)
}

if [[ $check -eq 1 ]]; then
	stale=()
	while IFS= read -r f; do
		if [[ ! -f "$GEN_DIR/$f" ]]; then
			stale+=("$GEN_DIR/$f (missing)")
		elif ! cmp -s "$tmp/$GEN_DIR/$f" "$GEN_DIR/$f"; then
			stale+=("$GEN_DIR/$f (differs)")
		fi
	done < <(gen_files "$tmp/$GEN_DIR")
	while IFS= read -r f; do
		[[ -f "$tmp/$GEN_DIR/$f" ]] || stale+=("$GEN_DIR/$f (no longer generated)")
	done < <(gen_files "$GEN_DIR")

	failed=0
	if [[ ${#stale[@]} -gt 0 ]]; then
		echo "generate: generated protobuf code is out of date; run .ci/generate.sh (make generate):" >&2
		printf '  %s\n' "${stale[@]}" >&2
		failed=1
	fi
	if [[ -n "$sqlc_bin" ]]; then
		if ! "$sqlc_bin" diff; then
			echo "generate: sqlc output is out of date; run .ci/generate.sh (make generate)" >&2
			failed=1
		fi
	fi
	[[ $failed -eq 0 ]] || exit 1
	echo "generate: generated code is up to date"
	exit 0
fi

# Replace the generated files so that outputs of removed .proto files disappear too.
mkdir -p "$GEN_DIR"
while IFS= read -r f; do
	rm -f "$GEN_DIR/$f"
done < <(gen_files "$GEN_DIR")
while IFS= read -r f; do
	mkdir -p "$(dirname "$GEN_DIR/$f")"
	cp "$tmp/$GEN_DIR/$f" "$GEN_DIR/$f"
done < <(gen_files "$tmp/$GEN_DIR")
echo "generate: wrote $GEN_DIR"

# --- sqlc ------------------------------------------------------------------------------------
if [[ -f sqlc.yaml ]]; then
	if [[ -n "$sqlc_bin" ]]; then
		"$sqlc_bin" generate
		echo "generate: ran sqlc generate"
	else
		echo "generate: sqlc.yaml exists but sqlc is not installed; skipped sqlc generate" >&2
	fi
fi
