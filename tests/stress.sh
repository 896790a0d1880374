#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run the test suite, or a part of it, repeatedly while CPU hogs load the machine: the suite must not
# depend on timing (docs/testing.md). Needs stress-ng (Debian; tests/deps/stress.txt).
#
#   tests/stress.sh [-n HOGS] [-r RUNS] [-b BUILD_DIR] [-j JOBS] [-o OUT_DIR] [-s SCALE] [-- CTEST_ARGS...]
#
#   -n HOGS       CPU hogs (stress-ng --cpu HOGS) for the whole session; 0: none (default 2)
#   -r RUNS       runs of the selection (default 5)
#   -b BUILD_DIR  build directory (default build); a sanitizer build (HOSTDEV_SANITIZE=ON, like
#                 build-asan of tests/ci.sh) runs with ci.sh's ASAN_OPTIONS and UBSAN_OPTIONS
#   -j JOBS       ctest -j (default 2)
#   -o OUT_DIR    where the logs go (default BUILD_DIR/stress); a failing run's log is kept, a
#                 passing one removed
#   -s SCALE      export HOSTDEV_TEST_TIMEOUT_SCALE=SCALE (stretches the tests' bounds, e.g. for
#                 valgrind); the suite must pass without it
#   CTEST_ARGS    the selection, passed to ctest (default: -LE vm, the non-VM suite), e.g.
#                 -R 'deviceplugin.grpcio|bindings-python$', -L usb, -LE 'vm|bench', -L vm
#
# Prints one line per run and ends with "stress: P passed, F failed" (runs); exits 1 if any run
# failed, 2 on a usage or setup error. The hogs are stopped on exit, whatever ends the script.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
hogs=2 runs=5 build=build jobs=2 out="" scale=""

usage() {
	sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while getopts n:r:b:j:o:s:h opt; do
	case $opt in
	n) hogs=$OPTARG ;;
	r) runs=$OPTARG ;;
	b) build=$OPTARG ;;
	j) jobs=$OPTARG ;;
	o) out=$OPTARG ;;
	s) scale=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
for n in "$hogs" "$runs" "$jobs"; do
	case $n in '' | *[!0-9]*) echo "stress: -n, -r and -j take a number, not '$n'" >&2 && exit 2 ;; esac
done
[ "$runs" -ge 1 ] || { echo "stress: -r must be at least 1" >&2; exit 2; }
case $build in /*) ;; *) build=$top/$build ;; esac
if [ ! -f "$build/CTestTestfile.cmake" ]; then
	echo "stress: $build is not a configured build directory (see tests/ci.sh)" >&2
	exit 2
fi
if [ "$hogs" -gt 0 ] && ! command -v stress-ng >/dev/null 2>&1; then
	echo "stress: stress-ng is not installed (apt-get install stress-ng; tests/deps/stress.txt)" >&2
	exit 2
fi
[ -n "$out" ] || out=$build/stress
mkdir -p "$out"
[ $# -gt 0 ] || set -- -LE vm

# The sanitizer pass of tests/ci.sh.
if grep -q '^HOSTDEV_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	kind="sanitizer build"
else
	kind="build"
fi
[ -z "$scale" ] || export HOSTDEV_TEST_TIMEOUT_SCALE="$scale"

hog_pid="" ctest_pid=""
stop_hogs() {
	if [ -n "$ctest_pid" ]; then
		# Its process group: the tests ctest started go with it.
		kill -TERM "-$ctest_pid" 2>/dev/null || true
		wait "$ctest_pid" 2>/dev/null || true
		ctest_pid=""
	fi
	if [ -n "$hog_pid" ]; then
		kill "$hog_pid" 2>/dev/null || true
		wait "$hog_pid" 2>/dev/null || true
		hog_pid=""
	fi
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT
trap 'stop_hogs; exit 143' TERM
if [ "$hogs" -gt 0 ]; then
	stress-ng --cpu "$hogs" --quiet &
	hog_pid=$!
fi

echo "stress: $runs run(s) of ctest $* in $build ($kind), $hogs CPU hog(s), -j$jobs; logs in $out"
passed=0 failed=0 run=1
while [ "$run" -le "$runs" ]; do
	log=$out/run-$run.log
	load=$(cut -d' ' -f1 /proc/loadavg)
	start=$(date +%s)
	st=0
	# In the background and in a process group of its own, so that a signal to this script
	# stops it and its tests too (see stop_hogs).
	setsid ctest --test-dir "$build" -j"$jobs" --output-on-failure "$@" >"$log" 2>&1 &
	ctest_pid=$!
	wait "$ctest_pid" || st=$?
	ctest_pid=""
	took=$(($(date +%s) - start))
	summary=$(grep -E 'tests passed|No tests were found' "$log" | tail -n 1)
	[ -n "$summary" ] || summary="no ctest summary (exit $st)"
	if [ "$st" -eq 0 ] && ! grep -q 'No tests were found' "$log"; then
		passed=$((passed + 1))
		echo "stress: run $run/$runs: pass, $summary, ${took} s (load $load at the start)"
		rm -f "$log"
	else
		failed=$((failed + 1))
		names=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\)$/\1/p' "$log" | tr '\n' ';' | sed 's/;$//')
		echo "stress: run $run/$runs: FAIL, $summary, ${took} s (load $load at the start): ${names:-see the log}; log kept: $log"
	fi
	run=$((run + 1))
done
stop_hogs
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
