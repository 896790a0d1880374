# SPDX-License-Identifier: Apache-2.0
"""Print where the Python package goes under an install prefix, relative to that prefix.

    python3 cmake/python_sitedir.py PREFIX

Debian's interpreter (it has the 'deb_system' install scheme) looks in /usr/lib/python3/dist-packages
for the distribution's packages and in /usr/local/lib/python3.X/dist-packages for local ones, never
in site-packages: the prefix /usr gets the former, any other prefix the latter's layout (exactly
right for /usr/local; elsewhere PYTHONPATH=<prefix>/lib/python3.X/dist-packages). Other interpreters
get their own posix_prefix layout (lib/python3.X/site-packages). docs/bindings.md, "Installing".
"""

import sys
import sysconfig

EMPTY_BASE = {"base": "", "platbase": ""}


def sitedir(prefix):
    if "deb_system" in sysconfig.get_scheme_names():
        if prefix.rstrip("/") == "/usr":
            return sysconfig.get_path("platlib", "deb_system", vars=EMPTY_BASE).lstrip("/")
        return "lib/python%d.%d/dist-packages" % sys.version_info[:2]
    return sysconfig.get_path("platlib", "posix_prefix", vars=EMPTY_BASE).lstrip("/")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python_sitedir.py PREFIX")
    print(sitedir(sys.argv[1]))
