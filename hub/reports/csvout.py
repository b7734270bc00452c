"""The two CSV dialects every CSV the hub writes for people comes in (reports, the
cash report; the FK export is a machine format of its own and stays as it is):

- `excel-pl` (the default): for a person opening the file in a Polish Excel or
  LibreOffice: UTF-8 with a BOM (else Excel reads it as Windows-1250), `;` between
  fields (a Polish Excel's list separator, as the comma is its decimal sign),
  Polish column titles, amounts `1234,56`, Warsaw time `10.03.2026 10:30:00`,
  codes as their Polish labels;
- `rfc4180`: for machines: UTF-8 without a BOM, `,`, CRLF, column keys, amounts
  `161.50`, UTC `2026-03-10T09:30:00Z`, codes as they are.

No reportlab here: the CLI reads the names for its option at start-up.
"""

from __future__ import annotations

import csv
from typing import TextIO

EXCEL_PL, RFC4180 = "excel-pl", "rfc4180"
CSV_DIALECTS = (EXCEL_PL, RFC4180)
BOM = "\ufeff"


def csv_writer(out: TextIO, dialect: str):
    """A csv writer of `dialect`, the BOM already written where the dialect has one."""
    if dialect == EXCEL_PL:
        out.write(BOM)
        return csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    if dialect == RFC4180:
        return csv.writer(out, delimiter=",", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    raise ValueError(f"unknown csv dialect {dialect!r}; one of {', '.join(CSV_DIALECTS)}")
