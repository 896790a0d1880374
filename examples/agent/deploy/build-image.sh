#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds the hostdev-agent image (Containerfile) on this machine without a registry: the base is a
# debootstrapped Debian bookworm (bookworm-base.sh, cached), imported as
# localhost/hostdev-bookworm-base; the stages install their packages from the machine's Debian
# mirror. Debian's buildah builds it: rootful, vfs storage driver, chroot isolation (what works in a
# sandbox without user namespaces or overlay mounts).
#
#   examples/agent/deploy/build-image.sh [--save FILE.tar]
#
# --save also writes the image as an OCI archive (load it with `podman load -i FILE.tar`, or
# `skopeo copy oci-archive:FILE.tar ...` to a registry). Environment:
#   HOSTDEV_IMAGE          image name (default localhost/hostdev-agent:<project version>; the
#                          kustomization's images: entry names the same)
#   HOSTDEV_IMAGE_CACHE    cache (default ~/.cache/libhostdev/agent-image): the base tarball and
#                          buildah's storage (--root there, so the machine's storage is untouched)
#   HOSTDEV_IMAGE_MIRROR   Debian mirror for the base (bookworm-base.sh)
#   HOSTDEV_JOBS           build jobs in the build stage (default: nproc)
# The build context is the source tree's files that git knows or would add (git ls-files), as they
# are in the work tree: never build directories. Needs root, buildah and debootstrap (tests/deps/agent-image.txt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
fail() {
	echo "build-image: $*" >&2
	exit 1
}
save=""
while [ $# -gt 0 ]; do
	case "$1" in
	--save) save=${2:?--save needs a file}; shift 2 ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) fail "unknown argument $1 (see --help)" ;;
	esac
done
[ "$(id -u)" = 0 ] || fail "run as root (debootstrap and buildah's chroot isolation need it)"
command -v buildah >/dev/null || fail "buildah is not installed (apt-get install buildah)"
version=$(sed -n 's/^project(libhostdev VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
image=${HOSTDEV_IMAGE:-localhost/hostdev-agent:$version}
cache=${HOSTDEV_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libhostdev/agent-image}
export HOSTDEV_IMAGE_CACHE="$cache"
jobs=${HOSTDEV_JOBS:-$(nproc)}
bh() { buildah --root "$cache/storage" --runroot "$cache/runroot" --storage-driver vfs "$@"; }

tarball=$("$here/bookworm-base.sh")
work=$(mktemp -d "${TMPDIR:-/tmp}/hostdev-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The base image, named after its tarball: imported once per tarball.
base=localhost/hostdev-bookworm-base
tag=$(basename "$tarball" .tar)
if ! bh inspect --type image "$base:$tag" >/dev/null 2>&1; then
	mkdir "$work/base"
	ln "$tarball" "$work/base/rootfs.tar" 2>/dev/null || cp "$tarball" "$work/base/rootfs.tar"
	printf 'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/bash"]\n' >"$work/base/Containerfile"
	bh build --isolation chroot --layers=false -t "$base:$tag" "$work/base"
fi

# The context: the files git knows or would add (tracked, and untracked but not ignored).
mkdir "$work/context"
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null --no-recursion --ignore-failed-read -T - -cf -) | tar -C "$work/context" -xf -
start=$(date +%s)
bh build --isolation chroot --layers --build-arg BASE="$base:$tag" --build-arg HOSTDEV_JOBS="$jobs" \
	-f "$work/context/examples/agent/deploy/Containerfile" -t "$image" "$work/context"
echo "build-image: $image built in $(($(date +%s) - start)) s"
bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image"
if [ -n "$save" ]; then
	rm -f "$save"
	bh push "$image" "oci-archive:$save:$image"
	echo "build-image: saved as $save"
fi
