#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Library messages speak the library's language (issue 13).

Python and Go users of libhostdev have no `hostdev bind --group`: a message of the library names
what is wrong and what to do in neutral words, and an option or flag by its API name
(HOSTDEV_BIND_GROUP, the context's root). The CLI adds its own spelling when it prints.

This check reads every C string literal under the given source folders (adjacent literals joined,
as the compiler joins them) and fails on a CLI command ("hostdev bind", "`hostdev") or a long
option ("--group"). It first runs itself on known good and bad snippets, so that it cannot pass
by reading nothing.

Usage: check-messages.py DIR...
"""
import os
import re
import sys

# A CLI command: "hostdev" as a word (not "libhostdev", not "hostdev_"/"hostdev-") followed by a
# subcommand-like lowercase word, or in backquotes.
CLI_COMMAND = re.compile(r"(?<![\w/.-])hostdev (?:[a-z][a-z-]*)|`hostdev\b")
# A long option: "--" then a letter, not inside a longer dash run or a word ("x--y").
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

# Literals that are data, not messages; each with the reason it may say what it says.
ALLOWED = {
    # The owner recorded in the journal by hostdev_vfio_persist_apply(): existing journals carry
    # it and `restore --all --owner` selects by it, so the text is an identifier that must not
    # change.
    "hostdev apply",
}


def string_literals(text):
    """Yield (line, literal) for each run of adjacent C string literals, escapes kept as written."""
    i, n, line = 0, len(text), 1
    pending, pending_line = None, 0
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if pending is None:
                pending, pending_line = "", line
            pending += text[i + 1:j]
            i = j + 1
            continue
        if c == "\n":
            line += 1
        if not c.isspace() and pending is not None:
            yield pending_line, pending
            pending = None
        i += 1
    if pending is not None:
        yield pending_line, pending


def problems(text):
    """(line, literal, what) for each literal that speaks the CLI's language."""
    for line, literal in string_literals(text):
        if literal in ALLOWED:
            continue
        for pattern, what in ((CLI_COMMAND, "names a CLI command"),
                              (LONG_OPTION, "names a CLI option")):
            m = pattern.search(literal)
            if m:
                yield line, literal, "%s (%r)" % (what, m.group(0))


def self_test():
    bad = [
        'return hostdev_error(ctx, -EBUSY, "bind the group (hostdev bind "\n "--group)");',
        'snprintf(buf, size, "check `hostdev list`");',
        'log_warn(ctx, "is --root wrong?");',
        'x = "pass HOSTDEV_BIND_FORCE (" /* joined */ "hostdev bind --force)";',
    ]
    good = [
        'return hostdev_error(ctx, -EBUSY, "pass HOSTDEV_BIND_GROUP or name those devices");',
        'x = "libhostdev generates one"; y = "hostdev_ctx_set_root()";',
        '/* hostdev bind --group */ z = \'"\'; w = "a -- b, ---, x--y";',
        'o.owner = "hostdev apply";',
    ]
    for snippet in bad:
        if not list(problems(snippet)):
            sys.exit("self-test: the check misses a CLI word in: %s" % snippet)
    for snippet in good:
        found = list(problems(snippet))
        if found:
            sys.exit("self-test: the check wrongly flags %r in: %s" % (found, snippet))


def main(dirs):
    self_test()
    files = failures = 0
    for top in dirs:
        for root, _, names in os.walk(top):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(root, name)
                files += 1
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for line, literal, what in problems(text):
                    failures += 1
                    print("%s:%d: message %s: \"%s\"" % (path, line, what, literal))
    if files < 20:
        sys.exit("FAIL: only %d source files under %s" % (files, " ".join(dirs)))
    if failures:
        print("FAIL: %d library message(s) use the CLI's words; say what is wrong and what to do "
              "in the library's words (API names such as HOSTDEV_BIND_GROUP), and let the CLI "
              "add its spelling" % failures)
        return 1
    print("ok: %d source files, no CLI commands or options in library messages" % files)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
