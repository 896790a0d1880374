#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh: measure `hostdev list --json` against `lspci -nnk -D -vmm` and `hostdev list` against
# `lspci -nnk` on the same synthetic sysfs trees (instructions from callgrind, CPU and wall time from
# hyperfine, system calls from strace, peak RSS from GNU time); write the figures to
# docs/performance.md.
#
#   bench/run.sh [HOSTDEV]
#
# HOSTDEV defaults to build/examples/cli/hostdev. Environment:
#   BENCH_SIZES   tree sizes in PCI functions (default "1000 10000")
#   BENCH_OUT     where the trees are generated (default bench/out, git-ignored; reused when present)
#   BENCH_RUNS    hyperfine runs per command (default 20 for trees up to 1000 functions, else 5)
#   BENCH_SEED    generator seed (default 1)
#   BENCH_DOC     output document (default docs/performance.md; "-" = print only); its
#                 "Device-plugin serving" (bench/run-dp.sh), "Loop stalls and request
#                 sizes" (bench/dp_scale.py) and "Node agent at scale" (bench/run-agent.sh)
#                 sections are kept
#   BENCH_COMMIT  the libhostdev commit HOSTDEV was built from (default: git HEAD of this tree)
#
# Needs hyperfine, strace, valgrind and GNU time (tests/deps/bench.txt), lspci (pciutils) and
# /usr/bin/python3.
# The benchmark prints figures; it never asserts a speed.
set -eu

# Everything is in main(), which the shell parses whole before running it: editing this file while a
# run is under way cannot change what that run executes.
main() {
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
hostdev=${1:-$top/build/examples/cli/hostdev}
sizes=${BENCH_SIZES:-1000 10000}
out=${BENCH_OUT:-$here/out}
seed=${BENCH_SEED:-1}
doc=${BENCH_DOC:-$top/docs/performance.md}
py=/usr/bin/python3

for tool in hyperfine strace valgrind /usr/bin/time lspci "$py"; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "bench: $tool not found (sh tests/install-deps.sh installs tests/deps/*.txt)" >&2
		exit 1
	}
done
[ -x "$hostdev" ] || {
	echo "bench: $hostdev is not executable; build first (cmake --build build) or pass the binary" >&2
	exit 1
}
hostdev=$(cd "$(dirname "$hostdev")" && pwd)/$(basename "$hostdev")
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# strace_calls FILE: total number of system calls in a `strace -c` summary.
strace_calls() {
	awk '$NF == "total" { print $4 }' "$1"
}

# instructions CMD...: instructions the program executes (callgrind's "Collected" total: the program
# and every library it calls, from the first instruction of the dynamic loader to exit). Instruction
# counts do not depend on the machine's load, unlike times.
instructions() {
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
		sed -n 's/^==[0-9]*== Collected : //p'
}

# peak_rss CMD...: the program's peak resident set (KiB). GNU time forks a small process that
# execs CMD directly, so ru_maxrss is the program's own peak (a fork of a large parent would
# report the parent's pre-exec size instead; GNU time's own is about 1 MiB).
peak_rss() {
	/usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null 2>&1 || :
	tail -1 "$tmp/rss"
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=""
plain_rows=""
syscall_tables=""
for n in $sizes; do
	tree=$out/tree-$n-seed$seed
	if [ ! -d "$tree/sys" ]; then
		echo "bench: generating $n functions into $tree"
		"$py" "$here/gen-sysfs.py" --devices "$n" --seed "$seed" "$tree.tmp"
		mv "$tree.tmp" "$tree"
	fi
	runs=${BENCH_RUNS:-}
	if [ -z "$runs" ]; then
		if [ "$n" -le 1000 ]; then runs=20; else runs=5; fi
	fi
	h_cmd="$hostdev list --json --root $tree"
	l_cmd="lspci -A linux-sysfs -O sysfs.path=$tree/sys/bus/pci -nnk -D -vmm"
	hp_cmd="$hostdev list --root $tree"
	lp_cmd="lspci -A linux-sysfs -O sysfs.path=$tree/sys/bus/pci -nnk"
	# Sanity: both list every function (a benchmark of a failing command would be meaningless).
	hn=$($h_cmd | "$py" -c 'import json,sys; print(len(json.load(sys.stdin)["devices"]))')
	ln=$($l_cmd 2>/dev/null | grep -c '^Slot:')
	echo "bench: $n functions: hostdev lists $hn, lspci lists $ln"
	hyperfine -N --warmup 2 --runs "$runs" --export-json "$tmp/h-$n.json" \
		-n "hostdev list --json ($n)" "$h_cmd" -n "lspci -nnk -D -vmm ($n)" "$l_cmd" \
		-n "hostdev list ($n)" "$hp_cmd" -n "lspci -nnk ($n)" "$lp_cmd"
	hi=$(instructions $h_cmd)
	li=$(instructions $l_cmd)
	hpi=$(instructions $hp_cmd)
	lpi=$(instructions $lp_cmd)
	strace -f -c -o "$tmp/sh-$n.txt" $h_cmd >/dev/null
	strace -f -c -o "$tmp/sl-$n.txt" $l_cmd >/dev/null 2>&1
	hs=$(strace_calls "$tmp/sh-$n.txt")
	ls_=$(strace_calls "$tmp/sl-$n.txt")
	hrss=$(peak_rss $h_cmd)
	lrss=$(peak_rss $l_cmd)
	hprss=$(peak_rss $hp_cmd)
	lprss=$(peak_rss $lp_cmd)
	hbytes=$($h_cmd | wc -c)
	lbytes=$($l_cmd 2>/dev/null | wc -c)
	rows2=$("$py" - "$tmp/h-$n.json" "$n" "$hs" "$ls_" "$hbytes" "$lbytes" "$hrss" "$lrss" "$hi" "$li" \
		"$hpi" "$lpi" "$hprss" "$lprss" <<'EOF'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
n, hs, ls, hb, lb, hr, lr, hi, li, hpi, lpi, hpr, lpr = (int(x) for x in sys.argv[2:])
def cpu(r):
    return r["user"] + r["system"]
h, l, hp, lp = res
print("| %d | %.1f | %.1f | **%.2f** | %.0f | %.0f | %.1f | %.1f | **%.2f** | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f | %.0f | %.0f | %.1f | %.1f | %.0f | %.0f |" % (
    n, hi / 1e6, li / 1e6, hi / li, hi / n, li / n, cpu(h) * 1e3, cpu(l) * 1e3, cpu(h) / cpu(l),
    h["median"] * 1e3, h["min"] * 1e3, h["max"] * 1e3, l["median"] * 1e3, l["min"] * 1e3,
    l["max"] * 1e3, h["median"] / l["median"], hs / n, ls / n, hr / 1024, lr / 1024, hb / n, lb / n))
print("| %d | %.1f | %.1f | **%.2f** | %.0f | %.0f | %.1f | %.1f | **%.2f** | %.1f | %.1f | %.2f | %.1f | %.1f |" % (
    n, hpi / 1e6, lpi / 1e6, hpi / lpi, hpi / n, lpi / n, cpu(hp) * 1e3, cpu(lp) * 1e3,
    cpu(hp) / cpu(lp), hp["median"] * 1e3, lp["median"] * 1e3, hp["median"] / lp["median"],
    hpr / 1024, lpr / 1024))
EOF
)
	row=$(echo "$rows2" | sed -n 1p)
	plain_row=$(echo "$rows2" | sed -n 2p)
	echo "bench: $plain_row"
	plain_rows="$plain_rows$plain_row
"
	echo "bench: $row"
	rows="$rows$row
"
	syscall_tables="$syscall_tables
#### $n functions: top system calls (strace -f -c)

hostdev list --json:

\`\`\`
$(head -8 "$tmp/sh-$n.txt")
\`\`\`

lspci -nnk -D -vmm:

\`\`\`
$(head -8 "$tmp/sl-$n.txt")
\`\`\`
"
done

# Which paths hostdev opens most on the smallest tree, normalised (addresses, numbers -> N).
first=$(echo $sizes | awk '{print $1}')
tree=$out/tree-$first-seed$seed
strace -f -e trace=openat -o "$tmp/open.log" "$hostdev" list --json --root "$tree" >/dev/null
opens=$(sed -n 's/^[0-9]* *openat([^"]*"\([^"]*\)".*/\1/p' "$tmp/open.log" |
	sed "s|^$tree/||; s|[0-9a-f]\{4,8\}:[0-9a-f]\{2\}:[0-9a-f]\{2\}\.[0-7]|ADDR|g; s|[0-9][0-9]*|N|g" |
	sort | uniq -c | sort -rn | head -12 | awk '{ printf "| %d | `%s` |\n", $1, $2 }')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ncpu=$(getconf _NPROCESSORS_ONLN)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(df -PT "$out" | awk 'NR == 2 { print $2 }')
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
hver=$("$hostdev" --version 2>/dev/null | head -1 || :)
commit=${BENCH_COMMIT:-$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)}
date=$(date -u '+%Y-%m-%d %H:%M UTC')

report() {
	cat <<EOF
<!-- SPDX-License-Identifier: Apache-2.0 -->
# Performance: \`hostdev list\` against \`lspci\`

Generated by \`bench/run.sh\` on $date (libhostdev commit $commit). Do not edit by hand: run the
command below again. The figures describe one machine; the benchmark never asserts a speed.

## What is measured
Both programs read the same synthetic sysfs tree made by \`bench/gen-sysfs.py\` (seed $seed): a server
with root ports, PCIe switches, multi-function GPUs, SR-IOV NICs whose two PFs carry 64 VFs each
(\`virtfnN\`/\`physfn\` links, \`sriov_*\` files), net/ interfaces, NUMA nodes, drivers, physical slots
and one IOMMU group per isolated function, every id a real pci.ids entry.

- \`hostdev list --json --root TREE\`: every field of docs/json-schema.md for every function (names,
  modules, IOMMU group members, SR-IOV PF/VF relations, netdevs, mdev types, Harvester/KubeVirt names).
- \`lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -nnk -D -vmm\`: ids, names, driver, modules,
  NUMA node, IOMMU group, slot.
- \`hostdev list --root TREE\` (one line per function: address, class, names, ids, driver, grouped
  under their PF or bridge) against \`lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -nnk\`.

Instructions are callgrind's total for the whole process (dynamic loading, pci.ids parsing and
every library included; \`valgrind --tool=callgrind\`, one run each); unlike times they do not
depend on other load on the machine, so the ratios in bold are the figures to compare. Both tools
parse the same pci.ids through libpci, a fixed cost of about 25 million instructions each.

Wall times are hyperfine medians (min-max) over the runs, after 2 warm-up runs, page cache warm, no
shell (\`-N\`); wall ratio = hostdev median / lspci median (below 1: hostdev is faster). CPU is the
mean user+system time per run, which other load on the machine disturbs less than wall time (load
average when the run started: $load). Syscalls are the
totals of \`strace -f -c\` divided by the number of functions; peak RSS is the program's ru_maxrss as
GNU time reports it (\`/usr/bin/time -f %M\`: the program is exec'd from GNU time's own small
process, so the figure is the program's, not a parent's; \`/bin/true\` shows about 1 MiB). libkmod finds no
/lib/modules/\$(uname -r) on this machine, so neither tool resolves kernel modules here (lspci says
"Unable to load libkmod resources").

## Figures

\`hostdev list --json\` against \`lspci -nnk -D -vmm\`:

| functions | hostdev instructions, millions | lspci instructions, millions | instruction ratio | hostdev instructions/function | lspci instructions/function | hostdev CPU ms | lspci CPU ms | CPU ratio | hostdev wall ms, median (min-max) | lspci wall ms, median (min-max) | wall ratio | hostdev syscalls/function | lspci syscalls/function | hostdev peak RSS MiB | lspci peak RSS MiB | hostdev bytes out/function | lspci bytes out/function |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$rows
\`hostdev list\` against \`lspci -nnk\`:

| functions | hostdev instructions, millions | lspci instructions, millions | instruction ratio | hostdev instructions/function | lspci instructions/function | hostdev CPU ms | lspci CPU ms | CPU ratio | hostdev wall ms, median | lspci wall ms, median | wall ratio | hostdev peak RSS MiB | lspci peak RSS MiB |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$plain_rows
## Machine
- CPU: $cpu, $ncpu online CPUs; memory: $mem; kernel $(uname -r); trees on $fs.
- pciutils $(ver pciutils), hyperfine $(ver hyperfine), strace $(ver strace), valgrind $(ver valgrind),
  pci.ids $(ver pci.ids).
- hostdev: $hostdev ${hver:+($hver)}.

## Where the system calls go
$syscall_tables
#### Paths hostdev opens most ($first functions, relative to the tree; numbers and addresses folded)

A path opened relative to a directory descriptor (\`openat(dirfd, "N/address")\`) appears without its
directory; absolute paths outside the tree are the library's own files (pci.ids, udev hwdb, ...).

| opens | path |
|---:|---|
$opens

## Reproduce
\`\`\`sh
sh tests/install-deps.sh      # hyperfine, strace, valgrind, time, pciutils, ... (tests/deps/*.txt)
cmake -S . -B build && cmake --build build -j2
BENCH_SIZES="$sizes" BENCH_SEED=$seed sh bench/run.sh build/examples/cli/hostdev
\`\`\`
Trees are generated once into bench/out/ (git-ignored; about 140 MB on disk per 1,000 functions
with 4 KiB blocks) and reused; remove the directory to regenerate them.
EOF
}

if [ "$doc" = "-" ]; then
	report
else
	report >"$doc.tmp"
	# Keep the sections that bench/run-dp.sh, bench/dp_scale.py and bench/run-agent.sh write at the
	# end of the same document.
	for section in dp-bench dp-scale agent-bench; do
		if [ -f "$doc" ] && grep -q "^<!-- $section:begin" "$doc"; then
			{ echo; sed -n "/^<!-- $section:begin/,/^<!-- $section:end/p" "$doc"; } >>"$doc.tmp"
		fi
	done
	mv "$doc.tmp" "$doc"
	echo "bench: wrote $doc"
fi
}

main "$@"
exit
