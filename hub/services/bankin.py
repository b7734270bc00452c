"""BankInService (contract section 7): the bank submits camt.053 statements at /soap/bank.

Only translates: the base64 `Document` becomes bytes (at most DOCUMENT_BYTES_MAX once decoded,
besides the request limit every endpoint has), and goes through the same import as
`hub bank import FILE`; the result's counts go back, summed over the document's statements of
the escrow account, and `StatementId` lists the hub's id of each, separated by a space (one id
for the usual one-statement document). The statement itself is parsed by the
import's hardened streaming reader, never by the SOAP stack.
"""

from __future__ import annotations

import base64
import binascii

from spyne import Integer, Unicode

from hub import ns
from hub.access import client_actor
from hub.bank.statements import DOCUMENT_BYTES_MAX
from hub.errors import InvalidRequest
from hub.services.spyne_base import HubService, Model, caller, hub_of, operation

NS = ns.BANK_IN
KINDS = frozenset({"BANK"})


class _Model(Model):
    __namespace__ = NS


class SubmitStatementRequest(_Model):
    _type_info = [("Document", Unicode(min_occurs=1))]


class SubmitStatementResponse(_Model):
    _type_info = [
        ("Imported", Integer(min_occurs=1)),
        ("Duplicates", Integer(min_occurs=1)),
        ("Unmatched", Integer(min_occurs=1)),
        ("StatementId", Unicode(min_occurs=1)),
    ]


def decoded_document(text: str) -> bytes:
    compact = "".join(text.split())
    if len(compact) // 4 * 3 > DOCUMENT_BYTES_MAX:
        raise InvalidRequest(f"the statement is over the limit of {DOCUMENT_BYTES_MAX} bytes")
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise InvalidRequest("Document is not base64") from None


class BankInService(HubService):
    @operation("SubmitStatement", SubmitStatementRequest, SubmitStatementResponse)
    def SubmitStatement(ctx, req):
        result = hub_of(ctx).statements.import_document(decoded_document(req.Document), actor=client_actor(caller(ctx)))
        return SubmitStatementResponse(
            Imported=result.imported,
            Duplicates=result.duplicates,
            Unmatched=result.unmatched,
            StatementId=" ".join(str(s.statement_id) for s in result.statements),
        )
