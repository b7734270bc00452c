"""Two `hub serve` processes on one database: a RedeemCoupon sent to both at
once captures once, and a request captured at one is refused as a replay at
the other. Then the demo's printed commands, run as a person would."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from tests.support import REPO
from tests.support.factories import NIP, OPERATOR, funded_company, issue
from tests.support.processes import drained
from tests.support.served import HUB, ServedHub, serving_url, wait_for
from tests.support.soap import fault_of, redeem_fields, signed_request
from tests.support.wsgi import RunningHub


@pytest.fixture
def two_hubs(running_hub, tmp_path):
    """Two more hub processes (gunicorn, one worker each) on the same config and database."""
    served = []
    try:
        for i in range(2):
            served.append(ServedHub(running_hub.config_dir, tmp_path / f"serve-{i}.log"))
        yield [RunningHub(running_hub.app, s.url, running_hub.config_dir) for s in served]
    finally:
        for s in served:
            s.stop()


def test_redeem_sent_at_once_through_two_processes_captures_once(running_hub, two_hubs):
    funded_company(running_hub.hub, 500_00)
    coupon = issue(running_hub.hub, 1).coupons[0].coupon_id
    identity = running_hub.identity("pojazd-1465")
    requests = [signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)) for _ in two_hubs]
    barrier, results = threading.Barrier(2), []

    def send(hub, request):
        barrier.wait()
        results.append(hub.post(request))

    threads = [threading.Thread(target=send, args=pair) for pair in zip(two_hubs, requests, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 500]
    failed = next(body for status, body in results if status == 500)
    assert fault_of(failed)[0].endswith("Client.CouponNotRedeemable")
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50


def test_a_request_replayed_to_another_process_is_refused(running_hub, two_hubs):
    funded_company(running_hub.hub, 500_00)
    coupon = issue(running_hub.hub, 1).coupons[0].coupon_id
    request = signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    first, second = two_hubs
    assert first.post(request)[0] == 200
    status, body = second.post(request)
    assert status == 500 and "replay" in fault_of(body)[1].lower()
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50


def test_the_demo_and_its_printed_commands(tmp_path):
    """`hub demo`, then the commands it prints, run from a second terminal."""
    demo = drained(
        subprocess.Popen(
            [*HUB, "demo", "--dir", str(tmp_path / "demo"), "--port", "0", "--workers", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            text=True,
        )
    )
    try:
        lines = []
        while not any("audit verify" in line for line in lines):
            line = demo.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        wait_for(serving_url(lines), demo)
        commands = [line.strip() for line in lines if line.strip().startswith((".venv/bin/hub ", "hub "))]
        assert len(commands) == 4
        env = {**os.environ}
        outputs = []
        for command in commands:
            argv = command.split()
            result = subprocess.run([*HUB, *argv[1:]], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
            assert result.returncode == 0, (command, result.stderr)
            outputs.append(result.stdout)
        assert "Valid           true" in outputs[0]  # as on the wire (xs:boolean)
        assert "CapturedAmount  161.50" in outputs[1]
        assert "available      4192.50  held       646.00" in outputs[2]
        assert "chain intact" in outputs[3]
    finally:
        demo.terminate()
        demo.wait(timeout=20)
