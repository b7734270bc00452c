"""docs/integration/contract.md keeps up with the hub: every fault code the hub can answer has a
row with the text for the clerk's screen, and every Reason of VerifyCoupon has one too."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

import hub.services.endpoint  # noqa: F401 - the SOAP transport's own faults; hub.errors and the signing faults below
from hub import ns
from hub.errors import ClientError
from hub.services.faults import SoapProcessingFault
from hub.signing.faults import SecurityFault

DOCS = Path(__file__).resolve().parents[2] / "docs" / "integration"
POLISH = re.compile(r"[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]")


def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def table_rows(text: str) -> dict[str, list[str]]:
    """First column (without backticks) -> the other cells, for every table row of `text`."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3 and not set(cells[0]) <= set("- "):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_every_fault_code_has_a_row_with_a_polish_text():
    codes = {f"Client.{c.code}" for c in subclasses(ClientError)} | {"soap:Server"}
    codes |= {
        f"{dict(((ns.WSSE, 'wsse'), (ns.WSU, 'wsu')))[c.qname[0]]}:{c.qname[1]}" for c in subclasses(SecurityFault)
    }
    codes |= {f"soap:{c.code}" for c in subclasses(SoapProcessingFault)}
    rows = table_rows((DOCS / "contract.md").read_text())
    missing = sorted(c for c in codes if c not in rows)
    assert not missing, f"contract.md has no row for {missing}"
    untranslated = sorted(c for c in codes if not POLISH.search(rows[c][-1]))
    assert not untranslated, untranslated


def test_every_coupon_reason_has_a_row():
    common = etree.parse(str(Path(hub.__file__).parent / "xsd" / "common.xsd"))
    reasons = common.xpath("//xs:simpleType[@name='CouponReason']//xs:enumeration/@value", namespaces={"xs": ns.XSD})
    rows = table_rows((DOCS / "contract.md").read_text())
    assert len(reasons) == 8
    missing = [r for r in reasons if r not in rows or not POLISH.search(rows[r][-1])]
    assert not missing, f"contract.md has no Polish row for {missing}"
