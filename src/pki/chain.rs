//! Certificate paths: does a signer certificate chain, through a pool of intermediates, to
//! one of the trust anchors, with every certificate valid at the signing time? Used by the PDF
//! verifier and by the offline check of a licence's QR code.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The certificates an offline verifier trusts and knows: roots, and certificates under them
/// (the departments' seal certificates), as DER.
#[derive(Debug, Clone, Default)]
pub struct CertificateSet {
    roots: Vec<Vec<u8>>,
    certificates: Vec<Vec<u8>>,
}

impl CertificateSet {
    /// Trusts `roots` and knows `certificates` (DER).
    pub fn new(roots: Vec<Vec<u8>>, certificates: Vec<Vec<u8>>) -> Self {
        CertificateSet {
            roots,
            certificates,
        }
    }

    /// Reads a PEM bundle, as `GET /api/v1/certificates` serves it: self-signed certificates
    /// are the trusted roots, the others known certificates.
    pub fn from_pem(bundle: &[u8]) -> Result<Self, String> {
        let mut set = CertificateSet::default();
        for pem in x509_parser::pem::Pem::iter_from_buffer(bundle) {
            let pem = pem.map_err(|e| format!("PEM bundle: {e}"))?;
            let (_, cert) = X509Certificate::from_der(&pem.contents)
                .map_err(|e| format!("certificate: {e}"))?;
            if cert.subject().as_raw() == cert.issuer().as_raw() {
                set.roots.push(pem.contents);
            } else {
                set.certificates.push(pem.contents);
            }
        }
        if set.roots.is_empty() {
            return Err("the bundle has no root certificate".into());
        }
        Ok(set)
    }

    /// The trusted roots that parse.
    pub fn roots(&self) -> Vec<X509Certificate<'_>> {
        parse_all(&self.roots)
    }

    /// The other certificates that parse.
    pub fn certificates(&self) -> Vec<X509Certificate<'_>> {
        parse_all(&self.certificates)
    }
}

fn parse_all(ders: &[Vec<u8>]) -> Vec<X509Certificate<'_>> {
    ders.iter()
        .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, cert)| cert))
        .collect()
}

/// How many issuers a certificate chain may have before we give up.
const MAX_CHAIN_LEN: usize = 8;

/// Checks the signer may sign at `at` and finds a chain through `pool` (the certificates in
/// the CMS) to one of `anchors`; returns the anchor's subject or the reason there is none.
/// Anchors are trusted as given: their own validity period is not checked.
pub fn chain_to_anchor(
    signer: &X509Certificate,
    pool: &[X509Certificate],
    anchors: &[X509Certificate],
    at: OffsetDateTime,
) -> Result<String, String> {
    if !valid_at(signer, at) {
        return Err(format!(
            "the signer certificate is not valid at {} (valid {} to {})",
            rfc3339(at),
            rfc3339(signer.validity().not_before.to_datetime()),
            rfc3339(signer.validity().not_after.to_datetime())
        ));
    }
    match signer.key_usage() {
        Ok(Some(ku)) if !(ku.value.digital_signature() || ku.value.non_repudiation()) => {
            return Err(
                "the signer certificate's keyUsage allows neither digitalSignature nor nonRepudiation"
                    .into(),
            )
        }
        Err(e) => return Err(format!("the signer certificate's keyUsage is unreadable: {e}")),
        _ => {}
    }
    if let Some(anchor) = anchors.iter().find(|a| a.as_raw() == signer.as_raw()) {
        return Ok(anchor.subject().to_string());
    }
    let mut visited = Vec::new();
    path_to_anchor(signer, pool, anchors, at, &mut visited).ok_or_else(|| {
        format!(
            "no chain of valid certificates from the signer to a trust anchor (signer issuer: {})",
            signer.issuer()
        )
    })
}

/// Depth-first search upwards; `visited` pool certificates are never expanded twice.
fn path_to_anchor(
    cert: &X509Certificate,
    pool: &[X509Certificate],
    anchors: &[X509Certificate],
    at: OffsetDateTime,
    visited: &mut Vec<usize>,
) -> Option<String> {
    if let Some(anchor) = anchors.iter().find(|a| issued_by(cert, a)) {
        return Some(anchor.subject().to_string());
    }
    if visited.len() >= MAX_CHAIN_LEN {
        return None;
    }
    for (i, ca) in pool.iter().enumerate() {
        if visited.contains(&i) || !ca.is_ca() || !valid_at(ca, at) || !issued_by(cert, ca) {
            continue;
        }
        visited.push(i);
        if let Some(anchor) = path_to_anchor(ca, pool, anchors, at, visited) {
            return Some(anchor);
        }
    }
    None
}

fn issued_by(cert: &X509Certificate, issuer: &X509Certificate) -> bool {
    cert.issuer().as_raw() == issuer.subject().as_raw()
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

fn valid_at(cert: &X509Certificate, at: OffsetDateTime) -> bool {
    let validity = cert.validity();
    validity.not_before.to_datetime() <= at && at <= validity.not_after.to_datetime()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}
