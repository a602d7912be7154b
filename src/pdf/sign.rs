//! Making a PAdES B-B or B-T signature (like pyHanko's `signers`): a detached CMS
//! `SignedData` (RFC 5652) for SubFilter `ETSI.CAdES.detached`, ready to be hex-encoded into a
//! PDF signature dictionary's `/Contents`, optionally with a signature time-stamp; and the
//! `SignedData` of an RFC 3161 time-stamp token, for the time-stamping authority.
//!
//! Signed attributes are exactly content-type, message-digest and ESS
//! signing-certificate-v2 (RFC 5035). There is deliberately no signing-time attribute: PAdES
//! baseline puts the claimed time in the signature dictionary's `/M`.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use const_oid::ObjectIdentifier;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, EncodeValue, Sequence, Tagged};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// `id-aa-signatureTimeStampToken` (RFC 3161 Appendix A): the unsigned attribute carrying a
/// time-stamp token over the signature value.
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// `id-ct-TSTInfo` (RFC 3161 §2.4.2): the content type of a time-stamp token.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// A signature algorithm this module can put into a CMS `SignerInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (`ecdsa-with-SHA256`, 1.2.840.10045.4.3.2).
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The CMS signatureAlgorithm OID (parameters are absent for ECDSA, RFC 5758 §3.2).
    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::EcdsaP256Sha256 => rfc5912::ECDSA_WITH_SHA_256,
        }
    }
}

/// A private key that signs raw messages, e.g. the department's seal key.
pub trait RawSigner {
    /// The algorithm `sign` uses; it must match the signer certificate's key.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Signs `message` (the signer hashes it) and returns a DER `ECDSA-Sig-Value`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The public key, as the signer certificate's subjectPublicKey holds it (an
    /// uncompressed SEC 1 point).
    fn public_key(&self) -> &[u8];
}

impl RawSigner for crate::pki::SealKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        crate::pki::SealKey::sign(self, message).map_err(|e| SignError::Key(e.to_string()))
    }

    fn public_key(&self) -> &[u8] {
        crate::pki::SealKey::public_key(self)
    }
}

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A certificate is not DER X.509; `index` 0 is the signer, 1.. the chain in order.
    #[error("certificate #{index} (0 = signer) is not a DER X.509 certificate: {source}")]
    Certificate {
        /// Position of the bad certificate (0 = signer certificate).
        index: usize,
        /// The decoding error.
        source: der::Error,
    },
    /// The CMS structures could not be DER-encoded.
    #[error("encoding the CMS structure: {0}")]
    Encoding(#[from] der::Error),
    /// A time-stamping authority could not be reached or gave no usable token.
    #[error("time-stamping failed: {0}")]
    Timestamp(String),
    /// The signing key failed (reported by a [`RawSigner`] implementation).
    #[error("signing key failed: {0}")]
    Key(String),
    /// The key's signature does not verify with the signer certificate's public key.
    #[error("the signature does not verify with the signer certificate's public key (wrong key for this certificate?)")]
    KeyMismatch,
}

// RFC 5035 ESS types. The `cms` crate (0.2) has no ESS module, so they are declared here with
// der's derive; `validate` decodes them too, to check the attribute against the signer.

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct SigningCertificateV2 {
    /// The signer certificate first; any others are optional extras.
    pub certs: Vec<EssCertIdV2>,
    /// `SEQUENCE OF PolicyInformation`, never written here; kept so foreign ones decode.
    #[asn1(optional = "true")]
    pub policies: Option<Vec<Any>>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT id-sha256, certHash, issuerSerial OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct EssCertIdV2 {
    /// Absent means SHA-256 (a DEFAULT value is omitted in DER).
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// Hash of the whole DER certificate.
    pub cert_hash: OctetString,
    /// Issuer and serial number of the certificate.
    #[asn1(optional = "true")]
    pub issuer_serial: Option<IssuerSerial>,
}

/// `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber CertificateSerialNumber }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub(super) struct IssuerSerial {
    /// The certificate's issuer as a directoryName.
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: SerialNumber,
}

/// Obtains RFC 3161 time-stamp tokens: the built-in authority or an external one.
pub trait TimeStamper {
    /// A DER `TimeStampToken` (a CMS `ContentInfo`) over the SHA-256 `imprint`.
    fn timestamp(&self, imprint: &[u8; 32]) -> Result<Vec<u8>, SignError>;
    /// The most bytes a token can take, for reserving room in a PDF.
    fn max_token_len(&self) -> usize;
}

/// What a `SignedData` signs.
struct Content<'a> {
    /// `eContentType`: id-data for a PDF's byte ranges, id-ct-TSTInfo for a time-stamp token.
    content_type: ObjectIdentifier,
    /// The content when it is encapsulated; `None` for a detached signature.
    encapsulated: Option<&'a [u8]>,
    /// SHA-256 of the content.
    digest: &'a [u8; 32],
}

/// Builds a DER `ContentInfo` holding a detached CAdES `SignedData` over `document_digest`
/// (SHA-256 of the PDF's signed byte ranges), signed by `signer` whose certificate is
/// `signer_cert_der`; `chain_der` (intermediates, optionally the root) is embedded too. With a
/// `timestamper`, the signature value is time-stamped (PAdES B-T): the token goes into the
/// unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 Appendix A).
pub fn cades_detached(
    signer: &dyn RawSigner,
    signer_cert_der: &[u8],
    chain_der: &[Vec<u8>],
    document_digest: &[u8; 32],
    timestamper: Option<&dyn TimeStamper>,
) -> Result<Vec<u8>, SignError> {
    let content = Content {
        content_type: rfc5911::ID_DATA,
        encapsulated: None,
        digest: document_digest,
    };
    let mut signed_data = signed_data(signer, signer_cert_der, chain_der, &content)?;
    if let Some(timestamper) = timestamper {
        let mut infos = signed_data.signer_infos.0.into_vec();
        for info in &mut infos {
            let imprint = ring::digest::digest(&ring::digest::SHA256, info.signature.as_bytes());
            let token = timestamper.timestamp(
                imprint
                    .as_ref()
                    .try_into()
                    .map_err(|_| SignError::Key("SHA-256 gave other than 32 bytes".into()))?,
            )?;
            info.unsigned_attrs = Some(SetOfVec::try_from(vec![Attribute {
                oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
                values: SetOfVec::try_from(vec![Any::from_der(&token)?])?,
            }])?);
        }
        signed_data.signer_infos = SignerInfos::try_from(infos)?;
    }
    content_info(&signed_data)
}

/// A DER RFC 3161 `TimeStampToken`: `SignedData` encapsulating the DER `TSTInfo`, signed by
/// the time-stamping authority's key; its certificate and `chain_der` are embedded when
/// `with_certificates` (the request's `certReq`).
pub fn timestamp_token(
    signer: &dyn RawSigner,
    signer_cert_der: &[u8],
    chain_der: &[Vec<u8>],
    tst_info_der: &[u8],
    with_certificates: bool,
) -> Result<Vec<u8>, SignError> {
    let digest = ring::digest::digest(&ring::digest::SHA256, tst_info_der);
    let digest: &[u8; 32] = digest
        .as_ref()
        .try_into()
        .map_err(|_| SignError::Key("SHA-256 gave other than 32 bytes".into()))?;
    let content = Content {
        content_type: ID_CT_TST_INFO,
        encapsulated: Some(tst_info_der),
        digest,
    };
    let mut signed_data = signed_data(signer, signer_cert_der, chain_der, &content)?;
    if !with_certificates {
        signed_data.certificates = None;
    }
    content_info(&signed_data)
}

fn content_info(signed_data: &SignedData) -> Result<Vec<u8>, SignError> {
    let content_info = ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(signed_data)?,
    };
    Ok(content_info.to_der()?)
}

/// One `SignerInfo` over `content` with the signed attributes content-type, message-digest
/// and ESS signing-certificate-v2, and the certificates.
fn signed_data(
    signer: &dyn RawSigner,
    signer_cert_der: &[u8],
    chain_der: &[Vec<u8>],
    content: &Content<'_>,
) -> Result<SignedData, SignError> {
    let cert = Certificate::from_der(signer_cert_der)
        .map_err(|source| SignError::Certificate { index: 0, source })?;
    let mut certs = vec![cert.clone()];
    for (i, der) in chain_der.iter().enumerate() {
        let c = Certificate::from_der(der).map_err(|source| SignError::Certificate {
            index: i + 1,
            source,
        })?;
        // a SET OF may not hold duplicates (callers often pass the signer in the chain too)
        if !certs.contains(&c) {
            certs.push(c);
        }
    }
    let tbs = &cert.tbs_certificate;
    let algorithm = signer.algorithm();

    let cert_hash = ring::digest::digest(&ring::digest::SHA256, signer_cert_der);
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(cert_hash.as_ref())?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer.clone())],
                serial_number: tbs.serial_number.clone(),
            }),
        }],
        policies: None,
    };
    // SetOfVec sorts its elements into DER order.
    let signed_attrs = SetOfVec::try_from(vec![
        attribute(rfc5911::ID_CONTENT_TYPE, &content.content_type)?,
        attribute(
            rfc5911::ID_MESSAGE_DIGEST,
            &OctetString::new(content.digest.as_slice())?,
        )?,
        attribute(rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2, &signing_certificate)?,
    ])?;

    // The signature covers the attributes' DER as a SET OF (tag 0x31), not as the
    // [0] IMPLICIT field they become inside SignerInfo (RFC 5652 §5.4).
    let to_be_signed = signed_attrs.to_der()?;
    // The key must be the certificate's: comparing the public keys costs nothing, where
    // verifying each signature made was a tenth of issuing a licence.
    if signer.public_key() != tbs.subject_public_key_info.subject_public_key.raw_bytes() {
        return Err(SignError::KeyMismatch);
    }
    let signature = signer.sign(&to_be_signed)?;

    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        digest_alg: sha256(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: algorithm.oid(),
            parameters: None,
        },
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let certificates = certs
        .into_iter()
        .map(CertificateChoices::Certificate)
        .collect::<Vec<_>>();
    let econtent = content
        .encapsulated
        .map(|bytes| Any::new(der::Tag::OctetString, bytes))
        .transpose()?;
    Ok(SignedData {
        // RFC 5652 §5.1: version 3 when the content is not id-data.
        version: if content.content_type == rfc5911::ID_DATA {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        },
        digest_algorithms: SetOfVec::try_from(vec![sha256()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: content.content_type,
            econtent,
        },
        certificates: Some(CertificateSet::try_from(certificates)?),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info])?,
    })
}

/// `id-sha256` with absent parameters (RFC 5754 §2).
fn sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_256,
        parameters: None,
    }
}

/// A single-valued CMS attribute.
fn attribute(
    oid: ObjectIdentifier,
    value: &(impl Tagged + EncodeValue),
) -> Result<Attribute, der::Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![Any::encode_from(value)?])?,
    })
}

/// Test support shared with `validate`'s tests: a throw-away PKI whose leaf signs like the
/// department's seal key (ring ECDSA P-256, certificates from rcgen).
#[cfg(test)]
pub(super) mod testing {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};

    /// The seal key as the service holds it: a ring ECDSA P-256 key pair.
    pub(super) struct RingSigner {
        key: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl RawSigner for RingSigner {
        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::EcdsaP256Sha256
        }
        fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
            let sig = self
                .key
                .sign(&self.rng, message)
                .map_err(|_| SignError::Key("ring ECDSA signing failed".into()))?;
            Ok(sig.as_ref().to_vec())
        }
        fn public_key(&self) -> &[u8] {
            self.key.public_key().as_ref()
        }
    }

    /// A throw-away PKI: a root CA, a leaf signed by it, and the leaf's key as a signer.
    pub(in super::super) struct TestPki {
        pub(in super::super) root_der: Vec<u8>,
        pub(in super::super) root_pem: String,
        pub(in super::super) leaf_der: Vec<u8>,
        pub(super) signer: RingSigner,
    }

    impl TestPki {
        pub(in super::super) fn new() -> Self {
            let root_key = KeyPair::generate().unwrap();
            let mut root_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            root_params
                .distinguished_name
                .push(DnType::CommonName, "Zhengyin Test Seal Root");
            root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let root = root_params.self_signed(&root_key).unwrap();
            let issuer = Issuer::new(root_params, root_key);

            let leaf_key = KeyPair::generate().unwrap();
            let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
            leaf_params
                .distinguished_name
                .push(DnType::CommonName, "测试局 电子印章 (test)");
            leaf_params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::ContentCommitment,
            ];
            let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

            let rng = SystemRandom::new();
            let key = EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &leaf_key.serialize_der(),
                &rng,
            )
            .unwrap();
            TestPki {
                root_der: root.der().to_vec(),
                root_pem: root.pem(),
                leaf_der: leaf.der().to_vec(),
                signer: RingSigner { key, rng },
            }
        }

        /// Signs the SHA-256 of `data` with the leaf key, root embedded as the chain.
        pub(in super::super) fn sign(&self, data: &[u8]) -> Vec<u8> {
            let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, data)
                .as_ref()
                .try_into()
                .unwrap();
            cades_detached(
                &self.signer,
                &self.leaf_der,
                std::slice::from_ref(&self.root_der),
                &digest,
                None,
            )
            .unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestPki;
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
    use std::path::PathBuf;
    use std::process::Command;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zhengyin-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn signer_info(cms_der: &[u8]) -> (SignedData, SignerInfo) {
        let ci = ContentInfo::from_der(cms_der).unwrap();
        assert_eq!(ci.content_type, rfc5911::ID_SIGNED_DATA);
        let sd: SignedData = ci.content.decode_as().unwrap();
        let si = sd.signer_infos.0.get(0).unwrap().clone();
        (sd, si)
    }

    #[test]
    fn openssl_verifies_our_cades_signature() {
        let pki = TestPki::new();
        let data = "营业执照 — the bytes a PDF signature's ByteRange would cover".as_bytes();
        let cms = pki.sign(data);

        let dir = scratch_dir("sign-openssl");
        std::fs::write(dir.join("sig.der"), &cms).unwrap();
        std::fs::write(dir.join("data.bin"), data).unwrap();
        std::fs::write(dir.join("tampered.bin"), [data, b"!"].concat()).unwrap();
        std::fs::write(dir.join("root.pem"), &pki.root_pem).unwrap();
        let verify = |content: &str| {
            Command::new("openssl")
                .args([
                    "cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.der",
                ])
                .args([
                    "-content", content, "-CAfile", "root.pem", "-purpose", "any",
                ])
                .args(["-out", "/dev/null"])
                .current_dir(&dir)
                .output()
                .expect("the openssl command is needed for this test")
        };
        let ok = verify("data.bin");
        assert!(
            ok.status.success(),
            "openssl rejected our signature: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(!verify("tampered.bin").status.success());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signed_attributes_are_exactly_the_pades_baseline_set() {
        let pki = TestPki::new();
        let cms = pki.sign(b"hello");
        let (sd, si) = signer_info(&cms);

        assert_eq!(sd.version, CmsVersion::V1);
        assert_eq!(sd.encap_content_info.econtent_type, rfc5911::ID_DATA);
        assert!(sd.encap_content_info.econtent.is_none(), "must be detached");
        assert_eq!(sd.certificates.as_ref().unwrap().0.len(), 2);
        assert_eq!(si.digest_alg, sha256());
        assert_eq!(si.signature_algorithm.oid, rfc5912::ECDSA_WITH_SHA_256);
        assert!(si.signature_algorithm.parameters.is_none());
        assert!(matches!(si.sid, SignerIdentifier::IssuerAndSerialNumber(_)));

        let attrs = si.signed_attrs.unwrap();
        let oids: Vec<_> = attrs.iter().map(|a| a.oid).collect();
        assert_eq!(
            oids,
            [
                rfc5911::ID_CONTENT_TYPE,
                rfc5911::ID_MESSAGE_DIGEST,
                rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2
            ]
        );
        let value = |i: usize| attrs.get(i).unwrap().values.get(0).unwrap().clone();
        let md: OctetString = value(1).decode_as().unwrap();
        assert_eq!(
            md.as_bytes(),
            ring::digest::digest(&ring::digest::SHA256, b"hello").as_ref()
        );
        let ess: SigningCertificateV2 = value(2).decode_as().unwrap();
        let id = ess.certs.first().unwrap();
        assert!(id.hash_algorithm.is_none(), "SHA-256 is the DEFAULT");
        assert_eq!(
            id.cert_hash.as_bytes(),
            ring::digest::digest(&ring::digest::SHA256, &pki.leaf_der).as_ref()
        );
        let leaf = Certificate::from_der(&pki.leaf_der).unwrap();
        let issuer_serial = id.issuer_serial.as_ref().unwrap();
        assert_eq!(
            issuer_serial.serial_number,
            leaf.tbs_certificate.serial_number
        );

        // DER SET OF: the encoded elements appear in ascending byte order
        let encoded: Vec<Vec<u8>> = attrs.iter().map(|a| a.to_der().unwrap()).collect();
        assert!(encoded.windows(2).all(|w| w[0] < w[1]));

        // the signature is over the SET OF encoding (tag 0x31)
        let tbs = attrs.to_der().unwrap();
        assert_eq!(tbs[0], 0x31);
        UnparsedPublicKey::new(
            &ECDSA_P256_SHA256_ASN1,
            leaf.tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        )
        .verify(&tbs, si.signature.as_bytes())
        .unwrap();
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let pki = TestPki::new();
        let other = TestPki::new();
        let err = cades_detached(&other.signer, &pki.leaf_der, &[], &[0; 32], None).unwrap_err();
        assert!(matches!(err, SignError::KeyMismatch), "{err}");
        let err = cades_detached(&pki.signer, b"not a cert", &[], &[0; 32], None).unwrap_err();
        assert!(
            matches!(err, SignError::Certificate { index: 0, .. }),
            "{err}"
        );
    }
}
