#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write debian/libhostdev1.symbols from the version script src/libhostdev.sym.

    tests/packaging/gen-symbols.py [--check] [SOURCE_DIR]

Every symbol of a node gets the version of the first package that had the node: the version the
current symbols file gives the node (its NODE@NODE line), or, for a node it does not have yet, the
upstream version of the package being prepared (debian/changelog). So a release that adds the node
HOSTDEV_1.1 runs this once and commits the result; older lines never change (docs/packaging.md).
--check writes nothing and fails when the file differs from what it would write (ctest
packaging-symbols). dpkg-gensymbols -c4 then holds the library to the file in the package build.
"""

import os
import re
import sys

SONAME = "libhostdev.so.1"
PACKAGE = "libhostdev1"
HEADER = "%s %s #MINVER#\n* Build-Depends-Package: libhostdev-dev\n" % (SONAME, PACKAGE)


def parse_version_script(text):
    """[(node, [symbols])] in file order."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    nodes = []
    for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{(.*?)\}\s*[A-Za-z0-9_.]*\s*;", text, re.S):
        body = m.group(2)
        glob = body.split("local:")[0].replace("global:", "")
        symbols = [s.strip() for s in glob.split(";") if s.strip()]
        nodes.append((m.group(1), symbols))
    if not nodes:
        sys.exit("gen-symbols: no version nodes in the version script")
    return nodes


def changelog_upstream_version(path):
    with open(path) as f:
        m = re.match(r"\S+ \(([^)]+)\)", f.readline())
    if not m:
        sys.exit("gen-symbols: cannot read the version from %s" % path)
    version = m.group(1).split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def node_versions(path):
    versions = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.match(r" (\S+)@(\S+) (\S+)", line)
                if m and m.group(1) == m.group(2):
                    versions[m.group(1)] = m.group(3)
    return versions


def render(nodes, versions, default_version):
    lines = []
    for node, symbols in nodes:
        version = versions.get(node, default_version)
        lines.append(" %s@%s %s\n" % (node, node, version))
        lines += [" %s@%s %s\n" % (s, node, version) for s in symbols]
    return HEADER + "".join(sorted(lines))


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    top = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    symbols_path = os.path.join(top, "debian", PACKAGE + ".symbols")
    with open(os.path.join(top, "src", "libhostdev.sym")) as f:
        nodes = parse_version_script(f.read())
    text = render(nodes, node_versions(symbols_path),
                  changelog_upstream_version(os.path.join(top, "debian", "changelog")))
    current = open(symbols_path).read() if os.path.exists(symbols_path) else ""
    if check:
        if current != text:
            sys.exit("FAIL: debian/%s.symbols is not what src/libhostdev.sym gives; run "
                     "tests/packaging/gen-symbols.py and commit the result" % PACKAGE)
        print("ok: debian/%s.symbols lists the %d symbols of src/libhostdev.sym"
              % (PACKAGE, sum(len(s) for _, s in nodes)))
        return
    with open(symbols_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
