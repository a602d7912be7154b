//! The built-in time-stamping authority (RFC 3161): answers `TimeStampReq`s with tokens signed
//! by its own key, whose certificate (under the installation's root) carries the critical
//! extendedKeyUsage id-kp-timeStamping. It stamps the seals of PAdES B-T signatures in-process
//! and serves anyone over HTTP at `/tsa` (pyHanko's `--timestamp-url`, `openssl ts`, …).
//!
//! The request, response and `TSTInfo` structures are RustCrypto's `x509-tsp`; the token's
//! `SignedData` is built by [`crate::pdf::sign::timestamp_token`].

use cmpv2::status::{PkiStatus, PkiStatusInfo};
use const_oid::db::rfc5912;
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, GeneralizedTime, Int, OctetString};
use der::{Decode, Encode, Sequence};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::AlgorithmIdentifier;
use x509_cert::Certificate;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use crate::pdf::sign::{self, SignError, TimeStamper};
use crate::pki::SealKey;

/// The policy under which tokens are issued (`TSTInfo.policy`). It sits under IANA's
/// enterprise number for documentation use (32473, RFC 5612): a deployment that registers its
/// own time-stamping policy replaces it.
pub const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.32473.3161.1");

/// The hash algorithms a request's message imprint may use, with their digest lengths.
const ACCEPTED_HASHES: [(ObjectIdentifier, usize); 3] = [
    (rfc5912::ID_SHA_256, 32),
    (rfc5912::ID_SHA_384, 48),
    (rfc5912::ID_SHA_512, 64),
];

/// Why the authority could not answer at all (a rejection is still an answer).
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    /// The token could not be signed or encoded.
    #[error("time-stamp token: {0}")]
    Sign(#[from] SignError),
    /// The response could not be encoded.
    #[error("encoding the time-stamp response: {0}")]
    Encoding(#[from] der::Error),
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct TsaAnswer {
    /// DER `TimeStampResp`.
    pub response: Vec<u8>,
    /// For a granted request: the token's serial number and the stamped imprint, in hex.
    pub granted: Option<(String, String)>,
}

/// The time-stamping authority: its key and the certificates above it.
pub struct TimeStampAuthority {
    key: SealKey,
    chain: Vec<Vec<u8>>,
    rng: SystemRandom,
    max_token_len: usize,
}

impl TimeStampAuthority {
    /// An authority signing with `key`, whose certificate chains through `chain` (DER, up to
    /// the root).
    pub fn new(key: SealKey, chain: Vec<Vec<u8>>) -> Result<TimeStampAuthority, TsaError> {
        let mut authority = TimeStampAuthority {
            key,
            chain,
            rng: SystemRandom::new(),
            max_token_len: 0,
        };
        // A token's length varies only with the ECDSA signature (a few bytes) and the imprint
        // length; measure one with the longest imprint.
        let longest = imprint(rfc5912::ID_SHA_512, &[0; 64])?;
        let sample = authority.token(longest, None, true, OffsetDateTime::now_utc())?;
        authority.max_token_len = sample.len() + 16;
        Ok(authority)
    }

    /// The authority's certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        self.key.certificate_der()
    }

    /// Answers a DER `TimeStampReq` at time `at`: a granted response with a token, or a
    /// rejection naming the failure (bad data format, unsupported algorithm or policy).
    pub fn respond(&self, request: &[u8], at: OffsetDateTime) -> Result<TsaAnswer, TsaError> {
        let request = match TimeStampReq::from_der(request) {
            Ok(request) => request,
            Err(_) => return rejection(Failure::BadDataFormat),
        };
        let imprint = &request.message_imprint;
        let accepted = ACCEPTED_HASHES.iter().any(|(oid, len)| {
            *oid == imprint.hash_algorithm.oid && imprint.hashed_message.as_bytes().len() == *len
        });
        if !accepted {
            return rejection(Failure::BadAlg);
        }
        if request.req_policy.is_some_and(|policy| policy != POLICY) {
            return rejection(Failure::UnacceptedPolicy);
        }
        if request.extensions.is_some() {
            return rejection(Failure::UnacceptedExtension);
        }
        let imprint_hex = crate::audit::hex(imprint.hashed_message.as_bytes());
        let token = self.token(request.message_imprint, request.nonce, request.cert_req, at)?;
        let token_info = cms::content_info::ContentInfo::from_der(&token)?;
        let response = TimeStampResp {
            status: PkiStatusInfo {
                status: PkiStatus::Accepted,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: Some(token_info),
        };
        Ok(TsaAnswer {
            response: response.to_der()?,
            granted: Some((serial_of(&token)?, imprint_hex)),
        })
    }

    /// A DER `TimeStampToken` over `message_imprint` at `at`.
    fn token(
        &self,
        message_imprint: MessageImprint,
        nonce: Option<Int>,
        with_certificates: bool,
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        let mut serial = [0u8; 16];
        self.rng
            .fill(&mut serial)
            .map_err(|_| SignError::Key("random generator failed".into()))?;
        // Positive and of fixed length: the top bit clear, the next one set.
        serial[0] = (serial[0] & 0x7f) | 0x40;
        let certificate = Certificate::from_der(self.key.certificate_der())?;
        let seconds = u64::try_from(at.unix_timestamp()).unwrap_or_default();
        let tst_info = TstInfo {
            version: TspVersion::V1,
            policy: POLICY,
            message_imprint,
            serial_number: Int::new(&serial)?,
            gen_time: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))?,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce,
            tsa: Some(GeneralName::DirectoryName(
                certificate.tbs_certificate.subject.clone(),
            )),
            extensions: None,
        };
        sign::timestamp_token(
            &self.key,
            self.key.certificate_der(),
            &self.chain,
            &tst_info.to_der()?,
            with_certificates,
        )
    }
}

impl TimeStampAuthority {
    /// A token over a SHA-256 imprint that says `at`, with the authority's certificates.
    fn stamp_at(
        &self,
        imprint_sha256: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<Vec<u8>, SignError> {
        let message_imprint = imprint(rfc5912::ID_SHA_256, imprint_sha256)?;
        self.token(message_imprint, None, true, at)
    }
}

impl TimeStamper for TimeStampAuthority {
    fn timestamp(&self, imprint_sha256: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        self.stamp_at(imprint_sha256, OffsetDateTime::now_utc())
    }

    fn max_token_len(&self) -> usize {
        self.max_token_len
    }
}

/// Most bytes an external authority's answer may take.
const MAX_EXTERNAL_RESPONSE: u64 = 64 * 1024;
/// Room reserved in a PDF for an external authority's token (its certificates included).
const EXTERNAL_TOKEN_ROOM: usize = 12 * 1024;

/// An external time-stamping authority, asked over HTTP (RFC 3161 §3.4) for each token.
pub struct ExternalAuthority {
    url: String,
    agent: ureq::Agent,
}

impl ExternalAuthority {
    /// The authority at `url`.
    pub fn new(url: String) -> ExternalAuthority {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        ExternalAuthority { url, agent }
    }
}

impl TimeStamper for ExternalAuthority {
    /// Asks for a token over `imprint_sha256` with a fresh nonce and the certificates, and
    /// checks that the token answers this request.
    fn timestamp(&self, imprint_sha256: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        let failed =
            |why: String| SignError::Timestamp(format!("the authority at {}: {why}", self.url));
        let mut nonce = [0u8; 8];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| failed("random generator failed".into()))?;
        nonce[0] &= 0x7f;
        let request = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: imprint(rfc5912::ID_SHA_256, imprint_sha256)?,
            req_policy: None,
            nonce: Some(Int::new(&nonce)?),
            cert_req: true,
            extensions: None,
        };
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/timestamp-query")
            .send(&request.to_der()?)
            .map_err(|e| failed(e.to_string()))?;
        if response.status() != 200 {
            return Err(failed(format!("answered HTTP {}", response.status())));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_EXTERNAL_RESPONSE)
            .read_to_vec()
            .map_err(|e| failed(e.to_string()))?;
        let answer = TimeStampResp::from_der(&body)
            .map_err(|e| failed(format!("unreadable answer: {e}")))?;
        let granted = matches!(
            answer.status.status,
            PkiStatus::Accepted | PkiStatus::GrantedWithMods
        );
        let token = match (granted, answer.time_stamp_token) {
            (true, Some(token)) => token.to_der()?,
            _ => return Err(failed("refused the request".into())),
        };
        let info = read_token(&token).map_err(|e| failed(format!("unreadable token: {e}")))?;
        if info.message_imprint.hashed_message.as_bytes() != imprint_sha256
            || info.nonce != request.nonce
        {
            return Err(failed("its token does not answer this request".into()));
        }
        Ok(token)
    }

    fn max_token_len(&self) -> usize {
        EXTERNAL_TOKEN_ROOM
    }
}

/// A message imprint of `digest` made with hash algorithm `oid`.
fn imprint(oid: ObjectIdentifier, digest: &[u8]) -> Result<MessageImprint, der::Error> {
    Ok(MessageImprint {
        hash_algorithm: AlgorithmIdentifier {
            oid,
            parameters: None,
        },
        hashed_message: OctetString::new(digest)?,
    })
}

/// Why a request is rejected: the bit of `PKIFailureInfo` (RFC 3161 §2.4.2).
#[derive(Debug, Clone, Copy)]
enum Failure {
    BadAlg = 0,
    BadDataFormat = 5,
    UnacceptedPolicy = 15,
    UnacceptedExtension = 16,
}

/// `TimeStampResp` of a rejection: `SEQUENCE { PKIStatusInfo }`. Written with der's derive
/// rather than with `cmpv2`'s `PkiStatusInfo`, whose `PkiFailureInfoValues` are bit positions
/// used as masks (0.2.0), so that most failure bits cannot be expressed.
#[derive(Sequence)]
struct RejectionResponse {
    status: RejectionStatus,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString OPTIONAL, failInfo }`.
#[derive(Sequence)]
struct RejectionStatus {
    status: u8,
    fail_info: BitString,
}

/// A rejection response naming `failure`.
fn rejection(failure: Failure) -> Result<TsaAnswer, TsaError> {
    let bit = failure as usize;
    let mut bytes = vec![0u8; bit / 8 + 1];
    bytes[bit / 8] = 0x80 >> (bit % 8);
    let response = RejectionResponse {
        status: RejectionStatus {
            status: PkiStatus::Rejection as u8,
            // DER: no trailing zero bits after the set one.
            fail_info: BitString::new((7 - bit % 8) as u8, bytes)?,
        },
    };
    Ok(TsaAnswer {
        response: response.to_der()?,
        granted: None,
    })
}

/// The serial number of a token, in hex.
fn serial_of(token: &[u8]) -> Result<String, TsaError> {
    let info = read_token(token)?;
    Ok(crate::audit::hex(info.serial_number.as_bytes()))
}

/// The `TSTInfo` inside a DER `TimeStampToken`.
pub fn read_token(token: &[u8]) -> Result<TstInfo, der::Error> {
    let content_info = cms::content_info::ContentInfo::from_der(token)?;
    let signed_data: cms::signed_data::SignedData = content_info.content.decode_as()?;
    let econtent = signed_data
        .encap_content_info
        .econtent
        .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?;
    TstInfo::from_der(econtent.value())
}

/// Authorities for tests of time: proof of existence needs time-stamps from the past.
#[cfg(test)]
pub(crate) mod testing {
    use super::{OffsetDateTime, SignError, TimeStampAuthority, TimeStamper};

    /// `authority`, with every token it grants saying `at`.
    pub(crate) struct StampsAt<'a>(pub &'a TimeStampAuthority, pub OffsetDateTime);

    impl TimeStamper for StampsAt<'_> {
        fn timestamp(&self, imprint_sha256: &[u8; 32]) -> Result<Vec<u8>, SignError> {
            self.0.stamp_at(imprint_sha256, self.1)
        }

        fn max_token_len(&self) -> usize {
            self.0.max_token_len
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{MasterKey, RootCa, ServiceKeyUse};
    use std::process::Command;

    /// An authority under a throw-away root; returns it and the root's PEM.
    fn authority() -> (TimeStampAuthority, String) {
        let master = MasterKey::from_bytes([7; 32]);
        let stored = RootCa::generate("测试根", &master).unwrap();
        let root =
            RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        let issued = root
            .issue_service_key("测试时间戳", ServiceKeyUse::TimeStamping, None, 1, &master)
            .unwrap();
        let key = SealKey::open(issued.certificate_der, &issued.sealed_key, &master).unwrap();
        let root_pem = crate::service::pem("CERTIFICATE", &stored.certificate_der);
        let tsa = TimeStampAuthority::new(key, vec![stored.certificate_der]).unwrap();
        (tsa, root_pem)
    }

    fn request(oid: ObjectIdentifier, digest: &[u8], cert_req: bool) -> Vec<u8> {
        TimeStampReq {
            version: TspVersion::V1,
            message_imprint: imprint(oid, digest).unwrap(),
            req_policy: None,
            nonce: Some(Int::new(&[0x12, 0x34, 0x56]).unwrap()),
            cert_req,
            extensions: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn openssl_verifies_a_granted_token_over_the_data() {
        let (tsa, root_pem) = authority();
        let data = "营业执照 — the data a time-stamp vouches for".as_bytes();
        let digest = ring::digest::digest(&ring::digest::SHA256, data);
        let answer = tsa
            .respond(
                &request(rfc5912::ID_SHA_256, digest.as_ref(), true),
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        let (serial, imprint_hex) = answer.granted.clone().unwrap();
        assert_eq!(imprint_hex, crate::audit::hex(digest.as_ref()));
        let response = TimeStampResp::from_der(&answer.response).unwrap();
        assert_eq!(response.status.status, PkiStatus::Accepted);
        let token = response.time_stamp_token.unwrap().to_der().unwrap();
        let info = read_token(&token).unwrap();
        assert_eq!(info.policy, POLICY);
        assert_eq!(info.nonce.unwrap().as_bytes(), [0x12, 0x34, 0x56]);
        assert_eq!(crate::audit::hex(info.serial_number.as_bytes()), serial);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("reply.tsr"), &answer.response).unwrap();
        std::fs::write(dir.path().join("data.bin"), data).unwrap();
        std::fs::write(dir.path().join("other.bin"), b"other data").unwrap();
        std::fs::write(dir.path().join("root.pem"), root_pem).unwrap();
        let verify = |data: &str| {
            Command::new("openssl")
                .args(["ts", "-verify", "-in", "reply.tsr", "-data", data])
                .args(["-CAfile", "root.pem"])
                .current_dir(dir.path())
                .output()
                .expect("the openssl command is needed for this test")
        };
        let verified = verify("data.bin");
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );
        assert!(!verify("other.bin").status.success());
    }

    #[test]
    fn certificates_are_included_only_when_asked_for() {
        let (tsa, _) = authority();
        let certificates = |cert_req: bool| {
            let answer = tsa
                .respond(
                    &request(rfc5912::ID_SHA_384, &[1; 48], cert_req),
                    OffsetDateTime::now_utc(),
                )
                .unwrap();
            let response = TimeStampResp::from_der(&answer.response).unwrap();
            let signed: cms::signed_data::SignedData = response
                .time_stamp_token
                .unwrap()
                .content
                .decode_as()
                .unwrap();
            signed.certificates.map_or(0, |set| set.0.len())
        };
        assert_eq!(certificates(true), 2, "the authority's and the root");
        assert_eq!(certificates(false), 0);
    }

    #[test]
    fn bad_requests_are_rejected_with_the_failure_named() {
        let (tsa, _) = authority();
        let now = OffsetDateTime::now_utc();
        let rejected = |request: &[u8]| {
            let answer = tsa.respond(request, now).unwrap();
            assert!(answer.granted.is_none());
            answer.response
        };
        // Status rejection (2); failInfo with only bit 5 (badDataFormat) set, 2 unused bits.
        assert_eq!(
            rejected(b"not DER"),
            [0x30, 0x09, 0x30, 0x07, 0x02, 0x01, 0x02, 0x03, 0x02, 0x02, 0x04]
        );
        // SHA-1 (badAlg, bit 0), and a SHA-256 imprint of the wrong length.
        let sha1 = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
        let bad_alg = [
            0x30, 0x09, 0x30, 0x07, 0x02, 0x01, 0x02, 0x03, 0x02, 0x07, 0x80,
        ];
        assert_eq!(rejected(&request(sha1, &[0; 20], true)), bad_alg);
        assert_eq!(
            rejected(&request(rfc5912::ID_SHA_256, &[0; 20], true)),
            bad_alg
        );
        // Another policy (unacceptedPolicy, bit 15).
        let mut other_policy =
            TimeStampReq::from_der(&request(rfc5912::ID_SHA_256, &[0; 32], true)).unwrap();
        other_policy.req_policy = Some(ObjectIdentifier::new_unwrap("1.2.3.4"));
        assert_eq!(
            rejected(&other_policy.to_der().unwrap()),
            [0x30, 0x0a, 0x30, 0x08, 0x02, 0x01, 0x02, 0x03, 0x03, 0x00, 0x00, 0x01]
        );
    }
}
