#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bench/run-agent.sh: the Kubernetes node agent at scale. 50 hostdev-agent processes, one per node,
# each publishing a 200-function fake root (bench/gen-sysfs.py) to one stand-in API server
# (tests/agent/apiserver); then the same cluster under a model of Harvester's 30 s
# rescan-and-rewrite loop. bench/agent_bench.py measures (docs in it) and writes the "Node agent at
# scale" section of docs/performance.md (the rest of the document is kept).
#
#   bench/run-agent.sh [--smoke | --idle] [HOSTDEV_AGENT]
#
# HOSTDEV_AGENT defaults to build/examples/agent/hostdev-agent. --smoke: 3 nodes of 20 functions,
# a 3 s idle window, one rewrite cycle; prints the table, writes no document, fails unless every
# figure was produced and every agent converged (it asserts no speed). --idle: only the idle
# figure the issue asks for: one agent of 1,000 and one of 10,000 functions at the same time, each
# alone on its node, CPU per idle minute over a 660 s window (every periodic activity of the
# agent at its defaults but the 12 h resync, which is then made on request and measured alone),
# RSS at the end; about 20 minutes (the 10,000-function start takes a few); writes the "At idle"
# part of the section. Environment:
#   AGENT_BENCH_NODES     nodes (default 50; smoke 3)
#   AGENT_BENCH_DEVICES   PCI functions per node (default 200; smoke 20)
#   AGENT_BENCH_IDLE      idle window in s (default 660; smoke 3)
#   AGENT_BENCH_BIG       functions of the lone big node (default 1000; smoke 0 = none)
#   AGENT_BENCH_CYCLES    cycles of the rewrite-loop model (default 2; smoke 1)
#   AGENT_BENCH_SIZES     --idle: functions of each agent (default 1000,10000)
#   AGENT_BENCH_ROOTS     --idle: "N=DIR ..." roots to use (only read) instead of generating them
#   AGENT_BENCH_OUT       work directory (default bench/out/agent, git-ignored): roots, logs,
#                         result.json of the last run
#   AGENT_BENCH_DOC       output document (default docs/performance.md; "-" = print only)
#   AGENT_BENCH_COMMIT    the commit HOSTDEV_AGENT was built from (default: git HEAD)
# Needs /usr/bin/python3 with python3-yaml and openssl (tests/deps/agent.txt); exits 77 without.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
smoke=0
idle=0
if [ "${1:-}" = "--smoke" ]; then
	smoke=1
	shift
elif [ "${1:-}" = "--idle" ]; then
	idle=1
	shift
fi
agent=${1:-$top/build/examples/agent/hostdev-agent}
py=/usr/bin/python3
skip() {
	echo "bench-agent: $* (tests/install-deps.sh installs tests/deps/*.txt); skipped" >&2
	exit 77
}
[ -x "$py" ] || skip "$py not found"
"$py" -c 'import yaml' 2>/dev/null || skip "python3-yaml missing"
command -v openssl >/dev/null 2>&1 || skip "openssl missing (the stand-in's certificates)"
[ -x "$agent" ] || {
	echo "bench-agent: $agent is not executable; build first (cmake --build build) or pass the binary" >&2
	exit 1
}
agent=$(cd "$(dirname "$agent")" && pwd)/$(basename "$agent")
if [ "$idle" = 1 ]; then
	# One agent per size, alone on its node; after the window a resync on request (SIGHUP),
	# measured alone; 43200 s is the agent's default --resync-interval (12 h).
	set -- --idle-mode --sizes "${AGENT_BENCH_SIZES:-1000,10000}" --idle "${AGENT_BENCH_IDLE:-660}" \
		--roots "${AGENT_BENCH_ROOTS:-}" --resync-on-request --resync-interval 43200 \
		--doc "${AGENT_BENCH_DOC:-$top/docs/performance.md}"
elif [ "$smoke" = 1 ]; then
	set -- --nodes "${AGENT_BENCH_NODES:-3}" --devices "${AGENT_BENCH_DEVICES:-20}" \
		--idle "${AGENT_BENCH_IDLE:-3}" --big "${AGENT_BENCH_BIG:-0}" \
		--loop-cycles "${AGENT_BENCH_CYCLES:-1}" --loop-period 1 --doc "${AGENT_BENCH_DOC:--}"
else
	set -- --nodes "${AGENT_BENCH_NODES:-50}" --devices "${AGENT_BENCH_DEVICES:-200}" \
		--idle "${AGENT_BENCH_IDLE:-660}" --big "${AGENT_BENCH_BIG:-1000}" \
		--loop-cycles "${AGENT_BENCH_CYCLES:-2}" --doc "${AGENT_BENCH_DOC:-$top/docs/performance.md}"
fi
out=${AGENT_BENCH_OUT:-$here/out/agent$([ "$idle" = 1 ] && echo -idle)}
mkdir -p "$out"
commit=${AGENT_BENCH_COMMIT:-}
if [ -z "$commit" ]; then
	commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$top" status --porcelain -- src examples/agent include 2>/dev/null)" ]; then
		commit="$commit + uncommitted changes"
	fi
fi
AB_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
AB_COMMIT=$commit
AB_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
AB_NCPU=$(getconf _NPROCESSORS_ONLN)
AB_MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
AB_KERNEL=$(uname -r)
AB_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
AB_AGENT="$agent ($("$agent" --version 2>/dev/null | head -1))"
export AB_DATE AB_COMMIT AB_CPU AB_NCPU AB_MEM AB_KERNEL AB_LOAD AB_AGENT
exec "$py" "$here/agent_bench.py" --agent "$agent" --work "$out" --json "$out/result.json" "$@"
