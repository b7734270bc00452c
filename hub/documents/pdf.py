"""What every PDF of the hub shares: the embedded font with Polish diacritics,
vector QR codes, and the page size.

Coupons, receipts and reports are drawn with reportlab. Text uses DejaVu Sans
(shipped in `fonts/`, embedded in every PDF as a subset), so "zł", "ą", "ę", "ł",
"ś", "ż" render and extract as themselves. A QR code is drawn as vector squares:
`qrcode` computes the module matrix, reportlab paints it, so it stays sharp at any
zoom and printer resolution.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_MONO = "DejaVuSansMono"
PAGE = A4
MASK_PATTERN = 0


@cache
def register_fonts() -> None:
    """Register the embedded fonts once per process; every drawing function calls this first."""
    for name in (FONT, FONT_BOLD, FONT_MONO):
        pdfmetrics.registerFont(TTFont(name, str(FONTS / f"{name}.ttf")))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code's modules, row by row (error correction M, no quiet zone).

    The mask pattern is fixed: qrcode's default tries all eight and scores each,
    which was three quarters of the time of a 1,000-coupon PDF. Every mask is valid
    QR; the scoring only trims rare runs that confuse poor scanners, and the vector
    print at 50+ mm is far from that limit (the tests decode every page)."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK_PATTERN)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return code.get_matrix()


def draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """A vector QR code of `text`, `size` points square, lower left corner at (x, y),
    with a white quiet zone of 4 modules around it (part of `size`)."""
    matrix = qr_matrix(text)
    n = len(matrix)
    module = size / (n + 8)
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    path = canvas.beginPath()
    top = y + size - 4 * module
    for r, row in enumerate(matrix):
        c = 0
        while c < n:  # one rectangle per run of dark modules keeps the file small
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(
                    x + (4 + start) * module, top - (r + 1) * module, (c - start) * module, module
                )
            else:
                c += 1
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def new_canvas(target, title: str, author: str = "Hub opłat") -> Canvas:
    """A canvas on `target` (a path or a binary file object) with the fonts registered
    and the document's metadata set."""
    register_fonts()
    canvas = Canvas(target, pagesize=PAGE, pageCompression=1)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("fee-coupon-hub")
    return canvas
