"""An audit report as PDF (fpdf2): the header, then one block per entry, in log order.

The PDF is for reading; the JSON, CSV and bundle carry the exact data. It is written in Noto Sans
CJK cut to the document's characters (`pdf_fonts`: Chinese in both scripts, Japanese, Korean and
the Latin, Greek and Cyrillic alphabets) with DejaVu Sans behind it for anything else; without
Noto (`make fonts` installs it) DejaVu alone; without either the core Helvetica font, with
characters outside Latin-1 shown as '?'. The callers sign it (`pdf_signing`).
"""

from __future__ import annotations

import json
import string
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fpdf import FPDF

from dealchat.records.pdf_fonts import cjk_font
from dealchat.records.reports import Report, ReportRow

UNICODE_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_PAYLOAD_CHARS = 400


class _Pdf(FPDF):
    heading = "dealchat audit report"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.font_family, size=8)
        self.cell(0, 8, f"{self.heading} - page {self.page_no()}/{{nb}}", align="C")


@contextmanager
def _setup(words: str, title: str) -> Iterator[tuple[_Pdf, bool]]:
    """A PDF with its fonts, while the cut CJK font's file exists (fpdf2 reads it on output)."""
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.heading = title
    pdf.set_title(title)
    pdf.set_creator("dealchat")
    with tempfile.TemporaryDirectory(prefix="dealchat-pdf-") as folder:
        families = []
        cjk = cjk_font(words)
        if cjk is not None:
            path = Path(folder) / "cjk.ttf"
            path.write_bytes(cjk)
            pdf.add_font("cjk", "", str(path))
            families.append("cjk")
        if UNICODE_FONT.is_file():
            pdf.add_font("dejavu", "", str(UNICODE_FONT))
            families.append("dejavu")
        pdf.set_font(families[0] if families else "helvetica", size=9)
        if len(families) > 1:
            pdf.set_fallback_fonts(families[1:])
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.add_page()
        yield pdf, bool(families)


def _words(report: Report) -> str:
    """Every character the document may show."""
    parts = [string.printable, report.query.title, json.dumps(report.header(), ensure_ascii=False)]
    for row in report.rows:
        parts += [row.event, row.actor, row.subject, row.text or "", row.payload]
    return "".join(parts)


def as_pdf(report: Report) -> bytes:
    with _setup(_words(report), report.query.title) as (pdf, unicode):
        return _write(pdf, report, unicode)


def _write(pdf: _Pdf, report: Report, unicode: bool) -> bytes:
    def text(value: str) -> str:
        return value if unicode else value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_font_size(14)
    pdf.cell(0, 8, text(report.query.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font_size(9)
    for name, value in report.header().items():
        if isinstance(value, dict):
            shown = json.dumps(value, ensure_ascii=False) if value else "none"
        else:
            shown = "-" if value is None else str(value)
        pdf.multi_cell(0, 5, text(f"{name}: {shown}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for row in report.rows:
        _row(pdf, row, text)
    return bytes(pdf.output())


def _row(pdf: FPDF, row: ReportRow, text: Callable[[str], str]) -> None:
    width = pdf.epw
    head = f"#{row.seq}  {row.at.strftime('%Y-%m-%d %H:%M:%S')} UTC  {row.event}"
    pdf.multi_cell(
        width, 5, text(f"{head}  by {row.actor}  on {row.subject}"), new_x="LMARGIN", new_y="NEXT"
    )
    detail = row.text if row.text is not None else row.payload
    if len(detail) > _PAYLOAD_CHARS:
        detail = detail[:_PAYLOAD_CHARS] + " ..."
    pdf.set_x(pdf.l_margin + 6)
    pdf.multi_cell(width - 6, 5, text(detail), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
