"""Run a command and write its CPU time and peak memory to a JSON file (stdlib only, so it stays small).

    python benchmarks/measure.py RESULT.json COMMAND [ARG ...]

Why a wrapper: a child's peak-memory figure (ru_maxrss) starts at its parent's
size, because the fork happens before the exec. Forked from this small
process, the command's figure is its own.
"""

import json
import resource
import subprocess
import sys

code = subprocess.call(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w", encoding="utf-8") as fh:
    json.dump({"code": code, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}, fh)
sys.exit(code)
