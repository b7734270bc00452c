"""Bulk issue of 1,000 coupons with their PDF, against rendering the same 1,000
pages and QR codes alone (baseline), each in a fresh process, same run.

    .venv/bin/python bench/pdf.py [--count 1000]

hub:      CouponService.issue (1,000 holds in one transaction) + write_pdf (reads the
          coupons 200 at a time, signs each QR payload with the hub's key, draws).
baseline: the same pages drawn from sheets and payloads prepared beforehand in
          memory: no database, no signing; just reportlab and the QR matrices.
Peak memory is VmHWM of the measuring process itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import run_child  # noqa: E402
from bench.soap import NIP, machine  # noqa: E402

SETUP = """
import sys, uuid
from pathlib import Path
from hub.access import operator
from hub.app import Hub
from hub.config import load_config
from hub.db.migrate import upgrade
hub = Hub(load_config(Path(sys.argv[1])))
upgrade(hub.db)
hub.companies.add(sys.argv[2], "Łódzka Spółka Leasingowa sp. z o.o.", actor=operator("bench"))
hub.companies.credit(sys.argv[2], 10 * 1000 * 161_50, "bench funding", actor=operator("bench"))
"""

COMMON = """
import sys, time, uuid
from pathlib import Path
from bench.child import report
"""

HUB = (
    COMMON
    + """
from hub.access import operator
from hub.app import Hub
from hub.config import load_config
hub = Hub(load_config(Path(sys.argv[1])))
actor = operator("bench")
start = time.perf_counter()
batch = hub.coupons.issue(
    request_id=str(uuid.uuid4()), company_nip=sys.argv[2], case_type="REJ_NEW",
    count=int(sys.argv[3]), actor=actor,
)
with open(sys.argv[4], "wb") as out:
    pages = hub.coupon_queries.write_pdf(out, actor=actor, batch_id=batch.batch_id)
report(time.perf_counter() - start, pages=pages)
"""
)

BASELINE = (
    COMMON
    + """
from dataclasses import replace
from hub.access import operator
from hub.app import Hub
from hub.clock import business_day
from hub.config import load_config
from hub.adapters.pdf.coupons import _draw_coupon
from hub.adapters.pdf.page import new_canvas
hub = Hub(load_config(Path(sys.argv[1])))
actor = operator("bench")
batch = hub.coupons.issue(
    request_id=str(uuid.uuid4()), company_nip=sys.argv[2], case_type="REJ_NEW",
    count=int(sys.argv[3]), actor=actor,
)
run = hub.coupon_queries.print_run(actor=actor, batch_id=batch.batch_id)
sheets = list(run.sheets)
signer = hub.coupon_queries.qr_signer
payloads = [signer.payload(s.coupon_id, s.amount_grosze, business_day(s.expires_at)) for s in sheets]
start = time.perf_counter()
canvas = new_canvas(sys.argv[4], "baseline")
for i, (sheet, payload) in enumerate(zip(sheets, payloads), 1):
    _draw_coupon(canvas, sheet, payload, i, len(sheets))
    canvas.showPage()
canvas.save()
report(time.perf_counter() - start, pages=len(sheets))
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    from hub.cli.demo import SHIPPED_CONFIG, copy_config

    work = Path(tempfile.mkdtemp(prefix="hub-bench-pdf-"))
    try:
        config = copy_config(SHIPPED_CONFIG, work / "config", "sqlite:///var/hub.sqlite3")
        subprocess.run([sys.executable, "-c", SETUP, str(config), NIP], cwd=REPO, check=True)
        baseline = run_child(BASELINE, str(config), NIP, str(args.count), str(work / "baseline.pdf"))
        hub = run_child(HUB, str(config), NIP, str(args.count), str(work / "hub.pdf"))
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "count": args.count,
                    "baseline_render_only": {k: round(v, 2) for k, v in baseline.items()},
                    "hub_issue_and_pdf": {k: round(v, 2) for k, v in hub.items()},
                    "time_ratio": round(hub["seconds"] / baseline["seconds"], 3),
                    "pdf_mb": round((work / "hub.pdf").stat().st_size / 1e6, 1),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
