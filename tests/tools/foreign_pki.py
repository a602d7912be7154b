#!/usr/bin/env python3
"""Make a throw-away PKI standing for another organisation's seal system.

Usage: foreign_pki.py DIR

Writes, with the `cryptography` package (from the test-tools venv):
  DIR/root.pem, DIR/root.key              RSA 3072 self-signed CA (keyCertSign, cRLSign, SKI)
  DIR/signer.pem, DIR/signer.key          RSA 2048 e-seal certificate issued by root:
                                          CA:FALSE, digitalSignature+nonRepudiation
                                          (critical), SKI/AKI, valid now-1 day .. +5 years
  DIR/other_root.pem, DIR/other_root.key  an unrelated self-signed CA, for "untrusted" tests
Keys are unencrypted PKCS#8 PEM: test keys for a temporary directory, never for the repo.
"""
import datetime as dt
import os
import sys

sys.dont_write_bytecode = True  # keep tests/tools free of __pycache__
import _venv  # noqa: E402

_venv.require("cryptography")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _name(cn, org):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_usage(**on):
    names = ["digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def _cert(subject, key, issuer, issuer_key, ca, usage, days):
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1))
         .not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(usage, critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    if issuer_key is not key:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(directory, stem, cert, key):
    with open(os.path.join(directory, stem + ".pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    path = os.path.join(directory, stem + ".key")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def make_pki(directory):
    """Write the PKI into `directory` (made if missing)."""
    os.makedirs(directory, exist_ok=True)
    ca_usage = _key_usage(key_cert_sign=True, crl_sign=True)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    root_name = _name("Foreign Seal Root CA (test)", "Foreign Seal Authority (test)")
    root = _cert(root_name, root_key, root_name, root_key, True, ca_usage, 3650)
    _write(directory, "root", root, root_key)

    signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = _cert(_name("Foreign Department E-Seal (test)", "Foreign Department (test)"),
                   signer_key, root_name, root_key, False,
                   _key_usage(digital_signature=True, content_commitment=True), 5 * 365)
    _write(directory, "signer", signer, signer_key)

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_name = _name("Unrelated Root CA (test)", "Unrelated Authority (test)")
    other = _cert(other_name, other_key, other_name, other_key, True, ca_usage, 3650)
    _write(directory, "other_root", other, other_key)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    make_pki(sys.argv[1])
    print(f"{sys.argv[1]}: root.pem root.key signer.pem signer.key other_root.pem other_root.key")
