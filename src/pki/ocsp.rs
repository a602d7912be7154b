//! The root's OCSP responder (RFC 6960): answers, for each certificate asked about, whether
//! the root revoked it. Responses are signed by the root itself (no delegated responder), so a
//! validator that trusts the root trusts them. The structures are RustCrypto's `x509-ocsp`;
//! the signing is ours because the root key is an rcgen key, which its builder does not take.

use const_oid::db::rfc5912;
use const_oid::AssociatedOid;
use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::{Decode, Encode};
use ring::digest::{self, Algorithm};
use time::{Duration, OffsetDateTime};
use x509_cert::ext::pkix::CrlReason;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_ocsp::ext::Nonce;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    ResponderId, ResponseData, RevokedInfo, SingleResponse, Version,
};

use super::{PkiError, Revocation, RootCa};

/// How long an answer is current.
const ANSWER_LIFETIME: Duration = Duration::hours(1);

/// Answers a DER `OCSPRequest` about certificates of `root`, given the revoked ones, at `now`:
/// a DER `OCSPResponse`, `malformedRequest` if the request does not parse.
pub fn respond(
    root: &RootCa,
    request: &[u8],
    revoked: &[Revocation],
    now: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    let encoding = |_| PkiError::Malformed("OCSP response encoding");
    let Ok(request) = OcspRequest::from_der(request) else {
        return OcspResponse::malformed_request().to_der().map_err(encoding);
    };
    let root_cert =
        Certificate::from_der(root.certificate_der()).map_err(|_| PkiError::Malformed("root"))?;
    let subject = root_cert
        .tbs_certificate
        .subject
        .to_der()
        .map_err(|_| PkiError::Malformed("root subject"))?;
    let key = root_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let this_update = generalized(now)?;
    let next_update = generalized(now + ANSWER_LIFETIME)?;
    let responses = request
        .tbs_request
        .request_list
        .iter()
        .map(|asked| {
            let id = &asked.req_cert;
            let ours = hash_of(&id.hash_algorithm).is_some_and(|algorithm| {
                digest::digest(algorithm, &subject).as_ref() == id.issuer_name_hash.as_bytes()
                    && digest::digest(algorithm, key).as_ref() == id.issuer_key_hash.as_bytes()
            });
            let cert_status = match revoked
                .iter()
                .find(|r| r.serial == id.serial_number.as_bytes())
            {
                _ if !ours => CertStatus::Unknown(Null),
                Some(revocation) => CertStatus::Revoked(RevokedInfo {
                    revocation_time: generalized(revocation.at)?,
                    revocation_reason: Some(CrlReason::Unspecified),
                }),
                None => CertStatus::Good(Null),
            };
            Ok(SingleResponse {
                cert_id: CertId::clone(id),
                cert_status,
                this_update,
                next_update: Some(next_update),
                single_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    // Echo the nonce, so that the client knows the answer is fresh.
    let nonce = request
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .find(|extension| extension.extn_id == Nonce::OID)
        .and_then(|extension| Nonce::from_der(extension.extn_value.as_bytes()).ok());
    let extensions = nonce
        .map(|nonce| {
            Ok::<_, der::Error>(vec![x509_cert::ext::Extension {
                extn_id: Nonce::OID,
                critical: false,
                extn_value: OctetString::new(nonce.to_der()?)?,
            }])
        })
        .transpose()
        .map_err(encoding)?;
    let tbs_response_data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByName(root_cert.tbs_certificate.subject.clone()),
        produced_at: this_update,
        responses,
        response_extensions: extensions,
    };
    let signature = root.sign(&tbs_response_data.to_der().map_err(encoding)?)?;
    let basic = BasicOcspResponse {
        tbs_response_data,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(encoding)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .and_then(|response| response.to_der())
        .map_err(encoding)
}

/// The digest a `CertID` names (SHA-1, as most clients use, or SHA-256).
fn hash_of(algorithm: &AlgorithmIdentifierOwned) -> Option<&'static Algorithm> {
    if algorithm.oid == rfc5912::ID_SHA_1 {
        Some(&digest::SHA1_FOR_LEGACY_USE_ONLY)
    } else if algorithm.oid == rfc5912::ID_SHA_256 {
        Some(&digest::SHA256)
    } else {
        None
    }
}

fn generalized(at: OffsetDateTime) -> Result<OcspGeneralizedTime, PkiError> {
    let seconds = u64::try_from(at.unix_timestamp()).unwrap_or_default();
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map(OcspGeneralizedTime)
        .map_err(|_| PkiError::Malformed("a time OCSP cannot express"))
}
