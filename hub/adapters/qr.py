"""QR codes as module matrices: what the PDFs (hub.adapters.pdf) paint as vector
squares and the portal draws as one SVG path."""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_M

MASK_PATTERN = 0


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
