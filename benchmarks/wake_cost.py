"""What an idle wait costs the work after it (python benchmarks/wake_cost.py).

A paced read sleeps between requests (Genesys allows 300 a minute: one request
every 200 ms), so every request's work starts on a processor that has been
idle. On a shared virtual machine the same work then costs more CPU than it
does back to back: caches and predictors have been used by someone else.

This measures it without any network: the work is decoding a body of 100 users
as the sandbox writes them (the size of a batched read's answer) and keeping
their ids. It runs the same number of units back to back, then with an idle
gap after every unit, then with the gap after every k units, and prints CPU
microseconds (user + system) per unit and the extra cost per wake-up.
"""

from __future__ import annotations

import json
import sys
import time

from reconciler.sandbox.org import Org

UNITS = 200


def main() -> int:
    users = list(Org.generate(100, wall=lambda: 0.0).users.values())
    body = json.dumps({"entities": [u.to_api(("lasttokenissued",)) for u in users]}).encode()

    def unit() -> int:
        return len({u["id"] for u in json.loads(body)["entities"]})

    def cpu_per_unit(gap: float, every: int, units: int = UNITS) -> float:
        unit()
        before = time.process_time()  # user + system, finer than os.times()
        for i in range(units):
            unit()
            if gap and (i + 1) % every == 0:
                time.sleep(gap)
        return (time.process_time() - before) / units * 1e6

    print(f"one unit: json.loads of {len(body):,} bytes (100 users) and their ids; {UNITS} units a row (50 at 200 ms)")
    print(f"{'idle gap':>10} {'wake every':>11} {'us per unit':>12} {'extra per wake, us':>19}")
    hot = min(cpu_per_unit(0.0, 1) for _ in range(3))
    print(f"{'none':>10} {'-':>11} {hot:12.0f} {'-':>19}")
    # (gap, wake every k units, units): the 200 ms row, Genesys's pace, is shorter to keep the run short
    for gap, every, units in ((0.2, 1, 50), (0.02, 1, UNITS), (0.02, 5, UNITS), (0.02, 20, UNITS), (0.0002, 1, UNITS)):
        per = min(cpu_per_unit(gap, every, units) for _ in range(2))
        extra = (per - hot) * every
        print(f"{gap * 1000:8.1f}ms {every:11d} {per:12.0f} {extra:19.0f}")
    # Again at the end: on a shared machine the back-to-back figure itself drifts.
    print(f"{'none':>10} {'-':>11} {min(cpu_per_unit(0.0, 1) for _ in range(3)):12.0f} {'-':>19}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
