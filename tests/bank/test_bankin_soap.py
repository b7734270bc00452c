"""SubmitStatement at /soap/bank over real, signed HTTP: the BANK client's statements import
through the same import as `hub bank import`; any other kind, a broken statement or an
oversized one is refused with the contract's fault and nothing imported."""

from __future__ import annotations

import base64

import pytest
import zeep
from zeep.plugins import HistoryPlugin

from hub import ns
from hub.services.endpoint import contract_schema
from hub.signing.zeep_plugin import HubSignature
from tests.support.bank import ledger_holds, post_signed, snapshot
from tests.support.camt import Entry, Statement, camt053, document
from tests.support.factories import NIP, OPERATOR
from tests.support.soap import CLIENT, fault_of

SOAP = f"{{{ns.SOAP_ENV_11}}}"


def bank_client(running_hub, client_id="bank-escrow", history=None):
    wsse = HubSignature.pinned(running_hub.identity(client_id), running_hub.hub_cert, "hub")
    return zeep.Client(running_hub.url + "/soap/bank?wsdl", wsse=wsse, plugins=[history] if history else [])


@pytest.fixture
def statement(running_hub) -> bytes:
    hub = running_hub.hub
    hub.companies.add(NIP, "Leasing Polska S.A.", actor=OPERATOR)
    virtual = hub.companies.account(NIP, actor=OPERATOR).virtual_account
    return camt053(
        hub.config.bank.escrow_account,
        [
            Entry("500.00", creditor_account=virtual, ref="R1"),
            Entry("25.00", remittance="nieznany wpłacający", ref="R2"),
            Entry("161.50", direction="DBIT", end_to_end_id="SETTLE-1", ref="R3"),
        ],
    )


def test_the_bank_submits_a_statement_and_sending_it_again_imports_nothing(running_hub, statement):
    history = HistoryPlugin()
    client = bank_client(running_hub, history=history)
    first = client.service.SubmitStatement(Document=statement)
    assert (first.Imported, first.Duplicates, first.Unmatched) == (1, 0, 2)
    contract_schema("bankin").assertValid(history.last_received["envelope"].find(f"{SOAP}Body")[0])
    hub = running_hub.hub
    assert hub.companies.account(NIP, actor=OPERATOR).available_grosze == 500_00
    ledger_holds(hub)
    before = snapshot(hub)

    again = client.service.SubmitStatement(Document=statement)
    assert (again.Imported, again.Duplicates, again.Unmatched, again.StatementId) == (0, 3, 0, first.StatementId)
    assert snapshot(hub) == before


def test_a_document_of_two_statements_answers_both_hub_ids(running_hub):
    escrow = running_hub.hub.config.bank.escrow_account
    data = document(
        Statement(escrow, [Entry("10.00", ref="A1")], statement_id="S-1", sequence="1"),
        Statement(escrow, [Entry("2.50", ref="B1")], statement_id="S-2", sequence="2", opening="10.00"),
    )
    answer = bank_client(running_hub).service.SubmitStatement(Document=data)
    assert (answer.Imported, answer.Duplicates, answer.Unmatched) == (0, 0, 2)
    views = running_hub.hub.statements.statements(actor=OPERATOR)
    assert answer.StatementId == " ".join(str(v.statement_id) for v in views) and len(views) == 2


@pytest.mark.parametrize("client_id", ["pojazd-1465", "kasa-1465-01", "leasing-7010254361"])
def test_any_other_kind_of_client_is_refused(running_hub, statement, client_id):
    status, response = post_signed(running_hub, base64.b64encode(statement).decode(), client_id=client_id)
    code, message = fault_of(response)
    assert (status, code) == (500, CLIENT("NotAuthorized")) and "may not call the bankin service" in message
    assert snapshot(running_hub.hub) == (0, 0, 0, ())


def test_a_broken_statement_is_refused_naming_the_line(running_hub, statement):
    broken = statement.replace(b">25.00<", b">25.001<")
    line = next(i for i, text in enumerate(broken.decode().splitlines(), 1) if ">25.001<" in text)
    status, response = post_signed(running_hub, base64.b64encode(broken).decode())
    code, message = fault_of(response)
    assert (status, code) == (500, CLIENT("InvalidRequest"))
    assert message.startswith(f"camt.053 line {line} Amt: '25.001' has a non-zero digit past the grosz")
    detail = response.find(f".//{{{ns.COMMON}}}FaultDetail")
    assert detail.findtext(f"{{{ns.COMMON}}}Element") == "Amt"
    assert snapshot(running_hub.hub) == (0, 0, 0, ())


def test_a_document_that_is_not_base64_fails_the_schema(running_hub):
    status, response = post_signed(running_hub, "not base64 at all!")
    assert (status, fault_of(response)[0]) == (500, CLIENT("SchemaViolation"))


def test_a_statement_of_another_account_is_refused(running_hub):
    other = camt053("PL61109010140000071219812874", [Entry("10.00", ref="R1")])
    code, message = fault_of(post_signed(running_hub, base64.b64encode(other).decode())[1])
    assert code == CLIENT("InvalidRequest") and "not of the hub's escrow account" in message
    assert snapshot(running_hub.hub) == (0, 0, 0, ())


def test_size_limits_before_and_after_decoding(running_hub, statement, monkeypatch):
    limit = running_hub.hub.config.security.request_bytes_max
    huge = base64.b64encode(b" " * limit).decode()
    code, message = fault_of(post_signed(running_hub, huge)[1])
    assert code == CLIENT("InvalidRequest") and f"limit is {limit} bytes" in message

    from hub.services import bankin

    monkeypatch.setattr(bankin, "DOCUMENT_BYTES_MAX", len(statement) - 1)
    code, message = fault_of(post_signed(running_hub, base64.b64encode(statement).decode())[1])
    assert code == CLIENT("InvalidRequest") and f"over the limit of {len(statement) - 1} bytes" in message
    assert snapshot(running_hub.hub) == (0, 0, 0, ())
