#!/usr/bin/env python3
"""Make one PDF per structural trait from a plain base PDF, for the sealing tests.

Usage: make_fixtures.py BASE.pdf OUTDIR

BASE.pdf: unencrypted, several pages, classic xref table (the tests render it). Writes
OUTDIR/*.pdf, OUTDIR/pki/ (a foreign PKI, see foreign_pki.py) and OUTDIR/fixtures.json,
a list of {"file", "traits", "password" (user password; "" = empty; null = not encrypted),
"owner_password", "pages", "signed_by" (null | "foreign"), "foreign_root" (null |
"pki/root.pem"), "note"}. Then checks every file (qpdf --check exit 0, or 3 with warnings
only for broken-xref; pypdf opens it with the right page count; pdftotext finds page 1's
text; each trait is really there) and exits 1 listing what failed.
Needs qpdf and pdftotext on PATH and the test-tools venv (pypdf, pyHanko).
"""
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep tests/tools free of __pycache__
import _venv  # noqa: E402

_venv.require("pypdf", "pyhanko")

from pypdf import PdfReader, PdfWriter  # noqa: E402
from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject,  # noqa: E402
                           FloatObject, IndirectObject, NameObject, NumberObject, PdfObject,
                           RectangleObject, TextStringObject)

from foreign_pki import make_pki  # noqa: E402
from sign_foreign import sign  # noqa: E402

USER_PW, OWNER_PW = "user-Qp7z2w", "owner-Kd4m9x"
ENCRYPTIONS = [  # name, qpdf options, /Encrypt /V
    ("rc4-128", ["--allow-weak-crypto", "--encrypt", "U", "O", "128", "--use-aes=n"], 2),
    ("aes-128", ["--encrypt", "U", "O", "128", "--use-aes=y"], 4),
    ("aes-256", ["--encrypt", "U", "O", "256"], 5),
]


def qpdf(*args):
    run = subprocess.run(["qpdf", *args], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"qpdf {' '.join(args)}: exit {run.returncode}\n{run.stderr}")


def ser(obj):
    """The PDF syntax of a pypdf object (references stay `n 0 R`)."""
    buf = io.BytesIO()
    obj.write_to_stream(buf)
    return buf.getvalue()


def pdf(value):
    """A pypdf object from Python: "/Name" (no spaces) or text, int, float, list, dict."""
    if isinstance(value, PdfObject):
        return value
    if isinstance(value, str):
        return NameObject(value) if value[:1] == "/" and " " not in value \
            else TextStringObject(value)
    if isinstance(value, int):
        return NumberObject(value)
    if isinstance(value, float):
        return FloatObject(value)
    if isinstance(value, list):
        return ArrayObject(pdf(v) for v in value)
    return DictionaryObject({NameObject(k): pdf(v) for k, v in value.items()})


def startxref(data):
    return int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))


def xref_table(offsets):
    """A classic xref section for {object number: offset}, one subsection per run."""
    nums, out, i = sorted(offsets), [b"xref\n"], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(b"%d %d\n" % (nums[i], j - i + 1))
        out += [b"%010d 00000 n \n" % offsets[n] for n in nums[i:j + 1]]
        i = j + 1
    return b"".join(out)


def append_section(data, objects, size=None, info=None, hybrid=None):
    """`data` + one incremental update holding `objects` ({num: body bytes}).

    hybrid=(num, body): also write that xref stream object and point /XRefStm at it
    (it is listed in the classic table too; the objects it covers are not)."""
    reader = PdfReader(io.BytesIO(data))
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets = {}
    for num, body in sorted(objects.items()) + ([hybrid] if hybrid else []):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    size = size or max([int(reader.trailer["/Size"])] + [n + 1 for n in offsets])
    trailer = b"/Size %d /Root %s /Prev %d" % (size, ser(reader.trailer.raw_get("/Root")),
                                              startxref(data))
    if info or "/Info" in reader.trailer:
        trailer += b" /Info " + (info or ser(reader.trailer.raw_get("/Info")))
    if "/ID" in reader.trailer:
        trailer += b" /ID " + ser(reader.trailer["/ID"])
    if hybrid:
        trailer += b" /XRefStm %d" % offsets[hybrid[0]]
    xref_at = len(out)
    out += xref_table(offsets) + b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        trailer, xref_at)
    return bytes(out)


def info_with_title(reader, title):
    info = DictionaryObject({k: reader.trailer["/Info"].raw_get(k)
                             for k in reader.trailer.get("/Info", {})})
    info[NameObject("/Title")] = TextStringObject(title)
    return ser(info)


def retitle(data, title):
    """Update: the Info dictionary (same object number, or a new one) with a new /Title."""
    reader = PdfReader(io.BytesIO(data))
    ref = reader.trailer.raw_get("/Info") if "/Info" in reader.trailer else None
    num = ref.idnum if ref is not None else int(reader.trailer["/Size"])
    return append_section(data, {num: info_with_title(reader, title)}, info=b"%d 0 R" % num)


def annotate(data, text):
    """Update: a new FreeText annotation on page 1 (and page 1 with it in /Annots)."""
    reader = PdfReader(io.BytesIO(data))
    page, num = reader.pages[0], int(reader.trailer["/Size"])
    x, y = float(page.mediabox.left) + 60, float(page.mediabox.top) - 120
    annot = pdf({"/Type": "/Annot", "/Subtype": "/FreeText", "/Rect": [x, y, x + 260, y + 30],
                 "/F": 4, "/P": page.indirect_reference, "/DA": "/Helv 12 Tf 0 0 1 rg",
                 "/Contents": text})
    new_page = DictionaryObject({k: page.raw_get(k) for k in page})
    new_page[NameObject("/Annots")] = ArrayObject(
        list(page.get("/Annots", [])) + [IndirectObject(num, 0, reader)])
    return append_section(data, {num: ser(annot), page.indirect_reference.idnum: ser(new_page)})


def hybrid_update(data, title):
    """Update with a classic table whose trailer has /XRefStm: the new Info dictionary lives
    in an object stream, listed only by that cross-reference stream (ISO 32000-1 7.5.8.4)."""
    reader = PdfReader(io.BytesIO(data))
    size = int(reader.trailer["/Size"])
    objstm, info, xrefstm = size, size + 1, size + 2
    head = b"%d 0 " % info
    content = head + info_with_title(reader, title) + b"\n"
    objstm_body = b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s\nendstream" % (
        len(head), len(content), content)
    row = bytes([2]) + objstm.to_bytes(4, "big") + (0).to_bytes(2, "big")  # in objstm, index 0
    xref_body = b"<< /Type /XRef /Size %d /W [1 4 2] /Index [%d 1] /Length %d >>\n" \
                b"stream\n%s\nendstream" % (size + 3, info, len(row), row)
    return append_section(data, {objstm: objstm_body}, size=size + 3,
                          info=b"%d 0 R" % info, hybrid=(xrefstm, xref_body))


def break_xref(data):
    """Every in-use xref offset +7 and startxref +3: readers must reconstruct."""
    def shift(section):
        return re.sub(rb"(\d{10}) (\d{5}) n", lambda m: b"%010d %s n" % (
            int(m.group(1)) + 7, m.group(2)), section.group(0))
    data = re.sub(rb"(?<![a-z])xref\s.*?trailer", shift, data, flags=re.S)
    return re.sub(rb"startxref\s+(\d+)(\s+%%EOF\s*)$",
                  lambda m: b"startxref\n%d%s" % (int(m.group(1)) + 3, m.group(2)), data)


def with_cropbox(reader, path):
    writer = PdfWriter(clone_from=reader)
    for page in writer.pages:
        mb = page.mediabox
        page.cropbox = RectangleObject([float(mb.left) + 40, float(mb.bottom) + 60,
                                        float(mb.right) - 30, float(mb.top) - 50])
    writer.write(path)


def with_acroform(reader, path):
    """A filled text field (with appearance), a checked checkbox, an empty signature field."""
    writer = PdfWriter(clone_from=reader)
    page = writer.pages[0]
    x, y = float(page.mediabox.left) + 50, float(page.mediabox.bottom) + 150

    def add(value):
        return writer._add_object(pdf(value))

    fonts = {"/Helv": add({"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/Helvetica"}),
             "/ZaDb": add({"/Type": "/Font", "/Subtype": "/Type1", "/BaseFont": "/ZapfDingbats"})}

    def appearance(w, h, content):
        ap = DecodedStreamObject()
        ap.set_data(content)
        ap.update(pdf({"/Type": "/XObject", "/Subtype": "/Form", "/BBox": [0, 0, w, h],
                       "/Resources": {"/Font": fonts}}))
        return writer._add_object(ap)

    def widget(ft, name, rect, **extra):
        return add({"/Type": "/Annot", "/Subtype": "/Widget", "/FT": ft, "/T": name,
                    "/Rect": rect, "/F": 4, "/P": page.indirect_reference,
                    **{"/" + k: v for k, v in extra.items()}})

    fields = [
        widget("/Tx", "applicant", [x, y, x + 250, y + 24], V="Zhang San", DA="/Helv 12 Tf 0 g",
               AP={"/N": appearance(250, 24, b"/Tx BMC q BT /Helv 12 Tf 0 g 2 7 Td (Zhang San) "
                                             b"Tj ET Q EMC")}),
        widget("/Btn", "agree", [x, y - 40, x + 16, y - 24], V="/Yes", AS="/Yes",
               DA="/ZaDb 14 Tf 0 g",
               AP={"/N": {"/Yes": appearance(16, 16, b"q BT /ZaDb 14 Tf 0 g 2 3 Td (4) Tj ET Q"),
                          "/Off": appearance(16, 16, b"")}}),
        widget("/Sig", "ApproverSignature", [x, y - 120, x + 200, y - 60]),
    ]
    page[NameObject("/Annots")] = ArrayObject(list(page.get("/Annots", [])) + fields)
    writer._root_object[NameObject("/AcroForm")] = add(
        {"/Fields": fields, "/DR": {"/Font": fonts}, "/DA": "/Helv 0 Tf 0 g", "/SigFlags": 1})
    writer.write(path)


def build(base_path, outdir):
    """Write the fixtures into `outdir`; the list for fixtures.json."""
    base = open(base_path, "rb").read()
    reader = PdfReader(io.BytesIO(base))
    if reader.is_encrypted or not re.match(rb"\s*xref\s", base[startxref(base):]) \
            or re.search(rb"\d{10} (?!00000)\d{5} n", base):
        sys.exit(f"{base_path}: must be unencrypted with a classic xref table, generations 0")
    os.makedirs(outdir, exist_ok=True)
    entries = []

    def out(name):
        return os.path.join(outdir, name)

    def add(name, traits, note, password=None, owner_password=None, signed_by=None):
        entries.append({"file": name, "traits": traits, "password": password,
                        "owner_password": owner_password, "pages": len(reader.pages),
                        "signed_by": signed_by,
                        "foreign_root": "pki/root.pem" if signed_by else None, "note": note})

    plain = out("plain.pdf")
    shutil.copyfile(base_path, plain)
    add("plain.pdf", ["plain"], "the base, unchanged")
    for algo, qpdf_args, _ in ENCRYPTIONS:
        for user, kind in (("", "empty-user-password"), (USER_PW, "user-password")):
            name = f"enc-{algo}-{'empty' if not user else 'user'}.pdf"
            args = [{"U": user, "O": OWNER_PW}.get(a, a) for a in qpdf_args]
            qpdf(*args, "--", plain, out(name))
            add(name, ["encrypted", algo, kind], f"qpdf {algo}, user password {user!r}",
                password=user, owner_password=OWNER_PW)
    qpdf("--deterministic-id", "--object-streams=generate", plain, out("xref-stream.pdf"))
    add("xref-stream.pdf", ["xref-stream", "object-streams"], "qpdf --object-streams=generate")
    with open(out("hybrid-xref.pdf"), "wb") as f:
        f.write(hybrid_update(base, "Hybrid-reference fixture"))
    add("hybrid-xref.pdf", ["hybrid-xref", "object-streams"],
        "base + one update: classic table, trailer /XRefStm; new Info in an object stream. "
        "pyHanko signs/validates it only with strict=False (--no-strict)")
    qpdf("--deterministic-id", "--linearize", plain, out("linearized.pdf"))
    add("linearized.pdf", ["linearized"], "qpdf --linearize")
    data = retitle(base, "Incremental update 1")
    data = annotate(data, "Incremental update 2")
    data = retitle(data, "Incremental update 3")
    with open(out("incremental-3.pdf"), "wb") as f:
        f.write(data)
    add("incremental-3.pdf", ["incremental-updates"],
        "base + 3 updates: Info /Title, a FreeText annotation on page 1, Info /Title")
    for angle in (90, 270):
        qpdf("--deterministic-id", f"--rotate=+{angle}", plain, out(f"rotate-{angle}.pdf"))
        add(f"rotate-{angle}.pdf", [f"rotate-{angle}"], f"qpdf --rotate=+{angle}, all pages")
    with_cropbox(reader, out("cropbox-offset.pdf"))
    add("cropbox-offset.pdf", ["cropbox"],
        "every page: /CropBox = MediaBox inset left 40, bottom 60, right 30, top 50 pt")
    with_acroform(reader, out("acroform.pdf"))
    add("acroform.pdf", ["acroform"],
        "page 1: text field 'applicant' = Zhang San (with /AP), checkbox 'agree' on, "
        "empty signature field 'ApproverSignature'")
    make_pki(out("pki"))
    sign(out("pki"), plain, out("signed-by-pyhanko.pdf"))
    add("signed-by-pyhanko.pdf", ["signed"],
        "pyHanko PAdES B-B, field ForeignSeal, visible on page 1, signer in pki/",
        signed_by="foreign")
    with open(out("broken-xref.pdf"), "wb") as f:
        f.write(break_xref(base))
    add("broken-xref.pdf", ["broken-xref"],
        "every xref offset +7, startxref +3: qpdf recovers with warnings (exit 3)")
    return entries


def page1_text(path, password):
    args = ["pdftotext", "-q", "-f", "1", "-l", "1"] + (["-upw", password] if password else [])
    run = subprocess.run(args + [path, "-"], capture_output=True)
    return re.sub(r"\s+", "", run.stdout.decode("utf-8", "replace"))


def check(outdir, e, base_text):
    """What is wrong with fixture entry `e` (an empty list if nothing)."""
    path, pw, traits, bad = os.path.join(outdir, e["file"]), e["password"], e["traits"], []
    run = subprocess.run(["qpdf", "--check"] + ([f"--password={pw}"] if pw else []) + [path],
                         capture_output=True, text=True)
    want = 3 if "broken-xref" in traits else 0
    if run.returncode != want:
        bad.append(f"qpdf --check exit {run.returncode}, wanted {want}: {run.stdout[-300:]}")
    r = PdfReader(path)
    if r.is_encrypted:
        if "user-password" in traits and r.decrypt(""):
            bad.append("opens without the user password")
        r = PdfReader(path, password=pw)
        v = next(v for a, _, v in ENCRYPTIONS if a in traits)
        if r.trailer["/Encrypt"]["/V"] != v:
            bad.append(f"/Encrypt /V {r.trailer['/Encrypt']['/V']}, wanted {v}")
    elif "encrypted" in traits:
        bad.append("not encrypted")
    if len(r.pages) != e["pages"]:
        bad.append(f"pypdf sees {len(r.pages)} pages")
    text = page1_text(path, pw)  # poppler reads rotated CJK lines backwards: compare letters
    if any(c not in text for c in base_text):
        bad.append(f"pdftotext does not find all of {base_text!r} on page 1")
    data = open(path, "rb").read()
    base = open(os.path.join(outdir, "plain.pdf"), "rb").read()
    title = (r.metadata or {}).get("/Title")
    trait_ok = {  # trait: how to see it is really there
        "xref-stream": lambda: b"/XRef" in data and b"/ObjStm" in data,
        "linearized": lambda: "no linearization errors" in subprocess.run(
            ["qpdf", "--check-linearization", path], capture_output=True, text=True).stdout,
        "hybrid-xref": lambda: data.startswith(base) and b"/XRefStm" in data
        and title == "Hybrid-reference fixture",
        "incremental-updates": lambda: data.startswith(base) and title == "Incremental update 3"
        and data.count(b"%%EOF") - base.count(b"%%EOF") == 3,
        "rotate-90": lambda: all(p.rotation == 90 for p in r.pages),
        "rotate-270": lambda: all(p.rotation == 270 for p in r.pages),
        "cropbox": lambda: all(p.cropbox != p.mediabox for p in r.pages),
        "acroform": lambda: sorted(r.get_fields() or {}) == ["ApproverSignature", "agree",
                                                             "applicant"],
        "signed": lambda: data.startswith(base) and b"/ETSI.CAdES.detached" in data,
    }
    bad += [f"trait {t} not found" for t in traits if t in trait_ok and not trait_ok[t]()]
    return bad


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base_path, outdir = sys.argv[1:]
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken-xref's recovery is expected
    entries = build(base_path, outdir)
    with open(os.path.join(outdir, "fixtures.json"), "w") as f:
        json.dump(entries, f, indent=1, ensure_ascii=False)
    base_text = page1_text(base_path, None)[:8]
    failures = [f"{e['file']}: {b}" for e in entries for b in check(outdir, e, base_text)]
    if failures:
        sys.exit("make_fixtures: FAILED\n  " + "\n  ".join(failures))
    print(f"make_fixtures: {len(entries)} fixtures in {outdir}, all checked")


if __name__ == "__main__":
    main()
