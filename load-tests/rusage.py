#!/usr/bin/env python3
"""Runs a command and appends what it cost to a file: `wall_s cpu_s peak_rss_kb exit_status`.

    rusage.py OUT -- COMMAND [ARGS...]

cpu_s is user + system time of the command and every process it waited for; peak_rss_kb is the
largest resident set among them (getrusage RUSAGE_CHILDREN, kB on Linux). The exit status is the
command's. Used by run.sh for the imports (ingest rows/s, CPU and peak RSS). Standard library only.
"""

import resource
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, cmd = argv[0], argv[2:]
    t0 = time.monotonic()
    status = subprocess.call(cmd)
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "a", encoding="utf-8") as f:
        f.write(f"{wall:.3f} {ru.ru_utime + ru.ru_stime:.3f} {ru.ru_maxrss} {status}\n")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
