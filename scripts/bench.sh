#!/usr/bin/env bash
# The Go micro-benchmarks of the hot paths, written in benchstat's input
# format (plain `go test -bench` output), so that a regression shows up
# as a benchstat comparison rather than as a figure someone remembers.
# Called by `make bench-go` and `make bench-commits` (docs/benchmarks.md,
# "Catching a regression"), which pass the settings below.
#
#   scripts/bench.sh run FILE            this tree, BENCH_COUNT runs in a row, into FILE
#   scripts/bench.sh commits OLD NEW DIR two revisions (NEW may be "." for this
#                                        tree as it is), runs interleaved, into
#                                        DIR, then benchstat of the two
#
# Settings (environment): BENCHES, a list of PACKAGE=PATTERN (a -bench
# pattern per package: a pattern of two levels such as X$/^mtls$ would
# hide the results of every benchmark without sub-benchmarks in the
# same package), BENCHTIME (-benchtime), BENCH_COUNT (samples per
# benchmark and side).
set -euo pipefail

: "${GO:=go}" "${BENCHES:?}" "${BENCHTIME:?}" "${BENCH_COUNT:?}"
top=$(git rev-parse --show-toplevel)

die() { echo "bench.sh: $*" >&2; exit 1; }

# run: this tree's test binaries, BENCH_COUNT runs in a row each.
run() {
	local out=$1 b pkg
	mkdir -p "$(dirname "$out")"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	build "$top" "$work/bin"
	: >"$out.part"
	: >"$out.log"
	for b in $BENCHES; do
		pkg=${b%%=*}
		bench "$top/$pkg" "$work/bin/$(name "$pkg").test" "${b#*=}" "$BENCH_COUNT" "$out.part" "$out.log" | tee -a "$out.part"
	done
	grep -q '^Benchmark.*ns/op' "$out.part" || die "no benchmark matched BENCHES"
	mv "$out.part" "$out"
	echo "benchmarks written to $out, their logs to $out.log (compare two such files: make bench-compare OLD=… NEW=…)"
}

# bench DIR BIN PATTERN COUNT OUT LOG: the benchmarks of one test binary,
# run in its package's directory as go test does. Its results go to
# stdout; its stderr (the libraries' logs) to LOG, where a log line
# could not split a result line in two as it does when both streams
# share a file (benchstat then drops that sample).
bench() {
	local dir=$1 bin=$2 pattern=$3 count=$4 out=$5 log=$6
	(cd "$dir" && "$bin" -test.run '^$' -test.bench "$pattern" -test.benchmem \
		-test.benchtime "$BENCHTIME" -test.count "$count") 2>>"$log" ||
		{ tail -n 30 "$log" >&2; die "a run of $bin failed: see $out and $log"; }
}

# tree REV DIR: the source of REV in DIR. git archive rather than a
# worktree: nothing is registered in the repository, so an interrupted
# run leaves nothing behind but its temporary directory.
tree() {
	local rev=$1 dir=$2
	if [[ $rev == . ]]; then
		ln -s "$top" "$dir"
		return
	fi
	mkdir -p "$dir"
	git -C "$top" archive "$rev" | tar -x -C "$dir"
}

# build SRC BIN: one test binary per package, so that both sides are
# compiled before the first run and the runs measure nothing else.
build() {
	local src=$1 bin=$2 b pkg
	mkdir -p "$bin"
	for b in $BENCHES; do
		pkg=${b%%=*}
		(cd "$src" && "$GO" test -c -o "$bin/$(name "$pkg").test" "$pkg") ||
			die "cannot build the tests of $pkg in $src"
	done
}

# name PKG: a file name for the test binary of ./a/b/ (a_b).
name() { local p=${1#./}; p=${p%/}; echo "${p//\//_}"; }

# once SIDE: one run of every package's binary of SIDE (old or new),
# appended to its file.
once() {
	local side=$1 b pkg out
	out=$dir/$side-$(label "$side").txt
	for b in $BENCHES; do
		pkg=${b%%=*}
		bench "$work/src-$side/$pkg" "$work/bin-$side/$(name "$pkg").test" "${b#*=}" 1 "$out" "${out%.txt}.log" >>"$out"
	done
}

label() { if [[ $1 == old ]]; then echo "$old_label"; else echo "$new_label"; fi; }

commits() {
	local old=$1 new=$2 round rounds
	mkdir -p "$3"
	dir=$(cd "$3" && pwd)
	old_label=$(git -C "$top" rev-parse --short --verify "$old^{commit}") || die "no commit $old"
	if [[ $new == . ]]; then
		new_label=worktree
	else
		new_label=$(git -C "$top" rev-parse --short --verify "$new^{commit}") || die "no commit $new"
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	tree "$old" "$work/src-old"
	tree "$new" "$work/src-new"
	echo "building the test binaries of $old_label and $new_label"
	build "$work/src-old" "$work/bin-old"
	build "$work/src-new" "$work/bin-new"
	rm -f "$dir/old-$old_label".{txt,log} "$dir/new-$new_label".{txt,log}
	# ABBA: the first run of a pair is often the faster one on a shared
	# machine, so each side goes first as often as second. Each round
	# gives two samples per side.
	rounds=$(((BENCH_COUNT + 1) / 2))
	for ((round = 1; round <= rounds; round++)); do
		echo "round $round of $rounds (old new new old)"
		once old
		once new
		once new
		once old
	done
	cd "$top"
	grep -q '^Benchmark.*ns/op' "$dir/old-$old_label.txt" "$dir/new-$new_label.txt" ||
		die "no benchmark matched BENCHES in either revision"
	"$GO" tool benchstat "$old_label=$dir/old-$old_label.txt" "$new_label=$dir/new-$new_label.txt" | tee "$dir/benchstat-$old_label-$new_label.txt"
}

case ${1:-} in
run) [[ $# == 2 ]] || die "usage: $0 run FILE"; run "$2" ;;
commits) [[ $# == 4 ]] || die "usage: $0 commits OLD NEW DIR"; commits "$2" "$3" "$4" ;;
*) die "usage: $0 run FILE | commits OLD NEW DIR" ;;
esac
