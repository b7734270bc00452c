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

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from hub.adapters.qr import qr_matrix

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_MONO = "DejaVuSansMono"
PAGE = A4


@cache
def register_fonts() -> None:
    """Register the embedded fonts once per process; every drawing function calls this first."""
    for name in (FONT, FONT_BOLD, FONT_MONO):
        pdfmetrics.registerFont(TTFont(name, str(FONTS / f"{name}.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


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
                path.rect(x + (4 + start) * module, top - (r + 1) * module, (c - start) * module, module)
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
