#!/usr/bin/env python3
"""Validate every signature and document time-stamp in a PDF with pyHanko's API.

Usage: pyhanko_report.py [--trust ROOT.pem]... [--password PW] [--allow-untrusted]
                         [--no-strict] [--verbose] FILE.pdf

Prints ONE JSON object on one line:
  {"tool": "pyhanko-api", "file": FILE, "exit": E, "error": "..." (only if the file could
   not be read), "signatures": [{"field", "sig_type" ("/Sig" | "/DocTimeStamp"), "intact",
   "valid", "trusted", "revoked", "coverage" (SignatureCoverageLevel name or null),
   "modification_level" (ModificationLevel name or null), "docmdp_ok", "md_algorithm",
   "signer_subject", "signer_issuer", "signer_serial" (hex, "0x..."),
   "signing_time_reported", "timestamp_time" (ISO 8601 or null), "subfilter",
   "byte_range" [4 ints], "summary", "error" (only if validating it raised)}, ...]}

Exit status (also in "exit"):
  0  every signature intact, valid and trusted, with allowed modifications only;
  1  some signature not intact or not valid, or no signature at all;
  2  all intact and valid, but some untrusted (unless --allow-untrusted), modified in a way
     that is not allowed (docmdp_ok false, level OTHER or unknown) or coverage not whole
     (neither ENTIRE_FILE nor ENTIRE_REVISION);
  3  the file could not be read (the JSON carries "error");
  4  pyHanko is missing (run scripts/install-test-tools.sh).
Offline: no fetching, revocation checks soft-fail. Trust roots are only the --trust files.
--no-strict reads the file leniently (pyHanko's strict=False), which pyHanko requires to
validate signatures in hybrid-reference files at all.
"""
import argparse
import json
import logging
import sys

sys.dont_write_bytecode = True  # keep tests/tools free of __pycache__
import _venv  # noqa: E402

_venv.require("pyhanko", "pyhanko_certvalidator")

from pyhanko.keys import load_certs_from_pemder  # noqa: E402
from pyhanko.pdf_utils.crypt import AuthStatus  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402

ALLOWED_LEVELS = {"NONE", "LTA_UPDATES", "FORM_FILLING", "ANNOTATIONS"}
WHOLE_COVERAGE = {"ENTIRE_FILE", "ENTIRE_REVISION"}


def _name(value):
    return None if value is None else getattr(value, "name", str(value))


def _iso(dt):
    return dt.isoformat() if dt is not None else None


def describe(emb, roots):
    """Validate one embedded signature; a dict of what pyHanko says about it."""
    sig_type = str(emb.sig_object_type)
    rec = {"field": emb.field_name, "sig_type": sig_type, "subfilter": None, "byte_range": None}
    try:
        sig = emb.sig_object  # dict.get would skip decryption: use [] on encrypted files
        rec["subfilter"] = str(sig["/SubFilter"]) if "/SubFilter" in sig else None
        rec["byte_range"] = [int(x) for x in emb.byte_range]
        vc = ValidationContext(trust_roots=roots, allow_fetching=False,
                               revocation_mode="soft-fail")
        if sig_type == "/DocTimeStamp":
            st = validate_pdf_timestamp(emb, validation_context=vc)
            ts_time = st.timestamp
        else:
            st = validate_pdf_signature(emb, signer_validation_context=vc)
            ts_time = st.timestamp_validity.timestamp if st.timestamp_validity else None
        cert = st.signing_cert
        rec.update({
            "intact": bool(st.intact), "valid": bool(st.valid), "trusted": bool(st.trusted),
            "revoked": bool(st.revoked), "coverage": _name(st.coverage),
            "modification_level": _name(st.modification_level), "docmdp_ok": st.docmdp_ok,
            "md_algorithm": st.md_algorithm,
            "signer_subject": cert.subject.human_friendly if cert else None,
            "signer_issuer": cert.issuer.human_friendly if cert else None,
            "signer_serial": hex(cert.serial_number) if cert else None,
            "signing_time_reported": _iso(getattr(st, "signer_reported_dt", None)),
            "timestamp_time": _iso(ts_time), "summary": st.summary(),
        })
    except Exception as e:  # report it as a broken signature, keep going
        rec.update({"intact": False, "valid": False, "trusted": False, "revoked": False,
                    "coverage": None, "modification_level": None, "docmdp_ok": None,
                    "summary": "INVALID", "error": repr(e)})
    return rec


def verdict(rec, allow_untrusted):
    """0, 1 or 2 for one signature record (see the exit status above)."""
    if not (rec["intact"] and rec["valid"]):
        return 1
    if rec["coverage"] not in WHOLE_COVERAGE or rec["docmdp_ok"] is False \
            or rec["modification_level"] not in ALLOWED_LEVELS:
        return 2
    if not rec["trusted"] and not allow_untrusted:
        return 2
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trust", action="append", default=[], metavar="PEM")
    ap.add_argument("--password", help="user or owner password of an encrypted file")
    ap.add_argument("--allow-untrusted", action="store_true",
                    help="an untrusted signer does not make the exit status 2")
    ap.add_argument("--no-strict", action="store_true",
                    help="lenient syntax; needed for hybrid-reference files")
    ap.add_argument("--verbose", action="store_true", help="let pyHanko log to stderr")
    ap.add_argument("file")
    a = ap.parse_args()
    if not a.verbose:
        logging.disable(logging.CRITICAL)
    out = {"tool": "pyhanko-api", "file": a.file, "exit": 3, "signatures": []}
    try:
        roots = list(load_certs_from_pemder(a.trust))
        f = open(a.file, "rb")
        reader = PdfFileReader(f, strict=not a.no_strict)
        if reader.encrypted:
            result = reader.decrypt((a.password or "").encode("utf-8"))
            if result.status == AuthStatus.FAILED:
                raise ValueError("wrong password for the encrypted file")
        sigs = list(reader.embedded_signatures)
    except Exception as e:
        out["error"] = repr(e)
        print(json.dumps(out, ensure_ascii=False))
        return 3
    out["signatures"] = [describe(emb, roots) for emb in sigs]
    levels = [verdict(rec, a.allow_untrusted) for rec in out["signatures"]]
    out["exit"] = (max(levels) if levels else 1)
    print(json.dumps(out, ensure_ascii=False, default=str))
    return out["exit"]


if __name__ == "__main__":
    sys.exit(main())
