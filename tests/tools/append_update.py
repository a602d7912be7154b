#!/usr/bin/env python3
"""Append one incremental update that changes what a sealed PDF says (a negative test).

Usage: append_update.py IN.pdf OUT.pdf

With pypdf (PdfWriter(reader, incremental=True)): adds a FreeText annotation reading
"AMOUNT DUE: 1,000,000" on page 1 and changes the Info /Title. The bytes of IN.pdf stay an
exact prefix of OUT.pdf, so a signature in IN stays intact for its own revision, but
validators must report the later modification.
"""
import sys

sys.dont_write_bytecode = True  # keep tests/tools free of __pycache__
import _venv  # noqa: E402

_venv.require("pypdf")

from pypdf import PdfReader, PdfWriter  # noqa: E402
from pypdf.annotations import FreeText  # noqa: E402

TEXT = "AMOUNT DUE: 1,000,000"


def append_update(in_path, out_path, text=TEXT, title="Modified after sealing"):
    """Write `in_path` plus one incremental update to `out_path`."""
    writer = PdfWriter(PdfReader(in_path), incremental=True)
    box = writer.pages[0].mediabox
    x, y = float(box.left) + 50, float(box.top) - 100
    writer.add_annotation(0, FreeText(text=text, rect=(x, y, x + 300, y + 40)))
    writer.add_metadata({"/Title": title})
    with open(out_path, "wb") as f:
        writer.write(f)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    append_update(sys.argv[1], sys.argv[2])
