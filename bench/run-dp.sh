#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bench/run-dp.sh: kubelet device-plugin serving. `hostdev serve`, the library's API (bench/
# dp_bench_server.c) and a minimal grpc-go plugin built from Debian's packages (bench/dp-goplugin)
# serve the same vfio-pci devices of a fake root; a Python grpcio client (bench/dp_bench.py)
# measures Allocate latency, ListAndWatch update latency and the servers' memory. A fifth server,
# the floor (`dp_bench_server --fixed`: the library's gRPC layer answering one fixed reply, no
# plugin logic, no health updates), measures what the client and the transport cost by
# themselves, which bounds every latency ratio from below. Writes the
# "Device-plugin serving" section of docs/performance.md (the rest of the file is bench/run.sh's).
# Then each server runs once more, polling nothing, with strace attached during Allocate calls of
# two devices (bench/dp_syscalls.py): its system calls per Allocate.
#
#   bench/run-dp.sh [--smoke] [HOSTDEV]
#
# HOSTDEV defaults to build/examples/cli/hostdev; libhostdev.so is looked for in src/ of the same
# build tree. --smoke: a few iterations on one small root, prints the table, writes no document,
# and fails unless every server produced every figure (it never asserts a speed), or when a
# libhostdev server opened a file during the counted Allocate calls. Environment:
#   DP_BENCH_SIZES        devices per resource (default "1 100"; smoke "3")
#   DP_BENCH_ALLOCATE     Allocate calls per run, sequential and concurrent (default 2000; smoke 40)
#   DP_BENCH_CONCURRENCY  client threads of the concurrent run (default 16; smoke 4)
#   DP_BENCH_UPDATES      health flips per server (each: unhealthy, healthy; default 50; smoke 3)
#   DP_BENCH_REFRESH      interval in ms of the Go plugin that polls (default 100; smoke 50);
#                         `hostdev serve` runs at its defaults (health by events)
#   DP_BENCH_ROUNDS       runs of each server, in turns, samples pooled (default 3; smoke 1)
#   DP_BENCH_SYSCALL_CALLS Allocate calls counted with strace per server (default 1000; smoke 40)
#   DP_BENCH_OUT          work directory: Go build cache and binary, results/ of the last run
#                         (default bench/out/dp, git-ignored; reused)
#   DP_BENCH_LIBDIR       directory of libhostdev.so (default: HOSTDEV's build tree, src/)
#   DP_BENCH_DOC          output document (default docs/performance.md; "-" = print only)
#   DP_BENCH_COMMIT       the libhostdev commit HOSTDEV was built from (default: git HEAD)
#
# Needs strace, /usr/bin/python3 with python3-grpcio and python3-grpc-tools, go (golang-go) with
# golang-google-grpc-dev, golang-google-protobuf-dev and golang-golang-x-sys-dev, and a C
# compiler (tests/deps/bench.txt). Exits 77 when one is missing.
set -eu

# Everything is in main(), which the shell parses whole before running it.
main() {
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
smoke=0
if [ "${1:-}" = "--smoke" ]; then
	smoke=1
	shift
fi
hostdev=${1:-$top/build/examples/cli/hostdev}
if [ "$smoke" = 1 ]; then
	sizes=${DP_BENCH_SIZES:-3}
	calls=${DP_BENCH_ALLOCATE:-40}
	conc=${DP_BENCH_CONCURRENCY:-4}
	updates=${DP_BENCH_UPDATES:-3}
	refresh=${DP_BENCH_REFRESH:-50}
	rounds=${DP_BENCH_ROUNDS:-1}
	warmup=5
	syscall_calls=${DP_BENCH_SYSCALL_CALLS:-40}
	doc=${DP_BENCH_DOC:--}
else
	sizes=${DP_BENCH_SIZES:-1 100}
	calls=${DP_BENCH_ALLOCATE:-2000}
	conc=${DP_BENCH_CONCURRENCY:-16}
	updates=${DP_BENCH_UPDATES:-50}
	refresh=${DP_BENCH_REFRESH:-100}
	rounds=${DP_BENCH_ROUNDS:-3}
	warmup=100
	syscall_calls=${DP_BENCH_SYSCALL_CALLS:-1000}
	doc=${DP_BENCH_DOC:-$top/docs/performance.md}
fi
out=${DP_BENCH_OUT:-$here/out/dp}
py=/usr/bin/python3
resource=example.com/nic
vendor_device=8086:10d3

skip() {
	echo "bench: $* (sh tests/install-deps.sh installs tests/deps/*.txt); skipped" >&2
	exit 77
}
[ -x "$py" ] || skip "$py not found"
"$py" -c 'import grpc, grpc_tools' 2>/dev/null || skip "python3-grpcio or python3-grpc-tools missing"
command -v go >/dev/null 2>&1 || skip "go not found (golang-go)"
command -v strace >/dev/null 2>&1 || skip "strace not found"
for d in google.golang.org/grpc google.golang.org/protobuf/encoding/protowire golang.org/x/sys/unix; do
	[ -d "/usr/share/gocode/src/$d" ] || skip "/usr/share/gocode/src/$d missing (Debian's Go packages)"
done
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || skip "no C compiler ($cc)"
[ -x "$hostdev" ] || {
	echo "bench: $hostdev is not executable; build first (cmake --build build) or pass the binary" >&2
	exit 1
}
hostdev=$(cd "$(dirname "$hostdev")" && pwd)/$(basename "$hostdev")
libdir=${DP_BENCH_LIBDIR:-$(cd "$(dirname "$hostdev")/../.." && pwd)/src}
[ -e "$libdir/libhostdev.so" ] || {
	echo "bench: no libhostdev.so in $libdir; set DP_BENCH_LIBDIR" >&2
	exit 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-dp-bench.XXXXXX")
server_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$server_pid" ]; then
		kill -KILL "$server_pid" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the grpc-go baseline offline (GOPATH mode, Debian's sources only) and the API server.
echo "bench: building bench/dp-goplugin (grpc-go $(dpkg-query -W -f='${Version}' golang-google-grpc-dev 2>/dev/null || echo '?'))"
(cd "$here/dp-goplugin" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" GOPROXY=off \
	GOFLAGS='' GOENV=off go build -o "$out/dp-goplugin" .)
echo "bench: building bench/dp_bench_server.c against $libdir"
"$cc" -O2 -std=c11 -Wall -Wextra -I"$top/include" "$here/dp_bench_server.c" -L"$libdir" -lhostdev \
	-Wl,-rpath,"$libdir" -pthread -o "$tmp/dp_bench_server"
"$py" "$here/dp_bench.py" --compile-protos "$top/src/deviceplugin/proto" "$tmp"

# stop_server NAME: SIGTERM, then SIGKILL after 10 s; the server must exit 0 and remove its socket.
stop_server() {
	kill -TERM "$server_pid" 2>/dev/null || :
	i=0
	while kill -0 "$server_pid" 2>/dev/null && [ $i -lt 100 ]; do
		# a zombie still answers kill -0; wait below reaps it
		if [ "$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$server_pid/status" 2>/dev/null)" = Z ]; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 100 ]; then
		echo "bench: $1 did not stop within 10 s of SIGTERM; killed" >&2
		kill -KILL "$server_pid" 2>/dev/null || :
	fi
	rc=0
	wait "$server_pid" || rc=$?
	server_pid=""
	if [ "$rc" != 0 ]; then
		echo "bench: $1 exited with $rc on SIGTERM; its log:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
	if [ -e "$sock" ]; then
		echo "bench: $1 left its socket $sock" >&2
		exit 1
	fi
}

results=""
load=$(cut -d' ' -f1-3 /proc/loadavg)
for n in $sizes; do
	root=$tmp/root-$n
	"$py" "$here/gen-dp-root.py" --devices "$n" --manifest "$tmp/manifest-$n.json" "$root" >/dev/null
	kubelet=$tmp/kubelet-$n
	mkdir -p "$kubelet/device-plugins"
	round=1
	while [ $round -le "$rounds" ]; do
	for server in serve api go go-poll fixed; do
		# Every group node back, whatever a failed run left.
		i=0
		while [ $i -lt "$n" ]; do
			: >"$root/dev/vfio/$i"
			i=$((i + 1))
		done
		log=$tmp/$server-$n.log
		jitter=0
		server_updates=$updates
		case $server in
		serve)
			# At its defaults: health by events, nothing polls (issue 15).
			sock=$kubelet/device-plugins/example.com_nic.sock
			"$hostdev" --root "$root" serve --resource "$resource" --pci-device "$vendor_device" \
				--registration none --kubelet-dir "$kubelet" >"$log" 2>&1 &
			;;
		api)
			sock=$kubelet/device-plugins/example.com_nic.sock
			"$tmp/dp_bench_server" "$root" "$kubelet/device-plugins" "$resource" "$vendor_device" \
				>"$log" 2>&1 &
			;;
		go)
			sock=$kubelet/device-plugins/go.sock
			"$out/dp-goplugin" -socket "$sock" -resource "$resource" -manifest "$tmp/manifest-$n.json" \
				-root "$root" >"$log" 2>&1 &
			;;
		go-poll)
			sock=$kubelet/device-plugins/go.sock
			jitter=$refresh
			"$out/dp-goplugin" -socket "$sock" -resource "$resource" -manifest "$tmp/manifest-$n.json" \
				-root "$root" -watch=false -poll "$refresh" >"$log" 2>&1 &
			;;
		fixed)
			# The floor: Allocate only (its health never changes).
			sock=$kubelet/device-plugins/example.com_nic.sock
			server_updates=0
			"$tmp/dp_bench_server" --fixed "$root" "$kubelet/device-plugins" "$resource" \
				"$vendor_device" >"$log" 2>&1 &
			;;
		esac
		server_pid=$!
		echo "bench: $n devices, round $round/$rounds: $server (pid $server_pid)"
		if ! "$py" "$here/dp_bench.py" --socket "$sock" --root "$root" --manifest "$tmp/manifest-$n.json" \
			--pid "$server_pid" --label "$server" --protos-compiled "$tmp" --warmup "$warmup" \
			--allocate "$calls" --concurrency "$conc" --updates "$server_updates" --jitter-ms "$jitter" \
			--seed "$round" --json "$tmp/result-$server-$n-$round.json" >/dev/null; then
			echo "bench: $server with $n devices failed; its log:" >&2
			tail -20 "$log" >&2
			exit 1
		fi
		stop_server "$server"
		results="$results $tmp/result-$server-$n-$round.json"
	done
	round=$((round + 1))
	done
done

# System calls per Allocate of two devices: each server alone, polling nothing (`hostdev serve
# --refresh -1` follows events only), no ListAndWatch stream open, strace attached only around the
# counted calls. The libhostdev servers must open no file on that path (--no-opens).
root=$tmp/root-sys
"$py" "$here/gen-dp-root.py" --devices 4 --manifest "$tmp/manifest-sys.json" "$root" >/dev/null
kubelet=$tmp/kubelet-sys
mkdir -p "$kubelet/device-plugins"
sys_ids=$("$py" -c 'import json, sys; print(",".join(d["id"] for d in json.load(open(sys.argv[1]))["devices"][1:3]))' \
	"$tmp/manifest-sys.json")
for server in serve api go; do
	log=$tmp/$server-sys.log
	no_opens=--no-opens
	case $server in
	serve)
		sock=$kubelet/device-plugins/example.com_nic.sock
		"$hostdev" --root "$root" serve --resource "$resource" --pci-device "$vendor_device" \
			--registration none --kubelet-dir "$kubelet" --refresh -1 >"$log" 2>&1 &
		;;
	api)
		sock=$kubelet/device-plugins/example.com_nic.sock
		"$tmp/dp_bench_server" "$root" "$kubelet/device-plugins" "$resource" "$vendor_device" \
			>"$log" 2>&1 &
		;;
	go)
		sock=$kubelet/device-plugins/go.sock
		no_opens=
		"$out/dp-goplugin" -socket "$sock" -resource "$resource" -manifest "$tmp/manifest-sys.json" \
			-root "$root" >"$log" 2>&1 &
		;;
	esac
	server_pid=$!
	echo "bench: system calls per Allocate of 2 devices: $server (pid $server_pid)"
	"$py" - "$sock" "$server_pid" <<-'EOF' || exit 1
	import os, sys, time
	deadline = time.monotonic() + 30
	while not os.path.exists(sys.argv[1]):
	    if not os.path.exists("/proc/%s" % sys.argv[2]) or time.monotonic() > deadline:
	        sys.exit("bench: the server did not create %s" % sys.argv[1])
	    time.sleep(0.01)
	EOF
	if ! "$py" "$here/dp_syscalls.py" --socket "$sock" --pid "$server_pid" --ids "$sys_ids" \
		--protos-compiled "$tmp" --label "$server" --calls "$syscall_calls" $no_opens \
		--json "$tmp/syscalls-$server.json" >/dev/null; then
		echo "bench: counting $server's system calls failed; its log:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
	stop_server "$server"
	results="$results $tmp/syscalls-$server.json"
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ncpu=$(getconf _NPROCESSORS_ONLN)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
hver=$("$hostdev" --version 2>/dev/null | head -1 || :)
# Without DP_BENCH_COMMIT, HOSTDEV is taken to be built from this tree, edits included.
commit=${DP_BENCH_COMMIT:-}
if [ -z "$commit" ]; then
	commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$top" status --porcelain -- src plugins examples/cli include 2>/dev/null)" ]; then
		commit="$commit + uncommitted changes"
	fi
fi
DP_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
DP_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
DP_COMMIT=$commit DP_LOAD=$load DP_CPU=$cpu DP_NCPU=$ncpu DP_MEM=$mem DP_KERNEL=$(uname -r)
DP_GO=$(go version | cut -d' ' -f3)
DP_GRPC_GO=$(ver golang-google-grpc-dev) DP_PROTOBUF_GO=$(ver golang-google-protobuf-dev)
DP_GRPCIO=$(ver python3-grpcio) DP_NGHTTP2=$(ver libnghttp2-14) DP_PROTOBUF_C=$(ver libprotobuf-c1)
DP_HOSTDEV="$hostdev${hver:+ ($hver)}" DP_REFRESH=$refresh DP_CALLS=$calls DP_CONC=$conc
DP_UPDATES=$updates DP_SIZES=$sizes DP_ROUNDS=$rounds DP_SYSCALL_CALLS=$syscall_calls
export DP_DATE DP_COMMIT DP_LOAD DP_LOAD_END DP_CPU DP_NCPU DP_MEM DP_KERNEL DP_GO DP_GRPC_GO DP_PROTOBUF_GO DP_GRPCIO \
	DP_NGHTTP2 DP_PROTOBUF_C DP_HOSTDEV DP_REFRESH DP_CALLS DP_CONC DP_UPDATES DP_SIZES DP_ROUNDS DP_SYSCALL_CALLS
# One word per result file (paths under the mktemp directory, no blanks).
# shellcheck disable=SC2086
"$py" "$here/dp_report.py" "$doc" $results
# The raw results (samples included) of the last run stay in $out/results for inspection.
rm -rf "$out/results"
mkdir -p "$out/results"
# shellcheck disable=SC2086
cp $results "$out/results/"
}

main "$@"
exit
