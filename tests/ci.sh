#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The project's test command: installs what is needed (Debian packages), builds with warnings as errors,
# checks formatting, runs every test (unit, CLI, conformance, ABI, bindings, the QEMU real-kernel suite),
# then runs the non-VM suite again under AddressSanitizer+UBSan and the unit tests under valgrind.
#
#   tests/ci.sh            everything
#   HOSTDEV_SKIP_VM=1      leave out the QEMU suite (it reports itself skipped)
#   HOSTDEV_PACKAGING=1    also build the Debian packages, lintian them and install them into a clean
#                          chroot (ctest packaging-deb: ~20 min, docs/packaging.md); without it
#                          that test reports itself skipped and only the cheap packaging checks run
#   HOSTDEV_JOBS=N         parallel build/test jobs (default: nproc)
#   HOSTDEV_AGENT_IMAGE=1  also build the hostdev-agent image (debootstrap + buildah, 10-25 min)
#                          and run its binaries (ctest agent-image, docs/agent.md); without it that
#                          test reports itself skipped and only the cheap checks of its recipe run
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${HOSTDEV_JOBS:-$(nproc)}
step() { printf '\n==== %s ====\n' "$*"; }

# recap BUILD_DIR: after a failed ctest, each failing test's failure lines and the end of its output
# again, at the very end: a CI report shows the start and the end of a long log, and the detail
# of a failure in the middle of the run would otherwise be cut out.
recap() {
	[ -f "$1/Testing/Temporary/LastTestsFailed.log" ] || return 0
	step "recap of the failing tests"
	sed 's/^[0-9]*://' "$1/Testing/Temporary/LastTestsFailed.log" | while read -r name; do
		awk -v name="$name" '
			index($0, "\"" name "\" start time:") == 1 { mine = 1; next }
			mine && /^<end of output>$/ { exit }
			mine && /^Output:$/ { out = 1; next }
			mine && out && !/^-+$/ { lines[n++] = $0 }
			END {
				printf "--- %s: failure lines\n", name
				for (i = 0; i < n; i++)
					if (lines[i] ~ /not ok|FAIL|[Ee]rror|Traceback|[Aa]ssert|timed out|vm_die/ && shown++ < 40)
						print lines[i]
				printf "--- %s: the last lines\n", name
				for (i = (n > 25 ? n - 25 : 0); i < n; i++)
					print lines[i]
			}' "$1/Testing/Temporary/LastTest.log"
	done
}

step "dependencies"
tests/install-deps.sh

step "format check (clang-format)"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include examples plugins tests -name '*.[ch]')
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files

step "build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOSTDEV_WERROR=ON > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j"$jobs"

step "build (ASan+UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHOSTDEV_SANITIZE=ON > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
cmake --build build-asan -j"$jobs"

# The bench smoke test counts syscalls with strace, and LeakSanitizer cannot run under ptrace. The
# packaging tests build their own packages from the sources, and so is the agent's image: the
# sanitizer build has no part in them.
step "sanitizer run: every test but the QEMU suite, the benchmark, the Debian packaging and the agent's image"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan -LE "vm|bench|packaging|image" -j"$jobs" --output-on-failure ||
	{ recap build-asan; exit 1; }

# Forked children (crash tests SIGKILL them on purpose) are not leak-checked.
step "valgrind run: unit tests"
ctest --test-dir build -L unit -j"$jobs" --output-on-failure \
	--overwrite MemoryCheckCommand=/usr/bin/valgrind \
	--overwrite "MemoryCheckCommandOptions=--leak-check=full --error-exitcode=1 --errors-for-leak-kinds=definite --child-silent-after-fork=yes" \
	-T memcheck > valgrind.log 2>&1 || { cat valgrind.log; exit 1; }
grep -E 'tests passed|Memory checking results' -A3 valgrind.log || true
if grep -q 'Defects:' valgrind.log; then
	grep -B2 -A10 'Defects:' valgrind.log
	echo "valgrind reported defects"; exit 1
fi

# The QEMU scenarios share one lock (RESOURCE_LOCK hostdev-vm): one guest at a time, while the
# other tests run beside it. Every test waits for events, not times, so the load does not matter.
step "full suite (unit, CLI, conformance, ABI, bindings, agent, QEMU real kernel)"
if [ "${HOSTDEV_SKIP_VM:-0}" = 1 ]; then
	ctest --test-dir build -LE vm -j"$jobs" --output-on-failure || { recap build; exit 1; }
else
	ctest --test-dir build -j"$jobs" --output-on-failure || { recap build; exit 1; }
fi
