#!/usr/bin/env python3
"""Searches the log lines the end-to-end tests wrote (FANMAIL_LOG_CAPTURE) for personal data:
a whole e-mail address (logs show `k***@example.com`) or an unsubscribe token.

usage: check-logs.py DIR
"""
import glob
import os
import re
import sys

ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
TOKEN = re.compile(r"\bv[12]\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{20,}")


def main(directory):
    lines, found = 0, []
    for path in sorted(glob.glob(os.path.join(directory, "*.txt"))):
        with open(path, encoding="utf-8", errors="replace") as log:
            for number, line in enumerate(log, 1):
                lines += 1
                for kind, pattern in (("address", ADDRESS), ("token", TOKEN)):
                    match = pattern.search(line)
                    if match:
                        found.append(f"{os.path.basename(path)}:{number}: {kind} {match.group(0)!r}: {line.strip()[:200]}")
    if lines == 0:
        print(f"check-logs: no log lines captured in {directory}", file=sys.stderr)
        return 1
    print(f"check-logs: {lines} log lines searched for addresses and tokens")
    for line in found[:20]:
        print(f"  {line}", file=sys.stderr)
    if found:
        print(f"check-logs: {len(found)} lines show personal data", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
