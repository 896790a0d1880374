# SPDX-License-Identifier: Apache-2.0
"""check_registered.py FILE CASE...: every test_<case> function of FILE is one of the CASEs given
(the ctest registrations) and every CASE exists, so that no test is left out of ctest."""
import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    have = set(re.findall(r"^def test_(\w+)", f.read(), re.M))
want = set(sys.argv[2:])
if have != want:
    sys.exit(f"{sys.argv[1]}: not registered in ctest: {sorted(have - want)}; "
             f"registered but missing: {sorted(want - have)}")
