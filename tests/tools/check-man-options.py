#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check that a man page and a program's --help describe the same long options.

    check-man-options.py PROGRAM MAN_PAGE

Every --option that `PROGRAM --help` prints must be described in MAN_PAGE (as \\-\\-option, the
roff spelling), and every \\-\\-option the man page names must be one the program has: a man page
that lags behind the program, or describes an option that was removed, fails.
"""
import re
import subprocess
import sys


def main() -> int:
    program, man_page = sys.argv[1:3]
    run = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        print(f"FAIL: {program} --help exited {run.returncode}: {run.stderr.strip()}")
        return 1
    helped = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", run.stdout))
    with open(man_page, encoding="utf-8") as f:
        roff = f.read()
    described = {m.replace("\\-", "-") for m in re.findall(r"\\-\\-[a-z][a-z0-9\\-]*[a-z0-9]", roff)}
    if not helped:
        print(f"FAIL: {program} --help names no long option")
        return 1
    missing = sorted(helped - described)
    unknown = sorted(described - helped)
    for option in missing:
        print(f"FAIL: {man_page} does not describe {option}, which {program} --help lists")
    for option in unknown:
        print(f"FAIL: {man_page} describes {option}, which {program} --help does not list")
    if missing or unknown:
        return 1
    print(f"ok: {man_page} and {program} --help name the same {len(helped)} options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
