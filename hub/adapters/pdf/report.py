"""A report as PDF: A4 landscape, Polish titles, the embedded DejaVu font; the table
breaks across pages with its header repeated, a totals row ends it, grouped totals
follow, and a chart, where the report has one, gets its own page."""

from __future__ import annotations

import io
from datetime import date
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import KeepTogether, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hub.adapters.pdf.page import FONT, FONT_BOLD, FONT_MONO, PAGE, register_fonts
from hub.errors import InvalidRequest
from hub.reports.model import COUPON, TEXT, Column, Report, Row
from hub.reports.render import pdf_text, person_text

PAGE_SIZE = landscape(PAGE)
PDF_ROWS_MAX = 10_000  # some 270 pages, ~10 s on one core; more than anyone reads: that is for csv
MARGIN = 14 * mm
FONT_SIZE = 7.5
LEADING = 9.2
PADDING_PT = 3  # left and right in a cell
CELL_PADDING_V_PT = 1.5  # above and below
TEXT_WIDTH_MIN_PT = 50  # a text column wraps, but not narrower than this
TEXT_WIDTH_MAX_PT = 220  # nor wider: a long name wraps
GROUP_WIDTH_PT = 440
PARAMETER_TITLES = {
    "from": "od",
    "to": "do",
    "nip": "NIP",
    "office": "urząd",
    "status": "status",
    "case-type": "rodzaj sprawy",
    "issued-by": "wystawił",
    "until": "do dnia",
}

_BODY = ParagraphStyle("report-body", fontName=FONT, fontSize=FONT_SIZE, leading=LEADING)
_HEAD = ParagraphStyle("report-head", parent=_BODY, fontName=FONT_BOLD)
_HEAD_RIGHT = ParagraphStyle("report-head-right", parent=_HEAD, alignment=TA_RIGHT)
_TITLE = ParagraphStyle("report-title", fontName=FONT_BOLD, fontSize=15, leading=19, spaceAfter=2 * mm)
_SUBTITLE = ParagraphStyle(
    "report-subtitle", fontName=FONT_BOLD, fontSize=10.5, leading=13, spaceBefore=5 * mm, spaceAfter=2 * mm
)
_NOTE = ParagraphStyle("report-note", fontName=FONT, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444"))


def to_pdf(report: Report) -> bytes:
    if len(report.rows) > PDF_ROWS_MAX:
        raise InvalidRequest(
            f"a PDF report holds at most {PDF_ROWS_MAX} rows and this one has {len(report.rows)}: "
            "narrow it (--from, --to, --nip...) or take --format csv"
        )
    register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE_SIZE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=report.title,
        author="Hub opłat",
        creator="fee-coupon-hub",
        subject=f"hub report {report.name}",
    )
    story: list = [
        Paragraph(escape(report.title), _TITLE),
        Paragraph(escape(_coverage(report)), _NOTE),
        Spacer(1, 3 * mm),
    ]
    if report.figures:
        story += [_figures(report), Spacer(1, 3 * mm)]
    names = report.case_type_names
    story += _table(report.columns, report.rows, report.totals, doc.width, names)
    for group in report.groups:
        story.append(
            KeepTogether(
                [
                    Paragraph(escape(group.title), _SUBTITLE),
                    *_table(group.columns, group.rows, None, min(GROUP_WIDTH_PT, doc.width), names),
                ]
            )
        )
    if report.chart is not None:
        story += [
            PageBreak(),
            Paragraph(escape(report.chart.title), _SUBTITLE),
            bar_chart(report.chart.labels, report.chart.values, doc.width),
        ]

    def footer(canvas, doc_):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        made = f" · {report.generated_on.isoformat()}" if report.generated_on else ""
        canvas.drawString(MARGIN, MARGIN, f"{report.title}{made}")
        canvas.drawRightString(PAGE_SIZE[0] - MARGIN, MARGIN, f"Strona {doc_.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _coverage(report: Report) -> str:
    parts = [f"{PARAMETER_TITLES.get(k, k)}: {v}" for k, v in report.parameters.items()]
    return "Zakres: " + (", ".join(parts) if parts else "całość") + f" · pozycji: {len(report.rows)}"


def _figures(report: Report) -> Table:
    data = [[Paragraph(escape(f.title), _BODY), pdf_text(f.value, f.kind)] for f in report.figures]
    table = Table(data, colWidths=[300, 100], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("FONT", (1, 0), (1, -1), FONT_BOLD, FONT_SIZE),
            ]
        )
    )
    return table


def _table(
    columns: tuple[Column, ...], rows: tuple[Row, ...], totals: Row | None, width: float, names: dict[str, str]
) -> list:
    if not rows:
        return [Paragraph("Brak pozycji w tym zakresie.", _NOTE)]
    printed = [[person_text(row.get(c.key), c, names) for c in columns] for row in rows]
    total_row = None
    if totals is not None:
        label = next((i for i, c in enumerate(columns) if not c.numeric), None)
        total_row = [
            pdf_text(totals[c.key], c.kind) if c.key in totals else ("Razem" if i == label else "")
            for i, c in enumerate(columns)
        ]
    widths = _widths(columns, printed, total_row, width)
    header = [Paragraph(escape(c.title), _HEAD_RIGHT if c.numeric else _HEAD) for c in columns]
    heights = _wrap_and_measure(columns, header, printed, total_row, widths)
    data = [header, *printed, *([total_row] if total_row else [])]
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
        ("LEADING", (0, 0), (-1, -1), LEADING),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), CELL_PADDING_V_PT),
        ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PADDING_V_PT),
        ("LEFTPADDING", (0, 0), (-1, -1), PADDING_PT),
        ("RIGHTPADDING", (0, 0), (-1, -1), PADDING_PT),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E4E8EE")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5A6270")),
        ("ROWBACKGROUNDS", (0, 1), (-1, len(printed)), [colors.white, colors.HexColor("#F5F6F8")]),
    ]
    for i, c in enumerate(columns):
        if c.numeric:
            style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
        if c.kind == COUPON:
            style.append(("FONT", (i, 1), (i, len(printed)), FONT_MONO, FONT_SIZE))
    if total_row is not None:
        style += [
            ("FONT", (0, -1), (-1, -1), FONT_BOLD, FONT_SIZE),
            ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
        ]
    table = Table(data, colWidths=widths, rowHeights=heights, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    return [table]


def _wrap_and_measure(
    columns: tuple[Column, ...], header: list, printed: list[list], total_row: list | None, widths: list[float]
) -> list[float]:
    """Every row's height, worked out here so that reportlab measures nothing while it
    breaks pages (measuring the rest of the table at every break is quadratic). Text
    longer than its column becomes a Paragraph that wraps (costly, so only where
    needed); every other kind fits its column on one line."""
    line = LEADING + 2 * CELL_PADDING_V_PT
    heights = [
        max(p.wrap(widths[i] - 2 * PADDING_PT, PAGE_SIZE[1])[1] for i, p in enumerate(header)) + 2 * CELL_PADDING_V_PT
    ]
    room = {i: widths[i] - 2 * PADDING_PT for i, c in enumerate(columns) if c.kind == TEXT}
    for cells in printed:
        height = line
        for i, w in room.items():
            if stringWidth(cells[i], FONT, FONT_SIZE) > w:
                cells[i] = Paragraph(escape(cells[i]), _BODY)
                height = max(height, cells[i].wrap(w, PAGE_SIZE[1])[1] + 2 * CELL_PADDING_V_PT)
        heights.append(height)
    if total_row is not None:
        heights.append(line)
    return heights


def _widths(
    columns: tuple[Column, ...], printed: list[list[str]], total_row: list[str] | None, width: float
) -> list[float]:
    """Each column as wide as its widest value and its title's longest word, then
    stretched to `width`. When that is too wide, the widest text columns narrow to a
    common width (they wrap), so short codes (NIP, status) never break."""
    natural = []
    for i, c in enumerate(columns):
        font = FONT_MONO if c.kind == COUPON else FONT
        widest = max(stringWidth(cells[i], font, FONT_SIZE) for cells in printed)
        if total_row is not None:
            widest = max(widest, stringWidth(total_row[i], FONT_BOLD, FONT_SIZE))
        if c.kind == TEXT:
            widest = min(widest, TEXT_WIDTH_MAX_PT)
        heading = max(stringWidth(word, FONT_BOLD, FONT_SIZE) for word in c.title.split())
        natural.append(max(widest, heading) + 2 * PADDING_PT + 1)
    total = sum(natural)
    texts = sorted((w, i) for i, w in enumerate(natural) if columns[i].kind == TEXT)
    room = width - (total - sum(w for w, _ in texts))  # what the text columns may have
    if total <= width or room < len(texts) * TEXT_WIDTH_MIN_PT:
        return [w * width / total for w in natural]  # stretch (or, with too little to wrap, squeeze) every column alike
    widths = list(natural)
    for k, (w, _) in enumerate(texts):  # the narrowest keep their width while the rest share what is left
        cap = room / (len(texts) - k)
        if w > cap:
            for _, i in texts[k:]:
                widths[i] = cap
            break
        room -= w
    return widths


def bar_chart(labels: tuple[str, ...], values: tuple[int, ...], width: float, height: float = 330) -> Drawing:
    """Vertical bars, one per label (days as dd.mm); every n-th label when there are many."""
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 60, width - 60, height - 90
    chart.data = [list(values)]
    step = -(-len(labels) // 31)  # at most 31 labels under the bars
    chart.categoryAxis.categoryNames = [_day_label(label) if i % step == 0 else "" for i, label in enumerate(labels)]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 90 if len(labels) > 16 else 0
    chart.categoryAxis.labels.boxAnchor = "e" if len(labels) > 16 else "n"
    chart.categoryAxis.tickDown = 3
    chart.categoryAxis.labels.dy = -5
    top = max(values) if values else 0
    step_value = _nice_step(top)
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = max(step_value, -(-top // step_value) * step_value)
    chart.valueAxis.valueStep = step_value
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%d"
    chart.bars[0].fillColor = colors.HexColor("#3B6EA8")
    chart.bars[0].strokeColor = None
    if len(values) <= 31:
        chart.barLabelFormat = "%d"
        chart.barLabels.fontName = FONT
        chart.barLabels.fontSize = 7
        chart.barLabels.nudge = 6
    drawing.add(chart)
    drawing.add(String(0, height - 12, "liczba kuponów", fontName=FONT, fontSize=7.5))
    return drawing


def _day_label(label: str) -> str:
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return label
    return day.strftime("%d.%m")


def _nice_step(top: int) -> int:
    """An axis step of 1, 2 or 5 times a power of ten giving at most 8 gridlines."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if top <= 8 * factor * power:
                return factor * power
        power *= 10
