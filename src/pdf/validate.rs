//! Verifying every signature in a PDF (like pyHanko's `validation`): is each one intact (the
//! signed bytes and the CMS signature check out), does its signer chain to one of our trust
//! anchors, how much of the file does it cover, and what did later incremental updates
//! change (see [`super::revisions`]). Each signature gets a [`Verdict`].
//!
//! Handles CMS signatures (`adbe.pkcs7.detached`, `ETSI.CAdES.detached`) with their signature
//! time-stamps, RFC 3161 document timestamps (`ETSI.RFC3161`), and revocation as the trust
//! anchors know it (our root's CRL).
//!
//! Time: a signer's chain is judged now, unless a valid time-stamp proves the signature
//! existed earlier (proof of existence, as EN 319 102-1 does): its own signature time-stamp,
//! or a later document time-stamp that covers it. The signing time the signer wrote (`/M`,
//! the CMS signing-time attribute) is a claim and decides nothing.

use std::collections::HashSet;
use std::ops::Range;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::db::{rfc5911, rfc5912};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Any, Decode, Encode, Header, Reader, SliceReader};
use lopdf::{Dictionary, Document, Object};
use ring::digest;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
use x509_cert::attr::Attributes;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_tsp::MessageImprint;

use super::revisions::{self, ChangeKind, RevisionChange};
use super::sign::{SigningCertificateV2, ID_AA_SIGNATURE_TIME_STAMP_TOKEN, ID_CT_TST_INFO};
use crate::pki::chain::chain_to_anchor;

/// How deep the AcroForm field tree may nest before we stop walking it.
const MAX_FIELD_DEPTH: usize = 32;
/// The root certificates we trust, as DER.
#[derive(Clone, Debug, Default)]
pub struct TrustAnchors {
    roots: Vec<Vec<u8>>,
    revoked: Vec<RevokedCertificate>,
}

/// A certificate its issuer revoked (as our root's CRL lists it).
#[derive(Clone, Debug)]
pub struct RevokedCertificate {
    /// The issuer's name, DER.
    pub issuer: Vec<u8>,
    /// The serial number, big-endian bytes.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub at: OffsetDateTime,
}

impl TrustAnchors {
    /// Trusts these DER certificates; any that do not parse are ignored when verifying.
    pub fn new(roots_der: Vec<Vec<u8>>) -> Self {
        Self {
            roots: roots_der,
            revoked: Vec::new(),
        }
    }

    /// Knows these certificates to be revoked.
    pub fn with_revocations(mut self, revoked: Vec<RevokedCertificate>) -> Self {
        self.revoked = revoked;
        self
    }

    /// When `cert` was revoked, if it was.
    fn revoked_at(&self, cert: &X509Certificate) -> Option<OffsetDateTime> {
        self.revoked
            .iter()
            .find(|r| r.serial == cert.raw_serial() && r.issuer == cert.issuer().as_raw())
            .map(|r| r.at)
    }
}

/// Why a PDF could not be verified at all: it is the loader's error.
pub use super::LoadError as ValidateError;

/// Who a certificate belongs to, for people to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct CertSummary {
    /// Subject name, e.g. `C=CN, O=…, CN=…`.
    pub subject: String,
    /// Issuer name in the same form.
    pub issuer: String,
    /// Serial number in lower-case hex.
    pub serial_hex: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// The certificate itself, DER (not serialised).
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// What the CMS layer says about one signature (see [`verify_cms_detached`]).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct CmsReport {
    /// The signer certificate, if the CMS names one that it contains.
    pub signer: Option<CertSummary>,
    /// The signed bytes hash to what the CMS says was signed.
    pub digest_matches: bool,
    /// The signer's signature (over the signed attributes) verifies.
    pub signature_valid: bool,
    /// The digest algorithm, e.g. `SHA-256`.
    pub digest_algorithm: Option<String>,
    /// The signature algorithm as the CMS names it, e.g. `ecdsa-with-SHA256`.
    pub signature_algorithm: Option<String>,
    /// The signer certificate chains to a trust anchor and may sign at the signing time.
    pub chain_trusted: bool,
    /// Subject of the trust anchor the chain ends at.
    pub trust_anchor_subject: Option<String>,
    /// The signature time-stamp (PAdES B-T), if the signature carries one.
    pub timestamp: Option<TimestampReport>,
    /// When the signer certificate was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The revocation counts against this signature: no valid time-stamp proves the
    /// signature older than the revocation.
    pub revoked: bool,
    /// Why any of the above is false.
    pub problems: Vec<String>,
    /// For a time-stamp token: the time it vouches for (`genTime`).
    #[serde(skip)]
    pub token_time: Option<OffsetDateTime>,
    /// The time the chain was judged at, when a time-stamp proved the signature older than
    /// now.
    #[serde(skip)]
    pub proven_time: Option<OffsetDateTime>,
    /// The chain holds while the signer's certificate is valid, but not at the time judged:
    /// what is missing is a proof that the signature is that old.
    #[serde(skip)]
    pub out_of_bounds: bool,
    /// The signature rests on an algorithm too weak to rely on (SHA-1): verified, but not
    /// accepted.
    #[serde(skip)]
    pub weak_algorithm: bool,
}

/// A signature time-stamp token (RFC 3161, in the unsigned attribute
/// id-aa-signatureTimeStampToken) as checked: over this signature's value, signed by a
/// time-stamping authority that chains to a trust anchor.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct TimestampReport {
    /// The time the authority vouches for (`genTime`), RFC 3339.
    pub time: Option<String>,
    /// The authority's certificate subject.
    pub authority: Option<String>,
    /// The token could be read and checked. One that cannot (e.g. it carries attribute
    /// certificates, which the `cms` crate does not decode) is treated as absent: the
    /// signature is judged at its claimed time, as without a time-stamp.
    pub checked: bool,
    /// The token is intact, over this signature, and from a trusted time-stamping authority.
    pub valid: bool,
}

/// The bottom line for one signature, from worst to best: the first that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Not intact: the signed bytes or the signature do not check out, or `/ByteRange` is
    /// malformed.
    Broken,
    /// Intact, but a later update changed more than signatures and form fields (annotations
    /// or content).
    Modified,
    /// Intact and unmodified, but the signer's certificate was revoked and no time-stamp
    /// proves the signature was made before.
    Revoked,
    /// Intact and unmodified, but the signer does not chain to a trusted root, or the signature
    /// rests on an algorithm too weak to rely on.
    Untrusted,
    /// Intact, unmodified since, and trusted.
    Valid,
}

/// The main indication of a signature's validation, as ETSI EN 319 102-1 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    /// Valid: [`Verdict::Valid`].
    TotalPassed,
    /// Not valid, for good: broken, or the document changed after signing.
    TotalFailed,
    /// Cannot be shown valid with what is known: untrusted or revoked.
    Indeterminate,
}

/// Why a signature did not pass (EN 319 102-1 §5.1.3), where one of these applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    /// `/ByteRange` is malformed: the signed bytes cannot be told.
    FormatFailure,
    /// The signed bytes do not hash to what the signature says.
    HashFailure,
    /// The signature value does not verify with the signer's key.
    SigCryptoFailure,
    /// The signer's certificate was revoked, and nothing proves the signature older.
    RevokedNoPoe,
    /// The certificate is not valid now (expired or not yet valid), and nothing proves the
    /// signature was made while it was.
    OutOfBoundsNoPoe,
    /// The signer does not chain to a trusted root.
    NoCertificateChainFound,
    /// An algorithm it uses is too weak to rely on (SHA-1), and nothing proves the signature
    /// was made while it was not.
    CryptoConstraintsFailureNoPoe,
}

/// Whether a signature is an ordinary signature or a document timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// A CMS signature by a signer (a seal).
    Signature,
    /// An RFC 3161 document timestamp (`ETSI.RFC3161`).
    DocumentTimestamp,
}

/// The verdict on one signature field of a PDF.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub struct SignatureReport {
    /// Fully qualified field name (`parent.child`).
    pub field_name: String,
    /// Signature or document timestamp.
    pub kind: SignatureKind,
    /// The bottom line.
    pub verdict: Verdict,
    /// The same, as EN 319 102-1's main indication.
    pub indication: Indication,
    /// Why it did not pass, where an EN 319 102-1 sub-indication applies (a document changed
    /// after signing is `TOTAL_FAILED` without one: `modifications` says what changed).
    #[schema(required = true)]
    pub sub_indication: Option<SubIndication>,
    /// `/SubFilter`, e.g. `ETSI.CAdES.detached` or `ETSI.RFC3161` for a document timestamp.
    #[schema(required = true)]
    pub sub_filter: Option<String>,
    /// `/M`, the signing time the signer claims, as RFC 3339 (raw if it does not parse): a
    /// claim, which decides nothing (see `proven_time`).
    #[schema(required = true)]
    pub signing_time: Option<String>,
    /// The signer certificate.
    #[schema(required = true)]
    pub signer: Option<CertSummary>,
    /// `/ByteRange` as written in the file (empty if missing or malformed).
    pub byte_range: Vec<i64>,
    /// The hash of the byte ranges equals the CMS message digest.
    pub digest_matches: bool,
    /// The CMS signature verifies with the signer's key.
    pub signature_valid: bool,
    /// The digest algorithm, e.g. `SHA-256`.
    #[schema(required = true)]
    pub digest_algorithm: Option<String>,
    /// The signature algorithm, e.g. `ecdsa-with-SHA256`.
    #[schema(required = true)]
    pub signature_algorithm: Option<String>,
    /// The signer chains to one of the trust anchors: its certificate and every issuer are
    /// valid now, or were at `proven_time`, and its keyUsage allows signing.
    pub chain_trusted: bool,
    /// Subject of that trust anchor.
    #[schema(required = true)]
    pub trust_anchor_subject: Option<String>,
    /// The signature time-stamp (PAdES B-T), if there is one. When it is valid, the signer's
    /// chain is judged at its time rather than now.
    pub timestamp: Option<TimestampReport>,
    /// When the signature is proven to have existed, RFC 3339: the time of its valid
    /// signature time-stamp or of a later valid document time-stamp covering it (for a
    /// document time-stamp, its own time). The signer's chain and revocation are judged then;
    /// without it, now. `signing_time` is only what the signer claimed.
    #[schema(required = true)]
    pub proven_time: Option<String>,
    /// When the signer certificate was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The revocation counts against this signature: no valid time-stamp proves the
    /// signature older than the revocation.
    pub revoked: bool,
    /// Two ranges from byte 0 whose gap is exactly this signature's `/Contents` hex string.
    pub byte_range_well_formed: bool,
    /// Well formed and reaching the end of the file: everything but `/Contents` is signed.
    pub covers_whole_file: bool,
    /// How many bytes of the file follow the signed range (None if `/ByteRange` is unusable).
    #[schema(required = true)]
    pub bytes_after: Option<u64>,
    /// The most serious change any later incremental update made (`none` if there is none).
    pub modification_level: ChangeKind,
    /// Each later incremental update and what it changed.
    pub modifications: Vec<RevisionChange>,
    /// Why any check above failed.
    pub problems: Vec<String>,
    /// See [`CmsReport::out_of_bounds`].
    #[serde(skip)]
    pub out_of_bounds: bool,
    /// See [`CmsReport::weak_algorithm`].
    #[serde(skip)]
    pub weak_algorithm: bool,
}

impl SignatureReport {
    /// Nothing signed was changed and the signature verifies (says nothing about trust).
    pub fn intact(&self) -> bool {
        self.digest_matches && self.signature_valid
    }

    /// What was changed after signing is no more than further signatures, validation data
    /// and form filling.
    pub fn unmodified(&self) -> bool {
        self.modification_level <= ChangeKind::FormFill
    }

    /// The EN 319 102-1 indication and sub-indication of `verdict`, from the checks.
    fn indication(&self, verdict: Verdict) -> (Indication, Option<SubIndication>) {
        match verdict {
            Verdict::Valid => (Indication::TotalPassed, None),
            Verdict::Broken => {
                let why = if !self.byte_range_well_formed {
                    SubIndication::FormatFailure
                } else if !self.digest_matches {
                    SubIndication::HashFailure
                } else {
                    SubIndication::SigCryptoFailure
                };
                (Indication::TotalFailed, Some(why))
            }
            Verdict::Modified => (Indication::TotalFailed, None),
            Verdict::Revoked => (Indication::Indeterminate, Some(SubIndication::RevokedNoPoe)),
            Verdict::Untrusted if self.weak_algorithm => (
                Indication::Indeterminate,
                Some(SubIndication::CryptoConstraintsFailureNoPoe),
            ),
            Verdict::Untrusted if self.chain_trusted => (Indication::Indeterminate, None),
            Verdict::Untrusted if self.out_of_bounds => (
                Indication::Indeterminate,
                Some(SubIndication::OutOfBoundsNoPoe),
            ),
            Verdict::Untrusted => (
                Indication::Indeterminate,
                Some(SubIndication::NoCertificateChainFound),
            ),
        }
    }

    fn judge(&self) -> Verdict {
        if !self.intact() || !self.byte_range_well_formed {
            Verdict::Broken
        } else if !self.unmodified() {
            Verdict::Modified
        } else if self.revoked {
            Verdict::Revoked
        } else if !self.chain_trusted
            || self.weak_algorithm
            || self
                .timestamp
                .as_ref()
                .is_some_and(|t| t.checked && !t.valid)
        {
            Verdict::Untrusted
        } else {
            Verdict::Valid
        }
    }
}

/// Every signature of a PDF, in file order (the newest last; one whose `/ByteRange` is
/// unusable counts as newest).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct PdfReport {
    /// One entry per signature field that holds a signature.
    pub signatures: Vec<SignatureReport>,
}

impl PdfReport {
    /// There is at least one signature and every one is [`Verdict::Valid`]: intact, trusted,
    /// with a well-formed `/ByteRange`, and followed by nothing but further signatures,
    /// validation data or form filling.
    pub fn all_valid_and_trusted(&self) -> bool {
        self.verdict() == Some(Verdict::Valid)
    }

    /// The worst verdict over all signatures; `None` when there is no signature.
    pub fn verdict(&self) -> Option<Verdict> {
        self.signatures.iter().map(|s| s.verdict).min()
    }
}

/// Verifies every signature in `pdf` against `anchors`. An encrypted PDF is opened with the
/// user `password` (the empty password when `None`). A PDF without signatures is a report
/// with none, not an error.
pub fn verify_pdf(
    pdf: &[u8],
    anchors: &TrustAnchors,
    password: Option<&str>,
) -> Result<PdfReport, ValidateError> {
    let doc = super::load_for_update(pdf, password)?;
    let encrypted = doc.encryption_state.is_some();
    let mut fields: Vec<(String, &Dictionary, SignatureReport)> = signature_fields(&doc)
        .into_iter()
        .map(|(name, sig)| {
            let report = verify_signature(pdf, name.clone(), sig, anchors, encrypted, None);
            (name, sig, report)
        })
        .collect();
    // Newest first: a document time-stamp's proof of existence reaches back to what it covers.
    fields.sort_by_key(|(_, _, s)| s.bytes_after.unwrap_or(u64::MAX));
    for i in 0..fields.len() {
        let (name, sig, report) = &fields[i];
        if report.proven_time.is_some() || (report.chain_trusted && !report.revoked) {
            continue;
        }
        let Some(existed_by) = existence_proven_by_later_timestamp(report, &fields[..i]) else {
            continue;
        };
        let proven = verify_signature(pdf, name.clone(), sig, anchors, encrypted, Some(existed_by));
        fields[i].2 = proven;
    }
    let mut signatures: Vec<SignatureReport> =
        fields.into_iter().map(|(_, _, report)| report).collect();
    signatures.sort_by_key(|s| s.bytes_after.map_or(u64::MAX, |after| u64::MAX - after));
    let ambiguities = super::structure::ambiguities(pdf, &doc);
    for signature in &mut signatures {
        analyse_modifications(pdf, signature, password);
        if let Some(ambiguity) = ambiguities.first() {
            // What a viewer shows cannot be told from what was signed: no signature holds.
            signature.modification_level = ChangeKind::ContentChange;
            signature.problems.push(format!(
                "the cross-reference table is ambiguous ({ambiguity}): a viewer may show other content than this check reads"
            ));
        }
        signature.verdict = signature.judge();
        (signature.indication, signature.sub_indication) = signature.indication(signature.verdict);
    }
    Ok(PdfReport { signatures })
}

/// The earliest time a valid, trusted document time-stamp among `newer` (signatures made
/// after `signature`) proves `signature` existed by: one whose signed range covers it.
fn existence_proven_by_later_timestamp(
    signature: &SignatureReport,
    newer: &[(String, &Dictionary, SignatureReport)],
) -> Option<OffsetDateTime> {
    let after = signature.bytes_after?;
    newer
        .iter()
        .map(|(_, _, report)| report)
        .filter(|t| {
            t.kind == SignatureKind::DocumentTimestamp
                && t.intact()
                && t.byte_range_well_formed
                && t.chain_trusted
                && !t.revoked
                && t.bytes_after.is_some_and(|t_after| t_after < after)
        })
        .filter_map(|t| OffsetDateTime::parse(t.proven_time.as_deref()?, &Rfc3339).ok())
        .min()
}

/// Fills in what the incremental updates after the signed revision changed. Bytes after the
/// signature that cannot be analysed count as a content change.
fn analyse_modifications(pdf: &[u8], signature: &mut SignatureReport, password: Option<&str>) {
    let Some(after) = signature.bytes_after.filter(|&after| after > 0) else {
        return;
    };
    let signed_end = usize::try_from(pdf.len() as u64 - after).unwrap_or(pdf.len());
    match revisions::changes_after(pdf, signed_end, password) {
        Ok(changes) => {
            signature.modification_level = changes
                .iter()
                .map(|c| c.kind)
                .max()
                .unwrap_or(ChangeKind::None);
            signature.modifications = changes;
        }
        Err(e) => {
            signature.modification_level = ChangeKind::ContentChange;
            signature.problems.push(format!(
                "what changed after signing cannot be analysed: {e}"
            ));
        }
    }
    if !signature.unmodified() {
        signature.problems.push(format!(
            "the document was changed after signing ({})",
            signature
                .modifications
                .iter()
                .flat_map(|m| m.details.iter().map(String::as_str))
                .take(3)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
}

/// Finds the `/FT /Sig` fields with a `/V` signature dictionary in the AcroForm field tree.
fn signature_fields(doc: &Document) -> Vec<(String, &Dictionary)> {
    let mut found: Vec<(String, &Dictionary)> = Vec::new();
    let fields = doc
        .catalog()
        .ok()
        .and_then(|catalog| dict(doc, catalog.get(b"AcroForm").ok()?))
        .and_then(|form| resolve(doc, form.get(b"Fields").ok()?))
        .and_then(|fields| fields.as_array().ok());
    let Some(fields) = fields else {
        return found;
    };
    let mut seen = HashSet::new();
    let mut stack: Vec<(&Object, String, Option<&[u8]>, usize)> = fields
        .iter()
        .rev()
        .map(|f| (f, String::new(), None, 0))
        .collect();
    while let Some((object, parent, inherited_ft, depth)) = stack.pop() {
        if let Object::Reference(id) = object {
            if !seen.insert(*id) {
                continue; // a cycle, or a field listed twice
            }
        }
        let Some(field) = dict(doc, object) else {
            continue;
        };
        let name = match field.get(b"T").ok().and_then(|t| resolve(doc, t)) {
            Some(t) => {
                let t = lopdf::decode_text_string(t).unwrap_or_default();
                if parent.is_empty() {
                    t
                } else {
                    format!("{parent}.{t}")
                }
            }
            None => parent,
        };
        let ft = field
            .get(b"FT")
            .ok()
            .and_then(|ft| ft.as_name().ok())
            .or(inherited_ft);
        if ft == Some(b"Sig".as_slice()) {
            if let Some(value) = field.get(b"V").ok().and_then(|v| dict(doc, v)) {
                if is_placeholder(value) {
                    continue; // reserved for a signature, not signed: an unsigned field
                }
                if !found.iter().any(|(_, d)| std::ptr::eq(*d, value)) {
                    found.push((name, value));
                }
                continue; // kids of a signed field are its widgets
            }
        }
        if depth < MAX_FIELD_DEPTH {
            if let Some(kids) = field
                .get(b"Kids")
                .ok()
                .and_then(|k| resolve(doc, k))
                .and_then(|k| k.as_array().ok())
            {
                stack.extend(kids.iter().rev().map(|k| (k, name.clone(), ft, depth + 1)));
            }
        }
    }
    found
}

/// A signature dictionary whose `/Contents` is still the zeros a signer reserves before
/// signing (or empty): a field not signed yet.
fn is_placeholder(sig: &Dictionary) -> bool {
    sig.get(b"Contents")
        .ok()
        .and_then(|contents| contents.as_str().ok())
        .is_some_and(|contents| contents.iter().all(|&byte| byte == 0))
}

fn resolve<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

fn dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    resolve(doc, object)?.as_dict().ok()
}

/// Checks one signature dictionary against the file it is in.
/// Verifies one signature; `existed_by` is a time a later time-stamp proves it existed by.
fn verify_signature(
    pdf: &[u8],
    field_name: String,
    sig: &Dictionary,
    anchors: &TrustAnchors,
    encrypted: bool,
    existed_by: Option<OffsetDateTime>,
) -> SignatureReport {
    let mut problems = Vec::new();
    let sub_filter = sig
        .get(b"SubFilter")
        .ok()
        .and_then(|o| o.as_name().ok())
        .map(|n| String::from_utf8_lossy(n).into_owned());
    let byte_range: Vec<i64> = sig
        .get(b"ByteRange")
        .ok()
        .and_then(|o| o.as_array().ok())
        .and_then(|a| a.iter().map(|n| n.as_i64().ok()).collect())
        .unwrap_or_default();
    let ranges = signed_ranges(&byte_range, pdf.len());
    let parts: Option<Vec<&[u8]>> = match &ranges {
        Ok(ranges) => ranges.iter().map(|r| pdf.get(r.clone())).collect(),
        Err(problem) => {
            problems.push(problem.clone());
            None
        }
    };

    // The claimed signing time as signed: a later update may give the dictionary another /M.
    let current_m = sig
        .get(b"M")
        .ok()
        .and_then(|o| o.as_str().ok())
        .map(|m| String::from_utf8_lossy(m).into_owned());
    // (In an encrypted file the string is encrypted in the bytes: the parser's is used.)
    let raw_m = match ranges.as_deref() {
        Ok([first, second]) if !encrypted => {
            let signed = signed_m(pdf, first.end, second.start);
            if signed.is_some() && current_m.is_some() && signed != current_m {
                problems.push(format!(
                    "the signing time was changed after signing, to {}",
                    current_m.as_deref().unwrap_or_default()
                ));
            }
            signed.or(current_m)
        }
        _ => current_m,
    };
    let claimed_time = raw_m.as_deref().and_then(parse_pdf_date);
    let signing_time = claimed_time.map(rfc3339).or(raw_m);

    // In an encrypted file the parser has "decrypted" /Contents, which is never encrypted
    // (ISO 32000-2 §7.6.2): read it from the file, where the ByteRange gap holds it as hex.
    let gap_contents = match (&ranges, encrypted) {
        (Ok(ranges), true) => match ranges.as_slice() {
            [first, second] => pdf.get(first.end..second.start).and_then(hex_string),
            _ => None,
        },
        _ => None,
    };
    let contents = match &gap_contents {
        Some(bytes) => Some(bytes.as_slice()),
        None => sig.get(b"Contents").ok().and_then(|o| o.as_str().ok()),
    };
    let kind = if sub_filter.as_deref() == Some("ETSI.RFC3161")
        || sig.get(b"Type").and_then(|t| t.as_name()).ok() == Some(b"DocTimeStamp")
    {
        SignatureKind::DocumentTimestamp
    } else {
        SignatureKind::Signature
    };
    let cms = match contents {
        Some(contents) => verify_cms(contents, parts.as_deref(), anchors, existed_by),
        None => CmsReport {
            problems: vec!["the signature dictionary has no /Contents string".into()],
            ..CmsReport::default()
        },
    };
    problems.extend(cms.problems);
    // A valid document time-stamp proves the revision it covers existed at its own time.
    let proven_time = match kind {
        SignatureKind::DocumentTimestamp
            if cms.digest_matches && cms.signature_valid && cms.chain_trusted =>
        {
            cms.token_time
        }
        _ => cms.proven_time,
    };

    let mut byte_range_well_formed = false;
    let mut bytes_after = None;
    if let Ok(ranges) = &ranges {
        let end = ranges.last().map_or(0, |r| r.end);
        let after = pdf.len().saturating_sub(end);
        bytes_after = u64::try_from(after).ok();
        if let [first, second] = ranges.as_slice() {
            let gap_ok = contents
                .zip(pdf.get(first.end..second.start))
                .is_some_and(|(contents, gap)| gap_is_hex_of(gap, contents));
            if first.start != 0 {
                problems
                    .push("the signed range does not start at the beginning of the file".into());
            }
            if !gap_ok {
                problems.push(
                    "the gap in /ByteRange is not exactly this signature's /Contents hex string"
                        .into(),
                );
            }
            if after > 0 {
                problems.push(format!(
                    "{after} bytes after the signed range are not covered by this signature"
                ));
            }
            byte_range_well_formed = first.start == 0 && gap_ok;
        } else {
            problems.push(format!(
                "/ByteRange has {} ranges; a PDF signature has exactly two",
                ranges.len()
            ));
        }
    }

    SignatureReport {
        field_name,
        kind,
        verdict: Verdict::Broken,
        indication: Indication::TotalFailed,
        sub_indication: None,
        sub_filter,
        signing_time,
        signer: cms.signer,
        byte_range,
        digest_matches: cms.digest_matches,
        signature_valid: cms.signature_valid,
        digest_algorithm: cms.digest_algorithm,
        signature_algorithm: cms.signature_algorithm,
        chain_trusted: cms.chain_trusted,
        trust_anchor_subject: cms.trust_anchor_subject,
        timestamp: cms.timestamp,
        proven_time: proven_time.map(rfc3339),
        revoked_at: cms.revoked_at,
        revoked: cms.revoked,
        byte_range_well_formed,
        covers_whole_file: byte_range_well_formed && bytes_after == Some(0),
        bytes_after,
        modification_level: ChangeKind::None,
        modifications: Vec::new(),
        problems,
        out_of_bounds: cms.out_of_bounds,
        weak_algorithm: cms.weak_algorithm,
    }
}

/// The `/M` string of the signature dictionary as it was signed: the one written in the object
/// around the `/Contents` gap (`gap_start..gap_end`), between the `endobj` before it and the
/// one after. Hand-written, as lopdf parses no fragment of a file: a literal string (escapes
/// decoded; a date holds no parentheses, so it runs to the first unescaped `)`) or a hex one.
fn signed_m(pdf: &[u8], gap_start: usize, gap_end: usize) -> Option<String> {
    let before = pdf.get(..gap_start)?;
    let start = before
        .windows(6)
        .rposition(|w| w == b"endobj")
        .map_or(0, |at| at + 6);
    let after = pdf.get(gap_end..)?;
    let end = gap_end + after.windows(6).position(|w| w == b"endobj")?;
    [&pdf[start..gap_start], &pdf[gap_end..end]]
        .into_iter()
        .find_map(|span| {
            let mut from = 0;
            while let Some(at) = span[from..].windows(2).position(|w| w == b"/M") {
                let rest = &span[from + at + 2..];
                from += at + 2;
                let value = rest.trim_ascii_start();
                let bytes = match value.first() {
                    Some(b'(') => literal_string(&value[1..])?,
                    Some(b'<') => {
                        let close = value.iter().position(|&b| b == b'>')?;
                        hex_string(&value[..=close])?
                    }
                    _ => continue,
                };
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            None
        })
}

/// The bytes of a literal string whose `(` came just before `text`, up to its closing `)`,
/// escapes decoded (ISO 32000-1 §7.3.4.2); `None` if it does not close.
fn literal_string(text: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut rest = text.iter().copied().peekable();
    while let Some(byte) = rest.next() {
        match byte {
            b')' => return Some(bytes),
            b'\\' => match rest.next()? {
                b'n' => bytes.push(b'\n'),
                b'r' => bytes.push(b'\r'),
                b't' => bytes.push(b'\t'),
                b'b' => bytes.push(0x08),
                b'f' => bytes.push(0x0c),
                b'\r' | b'\n' => {}
                digit @ b'0'..=b'7' => {
                    let mut value = u32::from(digit - b'0');
                    for _ in 0..2 {
                        match rest.peek() {
                            Some(&next @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(next - b'0');
                                rest.next();
                            }
                            _ => break,
                        }
                    }
                    bytes.push(u8::try_from(value & 0xff).ok()?);
                }
                other => bytes.push(other),
            },
            other => bytes.push(other),
        }
    }
    None
}

/// The bytes of a `<hex>` string (padding zeros included).
fn hex_string(gap: &[u8]) -> Option<Vec<u8>> {
    let hex = gap.strip_prefix(b"<")?.strip_suffix(b">")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks_exact(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Turns `/ByteRange` `[start len start len …]` into ranges that are inside the file, in
/// order and non-overlapping (the numbers come from the file, which may be hostile).
fn signed_ranges(byte_range: &[i64], file_len: usize) -> Result<Vec<Range<usize>>, String> {
    let bad = |why: &str| format!("/ByteRange {byte_range:?} is unusable: {why}");
    if byte_range.is_empty() || !byte_range.len().is_multiple_of(2) {
        return Err(bad("missing, or not pairs of integers"));
    }
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(byte_range.len() / 2);
    for pair in byte_range.chunks_exact(2) {
        let (Some(start), Some(len)) = (
            pair.first().and_then(|&n| usize::try_from(n).ok()),
            pair.get(1).and_then(|&n| usize::try_from(n).ok()),
        ) else {
            return Err(bad("negative numbers"));
        };
        let end = start
            .checked_add(len)
            .filter(|&end| end <= file_len)
            .ok_or_else(|| bad("it reaches past the end of the file"))?;
        if ranges.last().is_some_and(|prev| start < prev.end) {
            return Err(bad("its ranges overlap or are out of order"));
        }
        ranges.push(start..end);
    }
    Ok(ranges)
}

/// The gap is `<`, the hex digits of `contents`, `>` and nothing else.
fn gap_is_hex_of(gap: &[u8], contents: &[u8]) -> bool {
    let Some(hex) = gap.strip_prefix(b"<").and_then(|g| g.strip_suffix(b">")) else {
        return false;
    };
    let digit = |c: &u8| char::from(*c).to_digit(16);
    let byte_of = |pair: &[u8]| match pair {
        [hi, lo] => Some(digit(hi)? * 16 + digit(lo)?),
        _ => None,
    };
    hex.len() == contents.len() * 2
        && hex
            .chunks_exact(2)
            .zip(contents)
            .all(|(pair, &byte)| byte_of(pair) == Some(u32::from(byte)))
}

/// Verifies a detached CMS `SignedData` (`cms_der`; trailing zero padding is ignored) over the
/// concatenation of `signed_parts`, and its signer's chain to `anchors`: at the time its valid
/// signature time-stamp proves, else at `existed_by` (a time something else proves the
/// signature existed by), else now.
pub fn verify_cms_detached(
    cms_der: &[u8],
    signed_parts: &[&[u8]],
    anchors: &TrustAnchors,
    existed_by: Option<OffsetDateTime>,
) -> CmsReport {
    verify_cms(cms_der, Some(signed_parts), anchors, existed_by)
}

/// [`verify_cms_detached`], with `parts` None when the PDF's byte ranges are unusable.
fn verify_cms(
    cms_der: &[u8],
    parts: Option<&[&[u8]]>,
    anchors: &TrustAnchors,
    existed_by: Option<OffsetDateTime>,
) -> CmsReport {
    let mut report = CmsReport::default();
    if let Err(problem) = check_cms(cms_der, parts, anchors, existed_by, &mut report) {
        report.problems.push(problem);
    }
    report
}

/// Fills `report`; an `Err` is the problem that stopped the checks early.
fn check_cms(
    cms_der: &[u8],
    parts: Option<&[&[u8]]>,
    anchors: &TrustAnchors,
    existed_by: Option<OffsetDateTime>,
    report: &mut CmsReport,
) -> Result<(), String> {
    let der = der_prefix(cms_der).ok_or("the signature is not DER")?;
    let content_info =
        ContentInfo::from_der(der).map_err(|e| format!("unreadable CMS ContentInfo: {e}"))?;
    if content_info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(format!(
            "the CMS content type is {}, not SignedData",
            content_info.content_type
        ));
    }
    let signed_data: SignedData = content_info
        .content
        .decode_as()
        .map_err(|e| format!("unreadable CMS SignedData: {e}"))?;
    let [signer_info] = signed_data.signer_infos.0.as_slice() else {
        return Err(format!(
            "the CMS has {} SignerInfos; a PDF signature has one",
            signed_data.signer_infos.0.len()
        ));
    };
    let certs: Vec<&Certificate> = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None, // not X.509
        })
        .collect();
    let signer = certs
        .iter()
        .copied()
        .find(|c| identifies(&signer_info.sid, c))
        .ok_or("the CMS does not contain the signer's certificate")?;
    let signer_der = signer
        .to_der()
        .map_err(|e| format!("signer certificate: {e}"))?;
    let certs_der: Vec<Vec<u8>> = certs.iter().filter_map(|c| c.to_der().ok()).collect();
    let pool: Vec<X509Certificate> = certs_der
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let (_, signer_x509) = X509Certificate::from_der(&signer_der)
        .map_err(|e| format!("unreadable signer certificate: {e}"))?;
    report.signer = Some(summary(&signer_x509));

    // A timestamp token (document timestamp) encapsulates a TSTInfo; a signature is detached.
    // A time-stamp token encapsulates its TSTInfo; an adbe.pkcs7.sha1 signature the SHA-1
    // digest of the signed bytes (as id-data); any other PDF signature is detached.
    let econtent_type = signed_data.encap_content_info.econtent_type;
    let econtent = match &signed_data.encap_content_info.econtent {
        None => None,
        Some(e) if econtent_type == ID_CT_TST_INFO || econtent_type == rfc5911::ID_DATA => Some(
            e.decode_as::<OctetString>()
                .map_err(|e| format!("unreadable encapsulated content: {e}"))?
                .into_bytes(),
        ),
        Some(_) => {
            return Err(format!(
                "the CMS encapsulates content of type {econtent_type}; a PDF signature is detached or carries the SHA-1 digest of the signed bytes"
            ))
        }
    };
    let encapsulated_digest = econtent
        .as_deref()
        .filter(|_| econtent_type == rfc5911::ID_DATA);
    let tst = econtent
        .as_deref()
        .filter(|_| econtent_type == ID_CT_TST_INFO)
        .map(tst_info)
        .transpose()?;
    report.token_time = tst.as_ref().and_then(|(_, time)| *time);
    let attrs = signer_info.signed_attrs.as_ref();

    // A valid signature time-stamp proves when the signature existed: the chain is judged then.
    report.timestamp = signature_timestamp(signer_info, anchors, &mut report.problems);
    let proven_time = report
        .timestamp
        .as_ref()
        .filter(|t| t.valid)
        .and_then(|t| t.time.as_deref())
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());

    // The chain is judged when the signature is proven to have existed, else now: the
    // signing time the signer claims proves nothing.
    let proof = proven_time.or(existed_by);
    report.proven_time = proof;
    let at = proof.unwrap_or_else(OffsetDateTime::now_utc);
    let roots: Vec<X509Certificate> = anchors
        .roots
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    match chain_to_anchor(&signer_x509, &pool, &roots, at) {
        Ok(anchor) => {
            report.chain_trusted = true;
            report.trust_anchor_subject = Some(anchor);
        }
        Err(problem) => {
            let validity = signer_x509.validity();
            let (from, to) = (
                validity.not_before.to_datetime(),
                validity.not_after.to_datetime(),
            );
            let within = from + (to - from) / 2;
            report.out_of_bounds = (at < from || at > to)
                && chain_to_anchor(&signer_x509, &pool, &roots, within).is_ok();
            report.problems.push(problem);
        }
    }
    if let Some(revoked_at) = anchors.revoked_at(&signer_x509) {
        report.revoked_at = Some(rfc3339(revoked_at));
        if proof.is_none_or(|proven| proven >= revoked_at) {
            report.revoked = true;
            report.problems.push(format!(
                "the signer certificate was revoked at {}, and no time-stamp proves the signature older",
                rfc3339(revoked_at)
            ));
        }
    }

    // what was signed: the timestamp's own TSTInfo, or (detached) the PDF's byte ranges
    report.signature_algorithm = Some(
        const_oid::db::DB
            .by_oid(&signer_info.signature_algorithm.oid)
            .map_or_else(
                || signer_info.signature_algorithm.oid.to_string(),
                str::to_string,
            ),
    );
    let hash = digest_algorithm(&signer_info.digest_alg.oid).ok_or_else(|| {
        format!(
            "unsupported digest algorithm {}",
            signer_info.digest_alg.oid
        )
    })?;
    report.digest_algorithm = Some(digest_name(hash).into());
    if hash == &digest::SHA1_FOR_LEGACY_USE_ONLY || encapsulated_digest.is_some() {
        report.weak_algorithm = true;
        report.problems.push(
            "the signature uses SHA-1, which is too weak to rely on: however correct, it does not make the document valid"
                .into(),
        );
    }
    let covered: Option<Vec<&[u8]>> = match &econtent {
        Some(content) => Some(vec![content.as_slice()]),
        None => parts.map(<[&[u8]]>::to_vec),
    };
    let mut attrs_ok = true;
    let message = match attrs {
        Some(attrs) => {
            let digest_ok = attribute(attrs, rfc5911::ID_MESSAGE_DIGEST)
                .and_then(|md| md.decode_as::<OctetString>().ok())
                .map(|md| {
                    covered
                        .as_deref()
                        .is_some_and(|c| digest_parts(hash, c).as_ref() == md.as_bytes())
                });
            match (digest_ok, &tst) {
                (None, _) => {
                    attrs_ok = false;
                    report
                        .problems
                        .push("the signed attributes have no message-digest".into());
                }
                (Some(false), Some(_)) => {
                    attrs_ok = false;
                    report.problems.push(
                        "the timestamp token's message digest does not match its TSTInfo".into(),
                    );
                }
                (Some(ok), None) => {
                    report.digest_matches = ok;
                    if !ok && covered.is_some() {
                        report
                            .problems
                            .push("the signed bytes do not match the CMS message digest".into());
                    }
                }
                (Some(true), Some(_)) => {}
            }
            let content_type = signed_data.encap_content_info.econtent_type;
            attrs_ok &= other_attrs_ok(attrs, content_type, &signer_der, &mut report.problems);
            // The signature covers the attributes' DER as a SET OF (RFC 5652 §5.4). They are
            // re-encoded from the parsed set, which is sorted: like OpenSSL, this rejects
            // signers that wrote them out of DER order.
            Some(
                attrs
                    .to_der()
                    .map_err(|e| format!("signed attributes: {e}"))?,
            )
        }
        // without signed attributes the signature is over the content itself
        None => covered.as_deref().map(<[&[u8]]>::concat),
    };
    let crypto_ok = match message {
        Some(message) => signature_verifies(signer, signer_info, &message),
        None => Err("the signed bytes are unavailable, so the signature cannot be checked".into()),
    };
    match crypto_ok {
        Ok(true) => report.signature_valid = attrs_ok,
        Ok(false) => report
            .problems
            .push("the signature does not verify with the signer's public key".into()),
        Err(problem) => report.problems.push(problem),
    }
    if attrs.is_none() && tst.is_none() {
        // the signature itself is the only binding to the content
        report.digest_matches = report.signature_valid;
    }
    if let Some(digest) = encapsulated_digest {
        // adbe.pkcs7.sha1: what was signed is the digest; it must be the signed bytes' digest.
        let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
        let bytes_ok = parts.is_some_and(|parts| digest_parts(sha1, parts).as_ref() == digest);
        if !bytes_ok && parts.is_some() {
            report.problems.push(
                "the signed bytes do not match the SHA-1 digest the signature carries".into(),
            );
        }
        report.digest_matches &= bytes_ok;
    }
    if let Some((imprint, _)) = tst {
        let alg = digest_algorithm(&imprint.hash_algorithm.oid);
        report.digest_matches = alg.zip(parts).is_some_and(|(alg, parts)| {
            digest_parts(alg, parts).as_ref() == imprint.hashed_message.as_bytes()
        });
        if !report.digest_matches && parts.is_some() {
            report
                .problems
                .push("the signed bytes do not match the timestamp's message imprint".into());
        }
    }
    Ok(())
}

/// The signature time-stamp token in `signer_info`'s unsigned attributes, checked as a CMS
/// signature over the signature value by an authority with extendedKeyUsage timeStamping.
fn signature_timestamp(
    signer_info: &SignerInfo,
    anchors: &TrustAnchors,
    problems: &mut Vec<String>,
) -> Option<TimestampReport> {
    let token = signer_info
        .unsigned_attrs
        .as_ref()
        .and_then(|attrs| attribute(attrs, ID_AA_SIGNATURE_TIME_STAMP_TOKEN))?;
    let Ok(token) = token.to_der() else {
        problems.push("the signature time-stamp token cannot be read".into());
        return None;
    };
    let checked = verify_cms(
        &token,
        Some(&[signer_info.signature.as_bytes()]),
        anchors,
        None,
    );
    let Some(time) = read_token_time(&token) else {
        problems.push(format!(
            "the signature time-stamp cannot be checked, so the signature is judged now: {}",
            checked.problems.join("; ")
        ));
        return Some(TimestampReport {
            time: None,
            authority: None,
            checked: false,
            valid: false,
        });
    };
    let authority_stamps = checked
        .signer
        .as_ref()
        .and_then(|signer| X509Certificate::from_der(&signer.der).ok())
        .is_some_and(|(_, cert)| {
            cert.extended_key_usage()
                .ok()
                .flatten()
                .is_some_and(|eku| eku.value.time_stamping)
        });
    let valid = checked.digest_matches
        && checked.signature_valid
        && checked.chain_trusted
        && authority_stamps;
    if !valid {
        let why = if checked.problems.is_empty() && !authority_stamps {
            vec!["its signer is not a time-stamping authority".to_string()]
        } else {
            checked.problems
        };
        problems.push(format!(
            "the signature time-stamp is not valid: {}",
            why.join("; ")
        ));
    }
    Some(TimestampReport {
        time: Some(rfc3339(time)),
        authority: checked.signer.map(|s| s.subject),
        checked: true,
        valid,
    })
}

/// The `genTime` of a DER time-stamp token.
fn read_token_time(token: &[u8]) -> Option<OffsetDateTime> {
    let content_info = ContentInfo::from_der(token).ok()?;
    let signed_data: SignedData = content_info.content.decode_as().ok()?;
    let content = signed_data
        .encap_content_info
        .econtent?
        .decode_as::<OctetString>()
        .ok()?;
    tst_info(content.as_bytes()).ok()?.1
}

/// Checks content-type and (if present) signing-certificate-v2, pushing what is wrong.
fn other_attrs_ok(
    attrs: &Attributes,
    content_type: ObjectIdentifier,
    signer_der: &[u8],
    problems: &mut Vec<String>,
) -> bool {
    let mut ok = true;
    let declared = attribute(attrs, rfc5911::ID_CONTENT_TYPE)
        .and_then(|ct| ct.decode_as::<ObjectIdentifier>().ok());
    if declared != Some(content_type) {
        ok = false;
        problems.push("the content-type attribute is missing or does not match the content".into());
    }
    if let Some(ess) = attribute(attrs, rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2) {
        if !ess_names_signer(ess, signer_der) {
            ok = false;
            problems.push(
                "the signing-certificate-v2 attribute does not identify the signer certificate"
                    .into(),
            );
        }
    }
    ok
}

/// Whether the SignerInfo's signature over `message` verifies with the signer's key; `Err` if
/// the algorithm is not one we support.
fn signature_verifies(
    signer: &Certificate,
    signer_info: &SignerInfo,
    message: &[u8],
) -> Result<bool, String> {
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let alg = verifier(
        spki,
        &signer_info.signature_algorithm,
        &signer_info.digest_alg.oid,
    )?;
    Ok(
        UnparsedPublicKey::new(alg, spki.subject_public_key.raw_bytes())
            .verify(message, signer_info.signature.as_bytes())
            .is_ok(),
    )
}

/// The message imprint and (if it parses) the time of an RFC 3161 TSTInfo. Read field by field
/// rather than as `x509_tsp::TstInfo`, whose `GeneralizedTime` refuses the fractional seconds
/// some authorities write.
fn tst_info(der: &[u8]) -> Result<(MessageImprint, Option<OffsetDateTime>), String> {
    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, ... }
    let fields = <Vec<Any> as Decode>::from_der(der)
        .map_err(|e| format!("unreadable timestamp TSTInfo: {e}"))?;
    let imprint = fields
        .get(2)
        .and_then(|f| f.decode_as::<MessageImprint>().ok())
        .ok_or("the timestamp TSTInfo has no message imprint")?;
    // genTime may have fractional seconds, which der's GeneralizedTime rejects: read YYYYMMDDHHMMSS
    let gen_time = fields.get(4).and_then(|t| {
        let digits = std::str::from_utf8(t.value().get(..14)?).ok()?;
        let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
        Some(PrimitiveDateTime::parse(digits, format).ok()?.assume_utc())
    });
    Ok((imprint, gen_time))
}

/// The DER element at the start of `bytes` (a PDF pads `/Contents` after it), found from its
/// length header rather than by stripping zeros, since DER may itself end in 0x00.
fn der_prefix(bytes: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(bytes).ok()?;
    let header = Header::decode(&mut reader).ok()?;
    let len = usize::try_from((reader.position() + header.length).ok()?).ok()?;
    bytes.get(..len)
}

fn identifies(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            ias.issuer == cert.tbs_certificate.issuer
                && ias.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => cert
            .tbs_certificate
            .get::<SubjectKeyIdentifier>()
            .ok()
            .flatten()
            .is_some_and(|(_, own)| own == *ski),
    }
}

/// The single value of the attribute `oid`, if it occurs with exactly one value.
fn attribute(attrs: &Attributes, oid: ObjectIdentifier) -> Option<&Any> {
    let attr = attrs.iter().find(|a| a.oid == oid)?;
    match attr.values.as_slice() {
        [value] => Some(value),
        _ => None,
    }
}

/// The first ESSCertIDv2 of a signing-certificate-v2 value hashes to the signer certificate.
fn ess_names_signer(value: &Any, signer_der: &[u8]) -> bool {
    let Ok(ess) = value.decode_as::<SigningCertificateV2>() else {
        return false;
    };
    ess.certs.first().is_some_and(|id| {
        let oid = id
            .hash_algorithm
            .as_ref()
            .map_or(rfc5912::ID_SHA_256, |a| a.oid);
        digest_algorithm(&oid)
            .is_some_and(|alg| digest::digest(alg, signer_der).as_ref() == id.cert_hash.as_bytes())
    })
}

fn digest_algorithm(oid: &ObjectIdentifier) -> Option<&'static digest::Algorithm> {
    [
        (rfc5912::ID_SHA_1, &digest::SHA1_FOR_LEGACY_USE_ONLY),
        (rfc5912::ID_SHA_256, &digest::SHA256),
        (rfc5912::ID_SHA_384, &digest::SHA384),
        (rfc5912::ID_SHA_512, &digest::SHA512),
    ]
    .into_iter()
    .find_map(|(id, alg)| (id == *oid).then_some(alg))
}

fn digest_name(alg: &'static digest::Algorithm) -> &'static str {
    if alg == &digest::SHA1_FOR_LEGACY_USE_ONLY {
        "SHA-1"
    } else if alg == &digest::SHA384 {
        "SHA-384"
    } else if alg == &digest::SHA512 {
        "SHA-512"
    } else {
        "SHA-256"
    }
}

fn digest_parts(alg: &'static digest::Algorithm, parts: &[&[u8]]) -> digest::Digest {
    let mut ctx = digest::Context::new(alg);
    for part in parts {
        ctx.update(part);
    }
    ctx.finish()
}

/// The ring algorithm for a signer key and a CMS signatureAlgorithm. CMS often names just the
/// key type (rsaEncryption, id-ecPublicKey); then the hash is the SignerInfo's digest algorithm.
fn verifier(
    spki: &SubjectPublicKeyInfoOwned,
    signature_alg: &AlgorithmIdentifierOwned,
    digest_alg: &ObjectIdentifier,
) -> Result<&'static dyn VerificationAlgorithm, String> {
    use rfc5912::{
        ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ID_EC_PUBLIC_KEY, ID_SHA_1, ID_SHA_256, ID_SHA_384,
        ID_SHA_512, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1, SHA_1_WITH_RSA_ENCRYPTION,
        SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
    };
    let (sig, key) = (signature_alg.oid, spki.algorithm.oid);
    // (signature algorithm, key algorithm) -> hash
    let hash = [
        (SHA_1_WITH_RSA_ENCRYPTION, RSA_ENCRYPTION, ID_SHA_1),
        (SHA_256_WITH_RSA_ENCRYPTION, RSA_ENCRYPTION, ID_SHA_256),
        (SHA_384_WITH_RSA_ENCRYPTION, RSA_ENCRYPTION, ID_SHA_384),
        (SHA_512_WITH_RSA_ENCRYPTION, RSA_ENCRYPTION, ID_SHA_512),
        (RSA_ENCRYPTION, RSA_ENCRYPTION, *digest_alg),
        (ECDSA_WITH_SHA_256, ID_EC_PUBLIC_KEY, ID_SHA_256),
        (ECDSA_WITH_SHA_384, ID_EC_PUBLIC_KEY, ID_SHA_384),
        (ID_EC_PUBLIC_KEY, ID_EC_PUBLIC_KEY, *digest_alg),
    ]
    .into_iter()
    .find_map(|(s, k, hash)| (s == sig && k == key).then_some(hash));
    // RSA keys are one kind; EC keys are told apart by their named curve
    let kind = if key == ID_EC_PUBLIC_KEY {
        spki.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    } else {
        Some(key)
    };
    let algorithms: [(
        ObjectIdentifier,
        ObjectIdentifier,
        &'static dyn VerificationAlgorithm,
    ); 8] = [
        (
            RSA_ENCRYPTION,
            ID_SHA_1,
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        (
            RSA_ENCRYPTION,
            ID_SHA_256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
        ),
        (
            RSA_ENCRYPTION,
            ID_SHA_384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
        ),
        (
            RSA_ENCRYPTION,
            ID_SHA_512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
        ),
        (SECP_256_R_1, ID_SHA_256, &signature::ECDSA_P256_SHA256_ASN1),
        (SECP_256_R_1, ID_SHA_384, &signature::ECDSA_P256_SHA384_ASN1),
        (SECP_384_R_1, ID_SHA_256, &signature::ECDSA_P384_SHA256_ASN1),
        (SECP_384_R_1, ID_SHA_384, &signature::ECDSA_P384_SHA384_ASN1),
    ];
    hash.zip(kind)
        .and_then(|(hash, kind)| {
            algorithms
                .into_iter()
                .find_map(|(k, h, alg)| (k == kind && h == hash).then_some(alg))
        })
        .ok_or_else(|| {
            format!("unsupported signature algorithm {sig} (digest {digest_alg}) for a {key} key")
        })
}

fn summary(cert: &X509Certificate) -> CertSummary {
    let serial = cert.raw_serial();
    // drop the sign octet DER adds before a high first byte
    let serial = match serial {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
        _ => serial,
    };
    CertSummary {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial_hex: hex::encode(serial),
        not_before: rfc3339(cert.validity().not_before.to_datetime()),
        not_after: rfc3339(cert.validity().not_after.to_datetime()),
        der: cert.as_raw().to_vec(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Parses a PDF date `D:YYYYMMDDHHmmSSOHH'mm'` (everything after the year optional).
fn parse_pdf_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, zone) = s.split_at(digits_end);
    if digits.len() < 4 || digits.len() > 14 || digits.len() % 2 != 0 {
        return None;
    }
    let field = |range: Range<usize>, default: u8| match digits.get(range) {
        Some(d) => d.parse::<u8>().ok(),
        None => Some(default),
    };
    let year: i32 = digits.get(..4)?.parse().ok()?;
    let date = Date::from_calendar_date(
        year,
        Month::try_from(field(4..6, 1)?).ok()?,
        field(6..8, 1)?,
    )
    .ok()?;
    let time = Time::from_hms(field(8..10, 0)?, field(10..12, 0)?, field(12..14, 0)?).ok()?;
    let offset = match zone.chars().next() {
        None | Some('Z') => UtcOffset::UTC,
        Some(sign @ ('+' | '-')) => {
            let nums: Vec<&str> = zone
                .get(1..)?
                .split('\'')
                .filter(|p| !p.is_empty())
                .collect();
            let hours: i8 = nums.first()?.parse().ok()?;
            let minutes: i8 = nums.get(1).map_or(Some(0), |m| m.parse().ok())?;
            let sign = if sign == '-' { -1 } else { 1 };
            UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?
        }
        Some(_) => return None,
    };
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::super::sign::testing::TestPki;
    use super::*;
    use crate::test_needs::corpus;

    /// The certificates a PDF's signatures carry.
    fn embedded_certificates(pdf: &[u8]) -> Vec<Certificate> {
        let doc = Document::load_mem(pdf).unwrap();
        let mut certs = Vec::new();
        for (_, sig) in signature_fields(&doc) {
            let contents = sig.get(b"Contents").unwrap().as_str().unwrap();
            let ci = ContentInfo::from_der(der_prefix(contents).unwrap()).unwrap();
            let sd: SignedData = ci.content.decode_as().unwrap();
            for choice in sd.certificates.unwrap().0.iter() {
                if let CertificateChoices::Certificate(c) = choice {
                    certs.push(c.clone());
                }
            }
        }
        certs
    }

    /// The self-signed certificates a PDF's signatures carry (to use one as the anchor).
    fn embedded_roots(pdf: &[u8]) -> Vec<Vec<u8>> {
        let mut roots: Vec<Vec<u8>> = embedded_certificates(pdf)
            .into_iter()
            .filter(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
            .map(|c| c.to_der().unwrap())
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    fn signer_certificate(pdf: &[u8]) -> Vec<u8> {
        let [cert] = embedded_certificates(pdf).try_into().unwrap();
        cert.to_der().unwrap()
    }

    #[test]
    fn our_cades_signature_round_trips() {
        let pki = TestPki::new();
        let data = b"%PDF-1.7 first part|second part %%EOF";
        let (head, tail) = data.split_at(12);
        let cms = pki.sign(data);
        let anchors = TrustAnchors::new(vec![pki.root_der.clone()]);

        // PDF /Contents pads the DER with zeros: that must not matter
        let padded = [cms.as_slice(), &[0; 100]].concat();
        let report = verify_cms_detached(&padded, &[head, tail], &anchors, None);
        assert!(report.digest_matches, "{:?}", report.problems);
        assert!(report.signature_valid, "{:?}", report.problems);
        assert!(report.chain_trusted, "{:?}", report.problems);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(
            report.trust_anchor_subject.as_deref(),
            Some("CN=Zhengyin Test Seal Root")
        );
        let signer = report.signer.unwrap();
        assert_eq!(signer.subject, "CN=测试局 电子印章 (test)");
        assert_eq!(signer.issuer, "CN=Zhengyin Test Seal Root");

        // other bytes than were signed: the signature itself still verifies, the digest not
        let report = verify_cms_detached(&cms, &[head, b"second part %%EOF!"], &anchors, None);
        assert!(!report.digest_matches);
        assert!(report.signature_valid);
        assert!(report
            .problems
            .iter()
            .any(|p| p.contains("do not match the CMS message digest")));

        // another department's root does not make it trusted
        let stranger = TrustAnchors::new(vec![TestPki::new().root_der]);
        let report = verify_cms_detached(&cms, &[head, tail], &stranger, None);
        assert!(report.digest_matches && report.signature_valid && !report.chain_trusted);
        assert!(report.trust_anchor_subject.is_none());

        // before the certificates existed, the chain is not valid
        let long_ago = time::macros::datetime!(1970-01-02 0:00 UTC);
        let report = verify_cms_detached(&cms, &[head, tail], &anchors, Some(long_ago));
        assert!(!report.chain_trusted);
        assert!(report.problems.iter().any(|p| p.contains("not valid at")));

        // a flipped bit in the signature value
        let mut broken = cms.clone();
        let last = broken.len() - 3;
        broken[last] ^= 1;
        let report = verify_cms_detached(&broken, &[head, tail], &anchors, None);
        assert!(!report.signature_valid);

        let report = verify_cms_detached(b"\x30\x03junk", &[head, tail], &anchors, None);
        assert!(report.signer.is_none() && !report.digest_matches && !report.problems.is_empty());
    }

    #[test]
    fn qualified_2011_rsa_signature_is_intact_and_chains_only_at_a_proven_time() {
        let Some(pdf) = corpus("pdfjs-signed-qualified-2011.pdf") else {
            return;
        };
        let report = verify_pdf(&pdf, &TrustAnchors::default(), None).unwrap();
        let [sig] = report.signatures.as_slice() else {
            panic!("{report:?}")
        };
        assert_eq!(sig.sub_filter.as_deref(), Some("adbe.pkcs7.detached"));
        assert_eq!(
            sig.signing_time.as_deref(),
            Some("2011-01-17T23:52:39+01:00")
        );
        assert!(sig.intact(), "{:?}", sig.problems);
        assert!(sig.covers_whole_file && sig.bytes_after == Some(0));
        assert!(!sig.chain_trusted);
        assert!(!report.all_valid_and_trusted());
        let signer = sig.signer.as_ref().unwrap();
        assert!(signer.subject.contains("Paul Frey"), "{}", signer.subject);

        // Anchored at the QuoVadis root it carries (root -> issuing CA -> signer, SHA-1 RSA).
        // The signer's certificate expired in 2013, and its signature time-stamp carries an
        // attribute certificate, which the cms crate cannot decode: set aside, and said so.
        // Nothing proves the signature older, so it is judged now: not trusted.
        let anchors = TrustAnchors::new(embedded_roots(&pdf));
        let report = verify_pdf(&pdf, &anchors, None).unwrap();
        let sig = &report.signatures[0];
        assert!(!sig.chain_trusted && sig.proven_time.is_none(), "{sig:?}");
        let timestamp = sig.timestamp.as_ref().unwrap();
        assert!(!timestamp.checked && !timestamp.valid);
        assert!(
            matches!(sig.problems.as_slice(), [stamp, now]
                if stamp.contains("time-stamp cannot be checked") && now.contains("not valid at")),
            "{:?}",
            sig.problems
        );
        assert_eq!(sig.verdict, Verdict::Untrusted);

        // Proven to exist at the time it claims, the same chain holds.
        let doc = Document::load_mem(&pdf).unwrap();
        let [(name, dict)] = signature_fields(&doc).try_into().unwrap();
        let claimed = time::macros::datetime!(2011-01-17 22:52:39 UTC);
        let proven = verify_signature(&pdf, name, dict, &anchors, false, Some(claimed));
        assert!(proven.chain_trusted, "{:?}", proven.problems);
        assert!(proven
            .trust_anchor_subject
            .as_deref()
            .unwrap()
            .contains("QuoVadis Root Certification Authority"));
    }

    #[test]
    fn a_sha1_signature_is_verified_then_judged_too_weak() {
        // OpenSSL signs with RSA over SHA-1, as older signers did.
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .current_dir(dir.path())
                .args(args)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=SHA-1 signer (test)",
            "-days",
            "2",
        ]);
        let data = b"the bytes a /ByteRange covers";
        std::fs::write(dir.path().join("data.bin"), data).unwrap();
        openssl(&[
            "cms", "-sign", "-binary", "-md", "sha1", "-in", "data.bin", "-signer", "cert.pem",
            "-inkey", "key.pem", "-outform", "DER", "-out", "sig.der",
        ]);
        let cms = std::fs::read(dir.path().join("sig.der")).unwrap();

        let report = verify_cms_detached(&cms, &[data], &TrustAnchors::default(), None);
        assert!(
            report.digest_matches && report.signature_valid,
            "{report:?}"
        );
        assert_eq!(report.digest_algorithm.as_deref(), Some("SHA-1"));
        assert!(report.weak_algorithm);
        assert!(
            report.problems.iter().any(|p| p.contains("SHA-1")),
            "{:?}",
            report.problems
        );

        // Mathematically wrong is still broken, not weak.
        let report = verify_cms_detached(&cms, &[b"other bytes"], &TrustAnchors::default(), None);
        assert!(!report.digest_matches);

        // adbe.pkcs7.sha1: the CMS encapsulates the SHA-1 digest of the signed bytes.
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
        std::fs::write(dir.path().join("digest.bin"), sha1.as_ref()).unwrap();
        openssl(&[
            "cms",
            "-sign",
            "-nodetach",
            "-binary",
            "-md",
            "sha256",
            "-in",
            "digest.bin",
            "-signer",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-outform",
            "DER",
            "-out",
            "p7.der",
        ]);
        let p7 = std::fs::read(dir.path().join("p7.der")).unwrap();
        let report = verify_cms_detached(&p7, &[data], &TrustAnchors::default(), None);
        assert!(
            report.digest_matches && report.signature_valid,
            "{report:?}"
        );
        assert!(report.weak_algorithm);
        let report = verify_cms_detached(&p7, &[b"other bytes"], &TrustAnchors::default(), None);
        assert!(
            !report.digest_matches && report.signature_valid,
            "{report:?}"
        );
        assert!(report
            .problems
            .iter()
            .any(|p| p.contains("do not match the SHA-1 digest")));
    }

    #[test]
    fn signed_verified_file_with_an_off_by_one_byte_range_is_rejected() {
        // MANIFEST calls it "digest mismatch" after pdfsig, which hashes with the SHA-1 listed
        // in SignedData.digestAlgorithms instead of the SignerInfo's SHA-256. Over the declared
        // ranges the SHA-256 digest and the RSA signature are fine (pyHanko: INTACT,
        // NONSTANDARD_COVERAGE); what is wrong is the ByteRange: its gap stops one byte short,
        // signing the closing `>` of /Contents. That must fail the file, even when trusted.
        let Some(pdf) = corpus("pdfjs-signed-digest-mismatch.pdf") else {
            return;
        };
        let report = verify_pdf(&pdf, &TrustAnchors::default(), None).unwrap();
        let [sig] = report.signatures.as_slice() else {
            panic!("{report:?}")
        };
        assert_eq!(sig.byte_range, [0, 644, 8836, 1416]);
        assert!(sig.intact(), "{:?}", sig.problems);
        assert!(!sig.byte_range_well_formed && !sig.covers_whole_file);
        assert_eq!(sig.bytes_after, Some(0));
        assert!(sig.problems.iter().any(|p| p.contains("gap in /ByteRange")));

        // the CMS carries only the signer certificate: anchoring on it makes it trusted,
        // and the file is still not valid
        let anchors = TrustAnchors::new(vec![signer_certificate(&pdf)]);
        let report = verify_pdf(&pdf, &anchors, None).unwrap();
        assert!(report.signatures[0].chain_trusted, "{report:?}");
        assert!(!report.all_valid_and_trusted());
    }

    #[test]
    fn pades_lta_file_has_a_signature_and_a_document_timestamp() {
        let Some(pdf) = corpus("pyhanko-pades-lta-dss.pdf") else {
            return;
        };
        let anchors = TrustAnchors::new(embedded_roots(&pdf));
        let report = verify_pdf(&pdf, &anchors, None).unwrap();
        let [sig, ts] = report.signatures.as_slice() else {
            panic!("{report:?}")
        };
        assert_eq!(sig.sub_filter.as_deref(), Some("ETSI.CAdES.detached"));
        assert_eq!(ts.sub_filter.as_deref(), Some("ETSI.RFC3161"));
        for s in [sig, ts] {
            assert!(s.intact(), "{}: {:?}", s.field_name, s.problems);
            assert!(s.chain_trusted, "{}: {:?}", s.field_name, s.problems);
        }
        assert!(sig.signer.as_ref().unwrap().subject.contains("CN=Alice"));
        assert!(ts
            .signer
            .as_ref()
            .unwrap()
            .subject
            .contains("Time Stamping Authority"));
        assert_eq!(
            sig.signing_time.as_deref(),
            Some("2020-11-01T01:00:00+01:00")
        );
        // the timestamp was added later, and a DSS update after it
        assert!(sig.byte_range_well_formed && ts.byte_range_well_formed);
        assert!(!sig.covers_whole_file && sig.bytes_after > ts.bytes_after);
        assert!(ts.bytes_after > Some(0));
        // what followed each was validation data only: both stay valid (as pyHanko says)
        assert_eq!(sig.kind, SignatureKind::Signature);
        assert_eq!(ts.kind, SignatureKind::DocumentTimestamp);
        assert_eq!(sig.modification_level, ChangeKind::SignatureOnly);
        assert_eq!(ts.modification_level, ChangeKind::SignatureOnly);
        assert_eq!(sig.modifications.len(), 2);
        assert!(report.all_valid_and_trusted(), "{report:#?}");
        assert_eq!(sig.digest_algorithm.as_deref(), Some("SHA-256"));

        let untrusted = verify_pdf(&pdf, &TrustAnchors::default(), None).unwrap();
        assert!(untrusted
            .signatures
            .iter()
            .all(|s| s.intact() && !s.chain_trusted));
    }

    #[test]
    fn hostile_byte_range_is_reported_not_sliced() {
        let Some(pdf) = corpus("pdfjs-signed-digest-mismatch.pdf") else {
            return;
        };
        let text = b"/ByteRange [0000000000 0000000644 0000008836 0000001416]";
        let at = pdf.windows(text.len()).position(|w| w == text).unwrap();
        for evil in [
            b"/ByteRange [0000000000 9999999999 0000008836 0000001416]",
            b"/ByteRange [0000000000 0000009000 0000008836 0000001416]",
            b"/ByteRange [-000000001 0000000644 0000008836 0000001416]",
        ] {
            let mut pdf = pdf.clone();
            pdf[at..at + text.len()].copy_from_slice(evil);
            let report = verify_pdf(&pdf, &TrustAnchors::default(), None).unwrap();
            let sig = &report.signatures[0];
            assert!(!sig.intact() && !sig.covers_whole_file && sig.bytes_after.is_none());
            assert!(
                sig.problems.iter().any(|p| p.contains("is unusable")),
                "{sig:?}"
            );
        }
    }

    #[test]
    fn files_that_cannot_be_verified_are_errors_and_unsigned_files_are_not() {
        let none = TrustAnchors::default();
        assert!(matches!(
            verify_pdf(b"hello", &none, None),
            Err(ValidateError::NotPdf)
        ));
        assert!(matches!(
            verify_pdf(b"%PDF-1.7\n1 0 obj <<", &none, None),
            Err(ValidateError::Unreadable(_))
        ));
        let Some(locked) = corpus("sf-libreoffice-password.pdf") else {
            return;
        };
        assert!(matches!(
            verify_pdf(&locked, &none, None),
            Err(ValidateError::Encrypted)
        ));
        assert!(matches!(
            verify_pdf(&locked, &none, Some("wrong")),
            Err(ValidateError::Encrypted)
        ));
        let opened = verify_pdf(&locked, &none, Some("openpassword")).unwrap();
        assert!(opened.signatures.is_empty());
        let Some(empty_password) = corpus("pypdf-enc-aes256-empty-userpw.pdf") else {
            return;
        };
        assert!(verify_pdf(&empty_password, &none, None)
            .unwrap()
            .signatures
            .is_empty());
        let Some(form) = corpus("sf-libreoffice-form.pdf") else {
            return;
        };
        let report = verify_pdf(&form, &none, None).unwrap();
        assert!(report.signatures.is_empty());
        assert!(!report.all_valid_and_trusted());
    }

    #[test]
    fn pdf_dates() {
        let t = |s| parse_pdf_date(s).map(rfc3339);
        assert_eq!(
            t("D:20110117235239+01'00'").as_deref(),
            Some("2011-01-17T23:52:39+01:00")
        );
        assert_eq!(
            t("D:20260509000000Z").as_deref(),
            Some("2026-05-09T00:00:00Z")
        );
        assert_eq!(
            t("D:20260509120000-05'30").as_deref(),
            Some("2026-05-09T12:00:00-05:30")
        );
        assert_eq!(t("D:2026").as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(t("20260509"), Some("2026-05-09T00:00:00Z".to_string()));
        assert_eq!(t("D:20261309"), None);
        assert_eq!(t("yesterday"), None);
    }
}
