"""A journal as files for an FK system: CSV, and XML shaped as fk.xsd's
PostJournalRequest (the same element the hub sends by SOAP)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lxml import etree

from hub import ns
from hub.fk.journal import Journal
from hub.money import format_pln

CSV_COLUMNS = ("Account", "Debit", "Credit", "Description", "Reference")


def journal_csv(journal: Journal) -> bytes:
    """UTF-8 with a BOM (so a spreadsheet reads the Polish letters), comma separated,
    amounts as 161.50, one header row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in journal.lines:
        writer.writerow(
            (
                line.account,
                format_pln(line.debit_grosze),
                format_pln(line.credit_grosze),
                line.description,
                line.reference,
            )
        )
    return out.getvalue().encode("utf-8-sig")


def journal_xml(journal: Journal) -> bytes:
    f = f"{{{ns.FK}}}"
    root = etree.Element(f + "PostJournalRequest", nsmap={"fk": ns.FK})
    etree.SubElement(root, f + "JournalId").text = journal.journal_id
    etree.SubElement(root, f + "OfficeCode").text = journal.office_code
    etree.SubElement(root, f + "Date").text = journal.day.isoformat()
    for line in journal.lines:
        element = etree.SubElement(root, f + "Line")
        for name, value in (
            ("Account", line.account),
            ("Debit", format_pln(line.debit_grosze)),
            ("Credit", format_pln(line.credit_grosze)),
            ("Description", line.description),
            ("Reference", line.reference),
        ):
            etree.SubElement(element, f + name).text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_files(journal: Journal, out_dir: Path) -> tuple[Path, Path]:
    """`<JournalId>.csv` and `<JournalId>.xml` in `out_dir` (made if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, xml_path = (out_dir / f"{journal.journal_id}.csv", out_dir / f"{journal.journal_id}.xml")
    csv_path.write_bytes(journal_csv(journal))
    xml_path.write_bytes(journal_xml(journal))
    return csv_path, xml_path
