"""Minimal PDF 1.4 documents for the sandboxes' invoice downloads: lines of text in Helvetica on A4 pages.

No dependency: the few objects a viewer needs (catalog, page tree, pages, content streams, one standard
font) are written by hand, with a correct cross-reference table, so the result opens in any viewer and
its text can be found in the bytes by tests.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_pdf"]

_TOP = 770
_BOTTOM = 50


def _escape(text: str) -> bytes:
    """A PDF string literal's content in WinAnsi (cp1252); unknown characters become "?"."""
    return (
        text.encode("cp1252", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    )


def _content(texts: Sequence[tuple[int, str]], leading: int) -> bytes:
    ops = [b"BT", b"72 %d Td" % _TOP]
    for n, (size, text) in enumerate(texts):
        ops += [b"0 -%d Td" % leading if n else b"", b"/F1 %d Tf" % size, b"(" + _escape(text) + b") Tj"]
    ops.append(b"ET")
    return b"\n".join(op for op in ops if op)


def text_pdf(texts: Sequence[tuple[int, str]], leading: int = 24) -> bytes:
    """A valid PDF showing ``texts`` (``(font size, text)`` pairs) one under the other, ``leading`` points
    apart, starting top left on A4 and continuing on further pages when they do not fit on one."""
    per_page = (_TOP - _BOTTOM) // leading + 1
    pages = [texts[i : i + per_page] for i in range(0, len(texts), per_page)] or [texts]
    font_id = 3 + 2 * len(pages)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * n) for n in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
    ]
    for n, page in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font_id, 4 + 2 * n)
        )
        stream = _content(page, leading)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
