"""The fake bank speaks the published contract: its WSDL with the real address, the
hub's security pipeline (unsigned or foreign requests refused), idempotent transfers,
and statements that are valid camt.053.001.08 the hub can import."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import date
from decimal import Decimal

import pytest
import zeep
from cryptography import x509
from lxml import etree

from hub import ns
from hub.fakebank.camt import CAMT
from hub.signing.keys import SigningIdentity
from hub.signing.zeep_plugin import HubSignature
from tests.support import REPO, SHIPPED_CONFIG
from tests.support.processes import announced, drained
from tests.support.settlement import CAMT_XSD_DIR
from tests.support.soap import fault_of

KEYS = SHIPPED_CONFIG / "keys"
ESCROW = "75116022020000000412345678"
OFFICE_NRB = "60102010260000042270201111"


def bank_client(bank, client_id="hub"):
    identity = SigningIdentity.load(KEYS / f"{client_id}.key", KEYS / f"{client_id}.crt")
    bank_cert = x509.load_pem_x509_certificate((KEYS / "bank-escrow.crt").read_bytes())
    return zeep.Client(
        f"{bank.url}/soap/bank?wsdl",
        wsse=HubSignature.pinned(identity, bank_cert, "bank-escrow"),
        settings=zeep.Settings(forbid_dtd=True, forbid_entities=True),
    ).service


def transfer(service, e2e="E2E-TEST-1", creditor=OFFICE_NRB, amount="161.50"):
    return service.SubmitTransfer(
        EndToEndId=e2e,
        DebtorAccount=ESCROW,
        CreditorAccount=creditor,
        CreditorName="Urząd",
        Amount=Decimal(amount),
        Title="Opłaty",
        RequestedDate=date(2026, 3, 11),
    )


def test_the_wsdl_is_served_with_the_real_address(bank):
    client = zeep.Client(f"{bank.url}/soap/bank?wsdl")
    assert client.wsdl.services["BankService"].ports["BankPort"].binding_options["address"] == f"{bank.url}/soap/bank"


def test_a_transfer_is_booked_once_per_end_to_end_id(bank):
    service = bank_client(bank)
    first = transfer(service)
    again = transfer(service, amount="999.00")  # the same EndToEndId: the first answer, nothing booked
    assert (first.Status, again.Status, again.BankReference) == ("ACCEPTED", "ACCEPTED", first.BankReference)
    assert {k: (t["amount"], t["deliveries"]) for k, t in bank.transfers().items()} == {"E2E-TEST-1": ("161.50", 2)}


def test_a_bad_creditor_account_or_a_foreign_debtor_is_rejected(bank):
    service = bank_client(bank)
    bad = transfer(service, "E2E-BAD-NRB", creditor="60102010260000042270201112")
    assert (bad.Status, bad.RejectReason) == ("REJECTED", "Nieprawidłowy numer rachunku odbiorcy")


def test_a_request_not_signed_by_the_hub_is_refused(bank):
    with pytest.raises(zeep.exceptions.Fault) as fault:
        transfer(bank_client(bank, "pojazd-1465"))
    assert "FailedAuthentication" in fault.value.code
    unsigned = (
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"><soap:Body><b:SubmitTransferRequest xmlns:b="{ns.BANK}"/>'
        f"</soap:Body></soap:Envelope>"
    ).encode()
    request = urllib.request.Request(f"{bank.url}/soap/bank", data=unsigned, headers={"Content-Type": "text/xml"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    code, _ = fault_of(etree.fromstring(error.value.read()))
    assert code == f"{{{ns.WSSE}}}InvalidSecurity"
    assert bank.transfers() == {}


def test_the_statement_is_valid_camt_053_001_08(bank):
    transfer(bank_client(bank))
    bank.control(credit="PL54116022020000005260250274:500.00:Zasilenie 5260250274:2026-03-11")
    document = bank.statement(date(2026, 3, 11))
    schema = etree.XMLSchema(etree.parse(str(CAMT_XSD_DIR / "camt.053.001.08.xsd")))
    tree = etree.fromstring(document)
    schema.assertValid(tree)
    n = {"c": CAMT}
    entries = [
        (
            e.findtext("c:CdtDbtInd", namespaces=n),
            e.findtext("c:Amt", namespaces=n),
            e.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=n),
        )
        for e in tree.iterfind(".//c:Ntry", n)
    ]
    assert sorted(entries) == [("CRDT", "500.00", "NOTPROVIDED"), ("DBIT", "161.50", "E2E-TEST-1")]
    closing = next(
        b for b in tree.iterfind(".//c:Bal", n) if b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=n) == "CLBD"
    )
    assert (closing.findtext("c:Amt", namespaces=n), closing.findtext("c:CdtDbtInd", namespaces=n)) == (
        "338.50",
        "CRDT",
    )


def test_control_refuses_an_unknown_mode(bank):
    with pytest.raises(urllib.error.HTTPError) as error:
        bank.control(mode="sleepy")
    assert error.value.code == 400
    assert bank.control(mode="ok")["mode"]["name"] == "ok"


BOUND = re.compile(rb"fake bank for escrow \S+: (http://127\.0\.0\.1:\d+)/soap/bank")


def test_hub_fake_bank_serves_until_stopped(tmp_path):
    command = [
        sys.executable,
        "-c",
        "from hub.app import main; main()",
        "--config",
        str(SHIPPED_CONFIG),
        "fake-bank",
        "--port",
        "0",
        "--data",
        str(tmp_path),
        "--credit",
        "PL54116022020000005260250274:10.00:Start:2026-03-10",
    ]
    process = drained(
        subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            # Ctrl-C as from a terminal: a test run started in the background (`make test &`)
            # has SIGINT ignored, and a child would inherit that and never stop
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    )
    try:
        url = announced(process, BOUND, 30, "the fake bank to print its address").group(1)
        with urllib.request.urlopen(f"{url.decode()}/control", timeout=10) as response:
            state = json.loads(response.read())
        assert state == {
            "mode": {"name": "ok", "seconds": 0.0, "reason": "Rachunek odbiorcy zamknięty"},
            "fk": "ok",
            "transfers": 0,
            "credits": 1,
            "journals": 0,
        }, process.stderr.read1() if process.poll() is not None else ""
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert b"fake bank for escrow" in process.stdout.read()
