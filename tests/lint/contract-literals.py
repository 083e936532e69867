#!/usr/bin/env python3
"""Fails when code states a limit of the contract as a literal number.

    contract-literals.py SOURCE_ROOT

The stage counts, tile sizes and overlaps that the contract file
(engine/contract.json) defines are read from it everywhere: C and C++
through the generated engine/option_limits.h, Python through
fdikp.contract, the batch command through meson. This check reads every
tracked C, C++, Python and shell file outside the tests and flags a line
whose code (comments and strings left out) gives a stage, tile or overlap
name an integer literal equal to one of the contract's values for them (2
and up: 0 and 1 are too common to mean a limit). A line that must
keep one says why with "contract-literal: ok" in a comment.

Copyright (C) 2026 The fdikp-deblur authors. GPL-3.0-or-later.
"""

import io
import json
import os
import re
import subprocess
import sys
import tokenize

# A stage, tile or overlap name, then (after at most a quote, an operator
# or a space) an integer literal: "--stages 3", "stages=3", "kMinTile = 64",
# "tile_size <= 8192"; not "tile / 3" or "(1, 3, 64, 64), stages".
SUBJECT_THEN_INTEGER = re.compile(
    r"(?:stages?|tile|overlap)[\w-]*['\"]?\s*(?:[=:<>!]=?|\s)\s*['\"]?(\d+)(?![\w.])", re.I)
ALLOW = "contract-literal: ok"


def contract_values(contract):
    values = set()
    for option in contract["options"]:
        if option["type"] == "int":
            for field in ("minimum", "maximum", "default", "automatic", "ui_minimum",
                          "ui_maximum"):
                if field in option:
                    values.add(option[field])
    values.update(limit["value"] for limit in contract["limits"].values())
    return {v for v in values if v >= 2}


def python_code_lines(text):
    """Line number -> the line's code with strings and comments blanked."""
    lines = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING, tokenize.NL,
                              tokenize.NEWLINE):
                continue
            row = token.start[0]
            lines[row] = lines.get(row, "") + " " + token.string
    except (tokenize.TokenError, SyntaxError):
        pass
    return lines


def c_code_lines(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return {i + 1: line for i, line in enumerate(text.split("\n"))
            if not line.lstrip().startswith("#include")}


def shell_code_lines(text):
    return {i + 1: line.split("#", 1)[0] for i, line in enumerate(text.split("\n"))}


def is_shell(path, text):
    return path.endswith(".sh") or re.match(r"#!.*\b(ba)?sh\b", text) is not None


def main(argv):
    root = argv[1]
    with open(os.path.join(root, "engine", "contract.json"), encoding="utf-8") as f:
        values = contract_values(json.load(f))
    listed = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if listed.returncode != 0:
        print("contract-literals: skipped: not a git checkout, so no list of the project's files")
        return 77
    files = listed.stdout.split()
    findings = []
    for path in files:
        test = "test" in os.path.basename(path)  # a test's own inputs
        if (path.startswith("tests/") or "/tests/" in path or test
                or not os.path.isfile(os.path.join(root, path))):
            continue
        try:
            with open(os.path.join(root, path), encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        if path.endswith(".py"):
            code = python_code_lines(text)
        elif path.endswith((".c", ".cc", ".h")):
            code = c_code_lines(text)
        elif is_shell(path, text):
            code = shell_code_lines(text)
        else:
            continue
        raw = text.split("\n")
        for row, line in sorted(code.items()):
            if ALLOW in raw[row - 1]:
                continue
            hits = [int(n) for n in SUBJECT_THEN_INTEGER.findall(line) if int(n) in values]
            if hits:
                findings.append("%s:%d: %s (literal %s; read it from the contract)"
                                % (path, row, raw[row - 1].strip(), hits[0]))
    for finding in findings:
        print(finding)
    print("contract-literals: %d finding(s) over %d values %s"
          % (len(findings), len(values), sorted(values)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
