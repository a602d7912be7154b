"""Schemathesis hooks of tests/e2e/openapi.rs: bodies for the media types schemathesis cannot
make on its own, `application/pdf`, `application/x-pem-file`, `application/timestamp-query` and
`application/ocsp-request`.

PDFs are a licence issued by the server under test (`ZY_SAMPLE_PDF`), cut short or with bytes
changed, or random bytes; PEM bodies are the server's root certificate (`ZY_SAMPLE_PEM`), likewise
damaged, or random text; time-stamp and OCSP requests are random bytes.
"""

import os

import schemathesis
from hypothesis import strategies as st


def _read(variable):
    with open(os.environ[variable], "rb") as file:
        return file.read()


def _damaged(sample):
    """The sample as it is, cut short, or with one byte replaced."""
    cut = st.integers(0, len(sample)).map(lambda n: sample[:n])
    flipped = st.tuples(st.integers(0, len(sample) - 1), st.integers(0, 255)).map(
        lambda change: sample[: change[0]] + bytes([change[1]]) + sample[change[0] + 1 :]
    )
    return st.one_of(st.just(sample), cut, flipped)


_PDF = _read("ZY_SAMPLE_PDF")
_PEM = _read("ZY_SAMPLE_PEM")

schemathesis.openapi.media_type("application/pdf", st.one_of(_damaged(_PDF), st.binary(max_size=2048)))
schemathesis.openapi.media_type(
    "application/x-pem-file",
    st.one_of(_damaged(_PEM), st.text(max_size=512).map(str.encode)),
)
schemathesis.openapi.media_type("application/timestamp-query", st.binary(max_size=512))
schemathesis.openapi.media_type("application/ocsp-request", st.binary(max_size=512))
