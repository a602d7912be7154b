#!/usr/bin/env python3
"""Seal a PDF the way another organisation's system would: with pyHanko, not our code.

Usage: sign_foreign.py PKI_DIR IN.pdf OUT.pdf [--page N] [--password PW] [--field NAME]
                      [--no-strict]

PKI_DIR is made by foreign_pki.py (signer.key, signer.pem, root.pem). Appends one
incremental update to IN.pdf holding a PAdES B-B signature (/SubFilter /ETSI.CAdES.detached)
in a new field NAME (default ForeignSeal) with a visible widget at 360,40 .. 560,120 pt on
page N (1-based, default 1) drawn with pyHanko's default text stamp. An encrypted IN.pdf is
opened with --password (may be ""; default ""), and the update is encrypted the same way.
--no-strict reads IN.pdf leniently (pyHanko refuses hybrid-reference files otherwise).
Never prompts.
"""
import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep tests/tools free of __pycache__
import _venv  # noqa: E402

_venv.require("pyhanko")

from pyhanko.pdf_utils.crypt import AuthStatus  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402

BOX = (360, 40, 560, 120)


def sign(pki_dir, in_path, out_path, page=1, password="", field="ForeignSeal", strict=True):
    """Sign `in_path` into `out_path` with the signer of `pki_dir` (see the module doc)."""
    signer = signers.SimpleSigner.load(
        os.path.join(pki_dir, "signer.key"), os.path.join(pki_dir, "signer.pem"),
        ca_chain_files=(os.path.join(pki_dir, "root.pem"),))
    if signer is None:
        raise RuntimeError(f"could not load the signer from {pki_dir}")
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES,
        reason="Foreign department seal (test)", location="CN")
    spec = fields.SigFieldSpec(sig_field_name=field, on_page=page - 1, box=BOX)
    with open(in_path, "rb") as inf:
        writer = IncrementalPdfFileWriter(inf, strict=strict)
        if writer.prev.encrypted:
            if writer.encrypt((password or "").encode("utf-8")).status == AuthStatus.FAILED:
                raise ValueError(f"{in_path}: wrong password")
        pdf_signer = signers.PdfSigner(meta, signer=signer, new_field_spec=spec)
        with open(out_path, "wb") as outf:
            pdf_signer.sign_pdf(writer, output=outf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pki_dir")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--page", type=int, default=1, help="1-based page of the widget")
    ap.add_argument("--password", default="", help="password of an encrypted input")
    ap.add_argument("--field", default="ForeignSeal", help="signature field name")
    ap.add_argument("--no-strict", action="store_true", help="lenient syntax (hybrid xrefs)")
    a = ap.parse_args()
    try:
        sign(a.pki_dir, a.input, a.output, a.page, a.password, a.field, not a.no_strict)
    except ValueError as e:  # a wrong password, a bad page number: no traceback needed
        sys.exit(f"sign_foreign.py: {e}")


if __name__ == "__main__":
    sys.exit(main())
