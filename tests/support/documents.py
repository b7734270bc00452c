"""Reading the hub's PDFs as a person and a phone would: the text layer, and the QR codes of
pages rendered at print resolution; and QR texts as a forger would change them."""

from __future__ import annotations

from collections.abc import Iterator

import pypdfium2 as pdfium
import zxingcpp
from cryptography import x509

from tests.support import SHIPPED_CONFIG


def hub_cert() -> x509.Certificate:
    return x509.load_pem_x509_certificate((SHIPPED_CONFIG / "keys" / "hub.crt").read_bytes())


def pdf_pages(data: bytes) -> list[tuple[str, str]]:
    """Each page of a PDF as (the QR code's text, the page's text): rendered at
    150 dpi and decoded by zxing-cpp, text by pdfium's text layer."""
    pdf = pdfium.PdfDocument(data)
    pages: list[tuple[str, str]] = []
    try:
        for page in pdf:
            image = page.render(scale=150 / 72, grayscale=True).to_pil()
            codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
            assert len(codes) == 1, f"page {len(pages) + 1}: {len(codes)} QR codes"
            pages.append((codes[0].text, page.get_textpage().get_text_range()))
    finally:
        pdf.close()
    return pages


def sheet_codes(data: bytes) -> list[list[str]]:
    """The QR codes' texts of each sheet rendered at 150 dpi, as zxing-cpp reads them."""
    pdf = pdfium.PdfDocument(data)
    try:
        sheets = []
        for page in pdf:
            image = page.render(scale=150 / 72, grayscale=True).to_pil()
            sheets.append([c.text for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode])
            sheets[-1].append(image)
        return sheets
    finally:
        pdf.close()


def qr_codes(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    found = []
    for page in pdf:
        image = page.render(scale=2).to_pil()
        found += [c.text for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
    return found


QR_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # base32's


def each_one_character_changed(qr: str) -> Iterator[str]:
    """`qr` with one character changed, once at each position: a base32 character to the next
    one of that alphabet, any other character to "7" (or "A" where it is a "7")."""
    for i, ch in enumerate(qr):
        new = QR_ALPHABET[(QR_ALPHABET.find(ch) + 1) % 32] if ch in QR_ALPHABET else ("7" if ch != "7" else "A")
        yield qr[:i] + new + qr[i + 1 :]
