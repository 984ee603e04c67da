"""A pass when nothing changed: API calls and seconds at growing tenant sizes. The calls must not
grow with the tenant (at most one per resource).

    .venv/bin/python bench/noop_pass.py --sizes 1000,10000,50000

The lag window is set to 1 s here: with the default 5 minutes, a pass re-reads (and skips by hash)
whatever changed in the last 5 minutes, and a freshly generated tenant changed just now.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from backfill import database, env_for, last_runs, run_syncd, start_sandbox


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--db", default="sqlite")
    a = ap.parse_args()
    print(f"{'candidates':>10} {'backfill s':>10} {'noop calls':>10} {'noop s':>7}  per resource")
    for n in (int(x) for x in a.sizes.split(",")):
        sb = start_sandbox(n, max(20, n // 200), limits=False)
        drop = None
        try:
            with tempfile.TemporaryDirectory() as tmp:
                url, drop = database(a.db, Path(tmp))
                env = env_for(sb.base_url, url, False, SYNCD_SYNC__LAG_WINDOW_SECONDS="1")
                run_syncd(env, "migrate")
                backfill_s, _, _ = run_syncd(env, "backfill")
                time.sleep(1.5)  # let the 1 s lag window pass the tenant's last stamps
                run_syncd(env, "sync", "--once")
                seconds, _, _ = run_syncd(env, "sync", "--once")
                runs = last_runs(url)["runs"]
                calls = sum(r.api_calls for r in runs)
                per = ", ".join(f"{r.resource}={r.api_calls}" for r in runs)
                print(f"{n:>10} {backfill_s:>10.1f} {calls:>10} {seconds:>7.2f}  {per}")
        finally:
            sb.stop()
            if drop:
                drop()


if __name__ == "__main__":
    main()
