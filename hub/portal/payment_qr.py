"""The transfer QR code that Polish banking apps read: the Związek Banków Polskich
"Standard 2D" recommendation (2013-12-03), and the code drawn as inline SVG.

    <NIP>|<country>|<account>|<amount>|<recipient>|<title>|<reserved>|<reserved>|<reserved>
    |PL|75116022020000000412345678|050000|Hub opłat urzędowych|Zasilenie NIP 7010254361|||

- NIP of the recipient (10 digits, may be empty: the "type 2" recipient used here),
- country `PL`, account: the 26-digit NRB,
- amount in grosze, 6 digits with leading zeros; `000000` lets the payer type it
  (so at most 9 999,99 zł can be given in the code),
- recipient name at most 20 characters, title at most 32, three reserved fields empty.
The separator `|` and control characters cannot appear inside a field; they are
removed.
"""

from __future__ import annotations

import re
from html import escape

from hub.adapters.qr import qr_matrix
from hub.errors import InvalidRequest
from hub.ids import nrb_valid

RECIPIENT_CHARS_MAX = 20
TITLE_CHARS_MAX = 32
AMOUNT_GROSZE_MAX = 999_999  # six digits
QUIET_MODULES = 4

_NOT_IN_FIELD = re.compile(r"[|\x00-\x1f\x7f]")


def zbp_2d(nrb: str, amount_grosze: int, recipient: str, title: str, nip: str = "") -> str:
    """The ZBP 2D text of a domestic transfer; `amount_grosze` 0: the payer types the amount."""
    if not nrb_valid(nrb):
        raise InvalidRequest(f"{nrb!r} is not a 26-digit NRB with a valid checksum")
    if not 0 <= amount_grosze <= AMOUNT_GROSZE_MAX:
        raise InvalidRequest(f"a ZBP 2D code holds 0 to {AMOUNT_GROSZE_MAX} grosze, got {amount_grosze}")
    if nip and not (len(nip) == 10 and nip.isdigit()):
        raise InvalidRequest(f"the recipient NIP is 10 digits, got {nip!r}")
    fields = [
        nip,
        "PL",
        nrb,
        f"{amount_grosze:06d}",
        _field(recipient, RECIPIENT_CHARS_MAX),
        _field(title, TITLE_CHARS_MAX),
        "",
        "",
        "",
    ]
    return "|".join(fields)


def _field(text: str, chars_max: int) -> str:
    return _NOT_IN_FIELD.sub("", text).strip()[:chars_max].strip()


def qr_svg(text: str, label: str) -> str:
    """`text` as a QR code in SVG markup (one path, crisp at any zoom), with a
    white quiet zone, `role="img"` and `label` as its accessible name."""
    matrix = qr_matrix(text)
    n = len(matrix) + 2 * QUIET_MODULES
    runs = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                runs.append(f"M{start + QUIET_MODULES} {r + QUIET_MODULES}h{c - start}v1h-{c - start}z")
            else:
                c += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 {n} {n}" role="img" '
        f'aria-label="{escape(label)}" '
        f'shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
