#!/usr/bin/env bash
# What `make bench` does: runs every Go benchmark of the project and prints each result beside its
# baseline, measured in the same run, with the ratio.
#
#   .ci/bench.sh [regexp]     only benchmark functions whose name matches regexp (e.g. DriftCheck)
#
# Benchmarks are found by looking for `func BenchmarkX(` in *_test.go files. Each function runs in its
# own `go test -run '^$' -bench '^BenchmarkX$'`, with the -benchtime of the table below (default
# BENCHTIME, 5x). A sub-benchmark's baseline is its nearest sibling (walking up the name) called
# `baseline`, or the name the table gives for that function; its ratio is ns/op ÷ the baseline's
# ns/op. A benchmark that reports its own `ratio` metric has it printed as is.
#
# Benchmarks that report copy_records/s (BenchmarkIngest: records/s end to end through each transport
# beside a COPY of the same rows) get a table of their own instead: records/s, the COPY baseline,
# the ratio and the acknowledgement latency percentiles.
#
# Environment: BENCHTIME (default 5x), BENCH_COUNT (runs per benchmark, default 1; the median is
# printed), SCOUTER_TEST_DATABASE_URI (default: the local test Postgres, started here if needed and
# stopped again afterwards). Raw `go test` output is kept in .local/bench/latest.txt.
set -euo pipefail

# shellcheck source=.ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Per-function settings: name, -benchtime ("-" = BENCHTIME), baseline sub-benchmark ("-" = baseline).
readonly SETTINGS=(
	"BenchmarkDriftCheck - baseline"
	"BenchmarkInsertSPC - copy_raw"
	"BenchmarkIngest 1x -"
)

BENCHTIME="${BENCHTIME:-5x}"
BENCH_COUNT="${BENCH_COUNT:-1}"
filter="${1:-.}"
started_pg=0

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if ((started_pg)); then
		"$ROOT/.ci/pg.sh" stop test
	fi
	exit "$rc"
}

setting() { # setting NAME FIELD(2|3)
	local line
	for line in "${SETTINGS[@]}"; do
		read -r -a f <<<"$line"
		if [[ "${f[0]}" == "$1" ]]; then
			echo "${f[$(($2 - 1))]}"
			return
		fi
	done
	echo "-"
}

# benchmarks prints "package function" for every benchmark function.
benchmarks() {
	local file fn
	git -C "$ROOT" ls-files --cached --others --exclude-standard -- '*_test.go' | LC_ALL=C sort | while read -r file; do
		{ grep -oE '^func Benchmark[A-Za-z0-9_]*\(' "$ROOT/$file" || true; } | sed -E 's/^func (.*)\($/\1/' | while read -r fn; do
			echo "./$(dirname "$file") $fn"
		done
	done
}

# report reads `go test -bench` output and prints the table.
report() {
	awk -v baselines="$1" '
	function median(name,    n, i, j, t, v) {
		n = split(times[name], v, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	function fmt_ns(ns) {
		if (ns >= 1e9) return sprintf("%.2f s", ns / 1e9)
		if (ns >= 1e6) return sprintf("%.1f ms", ns / 1e6)
		if (ns >= 1e3) return sprintf("%.1f µs", ns / 1e3)
		return sprintf("%d ns", ns)
	}
	BEGIN {
		n = split(baselines, b, " ")
		for (i = 1; i + 1 <= n; i += 2) base[b[i]] = b[i+1]
	}
	/^Benchmark/ && $4 == "ns/op" {
		if (index($0, " copy_records/s")) next # in report_ingest
		name = $1; sub(/-[0-9]+$/, "", name)
		if (!(name in times)) order[++count] = name
		times[name] = times[name] " " $3
		for (i = 5; i + 1 <= NF; i += 2) if ($(i+1) == "ratio") ratio[name] = $i
	}
	END {
		if (!count) exit
		printf "%-52s %12s   %-44s %12s %8s\n", "benchmark", "time/op", "baseline (same run)", "time/op", "ratio"
		for (k = 1; k <= count; k++) {
			name = order[k]; ns = median(name)
			top = name; sub(/\/.*/, "", top)
			want = (top in base && base[top] != "-") ? base[top] : "baseline"
			leaf = name; sub(/.*\//, "", leaf)
			bname = ""
			if (index(name, "/") && leaf != want) {
				parent = name
				while (sub(/\/[^\/]*$/, "", parent)) {
					if ((parent "/" want) in times) { bname = parent "/" want; break }
				}
			}
			if (bname != "") {
				bns = median(bname)
				printf "%-52s %12s   %-44s %12s %7.2fx\n", name, fmt_ns(ns), bname, fmt_ns(bns), ns / bns
			} else if (name in ratio) {
				printf "%-52s %12s   %-44s %12s %8s\n", name, fmt_ns(ns), "(reported by the benchmark)", "", ratio[name]
			} else {
				printf "%-52s %12s\n", name, fmt_ns(ns)
			}
		}
	}'
}

# report_ingest reads `go test -bench` output and prints the table of the benchmarks that report
# records/s beside copy_records/s (the median of each metric over BENCH_COUNT runs).
report_ingest() {
	awk '
	function median(list,    n, i, j, t, v) {
		n = split(list, v, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	/^Benchmark/ && index($0, " copy_records/s") {
		name = $1; sub(/-[0-9]+$/, "", name)
		if (!(name in seen)) { seen[name] = 1; order[++count] = name }
		for (i = 5; i + 1 <= NF; i += 2) m[name, $(i+1)] = m[name, $(i+1)] " " $i
	}
	END {
		if (!count) exit
		printf "\n%-26s %12s   %-24s %14s %7s %9s %9s\n", "benchmark", "records/s", "baseline (same run)", "records/s", "ratio", "p50 ack", "p99 ack"
		for (k = 1; k <= count; k++) {
			n = order[k]
			p50 = ((n, "p50_ms") in m) ? sprintf("%6.1f ms", median(m[n, "p50_ms"])) : "-"
			p99 = ((n, "p99_ms") in m) ? sprintf("%6.1f ms", median(m[n, "p99_ms"])) : "-"
			printf "%-26s %12.0f   %-24s %14.0f %6.2fx %9s %9s\n", n, median(m[n, "records/s"]), "COPY, same rows", \
				median(m[n, "copy_records/s"]), median(m[n, "ratio"]), p50, p99
		}
		print "(ack latency at half the measured records/s, open loop; ingest targets: ratio >= 0.60, p99 < 50 ms)"
	}'
}

main() {
	cd "$ROOT"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	if [[ -z "${SCOUTER_TEST_DATABASE_URI:-}" ]]; then
		"$ROOT/.ci/pg.sh" status test >/dev/null || started_pg=1
		"$ROOT/.ci/pg.sh" start test
		SCOUTER_TEST_DATABASE_URI="$("$ROOT/.ci/pg.sh" url test)"
		export SCOUTER_TEST_DATABASE_URI
	fi

	local out="$LOCAL_DIR/bench/latest.txt" pkg fn bt bases="" base
	mkdir -p "$(dirname "$out")"
	: >"$out"
	while read -r pkg fn; do
		[[ "$fn" =~ $filter ]] || continue
		bt="$(setting "$fn" 2)"
		[[ "$bt" != "-" ]] || bt="$BENCHTIME"
		base="$(setting "$fn" 3)"
		bases+="$fn $base "
		log "$fn ($pkg, -benchtime $bt, -count $BENCH_COUNT)"
		go test -run '^$' -bench "^${fn}\$" -benchtime "$bt" -count "$BENCH_COUNT" -timeout 60m "$pkg" | tee -a "$out" >&2
	done < <(benchmarks)
	[[ -s "$out" ]] || die "no benchmark matches '$filter'"
	echo
	report "$bases" <"$out"
	report_ingest <"$out"
}

main "$@"
