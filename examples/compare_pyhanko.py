"""pyHanko in-process, warm: the time of one signature or one validation inside a single
interpreter, imports, key loading and a first warm-up run excluded. The peer half of
`examples/compare.sh`, which runs it with the validators' venv python:

    python examples/compare_pyhanko.py sign RUNS KEY CERT ROOT OUT_DIR IN.pdf...
    python examples/compare_pyhanko.py validate RUNS ROOT SEALED.pdf

`sign` seals each file RUNS times at PAdES B-B (ETSI.CAdES.detached, SHA-256) with a visible
widget on page 1, as `pyhanko sign addsig --use-pades --field 1/360,40,560,120/Sig` does, and
writes the last result to OUT_DIR/NAME (outside the timing). `validate` validates every signature of SEALED.pdf
RUNS times against ROOT, without revocation checking (as `pyhanko sign validate
--no-revocation-check --trust ROOT` does), with a fresh validation context each time, and fails
unless each is intact and trusted. Both print `NAME<TAB>median ms` per file.
"""

import io
import statistics
import sys
import time
from pathlib import Path

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext


def median_ms(runs, work):
    """Runs `work` once to warm up, then `runs` times; the (upper, as the Rust half takes it)
    median wall time in ms and what the last run returned."""
    result = work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median_high(times), result


def sign(runs, key, cert, root, out_dir, *files):
    signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(root,))
    meta = signers.PdfSignatureMetadata(
        field_name="Sig",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    spec = fields.SigFieldSpec("Sig", on_page=0, box=(360, 40, 560, 120))
    for path in map(Path, files):
        original = path.read_bytes()

        def once():
            writer = IncrementalPdfFileWriter(io.BytesIO(original))
            signer_job = signers.PdfSigner(meta, signer=signer, new_field_spec=spec)
            return signer_job.sign_pdf(writer).getvalue()

        median, sealed = median_ms(runs, once)
        (Path(out_dir) / path.name).write_bytes(sealed)
        print(f"{path.name}\t{median:.3f}")


def validate(runs, root, sealed):
    trust = load_cert_from_pemder(root)
    data = Path(sealed).read_bytes()

    def once():
        reader = PdfFileReader(io.BytesIO(data))
        signatures = reader.embedded_regular_signatures
        if not signatures:
            sys.exit(f"{sealed}: no signature")
        for embedded in signatures:
            context = ValidationContext(
                trust_roots=[trust], allow_fetching=False, revocation_mode="soft-fail"
            )
            status = validate_pdf_signature(embedded, signer_validation_context=context)
            if not (status.intact and status.valid and status.trusted):
                sys.exit(f"{sealed}: pyHanko says\n{status.pretty_print_details()}")

    median, _ = median_ms(runs, once)
    print(f"{Path(sealed).name}\t{median:.3f}")


if __name__ == "__main__":
    mode, runs, *rest = sys.argv[1:]
    {"sign": sign, "validate": validate}[mode](int(runs), *rest)
