"""The common PDF layout: A4, Bitstream Vera (shipped with reportlab, covers French typography), a header with the
document's title and a footer with its date and page numbers."""

import io
import unicodedata
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT, BOLD = "ParcoursSans", "ParcoursSans-Bold"
_FONTS_DIR = Path(reportlab.__file__).parent / "fonts"
_registered = False
_glyphs: set = set()

INK = colors.HexColor("#1b1b35")
MUTED = colors.HexColor("#555566")
RULE = colors.HexColor("#c9c9d6")
HEAD = colors.HexColor("#e8edf8")


def _register():
    global _registered, _glyphs
    if _registered:
        return
    regular = TTFont(FONT, str(_FONTS_DIR / "Vera.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS_DIR / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    _glyphs = set(regular.face.charToGlyph)
    _registered = True


# Characters the app (or a user) writes that the font lacks, and what stands for them. Vera has no arrow, no check
# mark, no thin or figure space and no non-breaking hyphen; it has ≥ ≤ … · – — « » € œ ’ √ × (tests/test_pdf.py).
SUBSTITUTES = {
    "\u2192": "->",  # → (a state change: « Accueil -> Éligibilité à valider »)
    "\u2190": "<-",  # ←
    "\u2194": "<->",  # ↔
    "\u21d2": "=>",  # ⇒
    "\u21d0": "<=",  # ⇐
    "\u2713": "√",  # ✓
    "\u2714": "√",  # ✔
    "\u2717": "×",  # ✗
    "\u2718": "×",  # ✘
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "–",  # figure dash
    "\u202f": "\u00a0",  # narrow no-break space (French typography before ; : ! ?)
    "\u2007": "\u00a0",  # figure space (no-break)
    "\u25b8": "‣",  # ▸
    "\u25ba": "‣",  # ►
    "\u25b6": "‣",  # ▶
    "\u25e6": "•",  # ◦
}


def _substitute(char) -> str:
    """What stands for a character the font lacks: a listed substitute; a space for any other space; the
    compatibility form (full-width digits, ligatures); the letter without its accents; "?" when nothing fits."""
    if char in SUBSTITUTES:
        return SUBSTITUTES[char]
    if unicodedata.category(char) == "Zs":
        return " "
    decomposed = unicodedata.normalize("NFD", char)
    while len(decomposed) > 1:  # the accents the font has are kept (ễ → ê), the last ones go first
        decomposed = decomposed[:-1]
        composed = unicodedata.normalize("NFC", decomposed)
        if all(ord(c) in _glyphs for c in composed):
            return composed
    for form in ("NFKC", "NFKD"):
        kept = "".join(c for c in unicodedata.normalize(form, char) if ord(c) in _glyphs)
        if kept:
            return kept
    return "?"


def clean(value) -> str:
    """Text the font can draw: the characters it lacks replaced (`SUBSTITUTES`, other spaces, compatibility forms,
    letters without their accents: a name is never dropped), control characters go."""
    _register()
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFC", text)
    out = []
    for char in text:
        if ord(char) in _glyphs or char in "\n\t":
            out.append(char)
            continue
        if unicodedata.category(char).startswith("C"):
            continue
        out.append(_substitute(char))
    return "".join(out)


def styles():
    _register()
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, textColor=INK, alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=16, leading=20, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, leading=13, textColor=MUTED, spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "cellhead": ParagraphStyle("cellhead", parent=base, fontName=BOLD, fontSize=8, leading=10),
    }


def para(text, style) -> Paragraph:
    return Paragraph(escape(clean(text)).replace("\n", "<br/>"), style)


def table(header, rows, widths, *, style=None):
    """A data table whose header row repeats on each page; cells wrap."""
    s = styles()
    data = [[para(h, s["cellhead"]) for h in header]] + [[para(c, s["cell"]) for c in row] for row in rows]
    result = Table(data, colWidths=widths, repeatRows=1)
    result.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("GRID", (0, 0), (-1, -1), 0.4, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                *(style or []),
            ]
        )
    )
    return result


def facts(pairs, widths=(55 * mm, 115 * mm)):
    """A two-column table of labelled facts."""
    s = styles()
    data = [[para(label, s["cellhead"]), para(value, s["cell"])] for label, value in pairs]
    result = Table(data, colWidths=list(widths))
    result.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return result


def render(story, *, title, footer) -> bytes:
    """Lay out `story` (flowables) on A4 pages with the header and footer; returns the PDF bytes."""
    _register()
    buffer = io.BytesIO()
    title, footer = clean(title), clean(footer)

    def decorate(canvas, document):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(document.leftMargin, A4[1] - 12 * mm, title)
        canvas.drawString(document.leftMargin, 10 * mm, footer)
        canvas.drawRightString(A4[0] - document.rightMargin, 10 * mm, f"Page {canvas.getPageNumber()}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=title,
        author="Parcours",
    )
    document.build(list(story), onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()


def spacer(height=4):
    return Spacer(1, height * mm)
