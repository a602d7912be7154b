//! Public-key infrastructure: the root CA, the seal certificates it issues to departments,
//! and the protection of private keys at rest.
//!
//! Every private key is generated here (ECDSA P-256 with ring) and leaves this module only
//! sealed under the [`MasterKey`]; [`SealKey`] holds the plaintext key in memory for signing and
//! never prints it.

pub mod chain;
pub mod jws;
mod master_key;
pub mod ocsp;

pub use master_key::MasterKey;

use der::asn1::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use time::{Duration, OffsetDateTime};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};

/// Errors of the PKI layer.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The system random generator or ring refused to make a key.
    #[error("key generation failed")]
    KeyGeneration,
    /// rcgen could not build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A stored key could not be decrypted: wrong master key or tampered ciphertext.
    #[error("a stored private key could not be decrypted (wrong master key or tampered data)")]
    Unseal,
    /// The master key file or variable is unusable.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A stored certificate or key does not parse.
    #[error("stored key material is malformed: {0}")]
    Malformed(&'static str),
}

/// What a service key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKeyUse {
    /// Signing the service's own statements (holder tokens, audit tree heads).
    Signing,
    /// Signing RFC 3161 time-stamp tokens.
    TimeStamping,
}

/// OID of the authorityInfoAccess extension.
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// `id-ad-ocsp`: an authorityInfoAccess entry naming an OCSP responder.
const ID_AD_OCSP: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// OID of the extendedKeyUsage extension.
const EXTENDED_KEY_USAGE: &[u64] = &[2, 5, 29, 37];

/// OID of the X.520 organizationIdentifier attribute, which carries the credit code.
const ORGANIZATION_IDENTIFIER: &[u64] = &[2, 5, 4, 97];

/// A freshly generated key pair with its certificate; `sealed_key` is safe to store.
pub struct IssuedKey {
    /// DER X.509 certificate.
    pub certificate_der: Vec<u8>,
    /// PKCS#8 private key sealed under the master key.
    pub sealed_key: Vec<u8>,
}

/// Who a seal certificate is for.
pub struct SealSubject<'a> {
    /// Department name, e.g. 厦门市市场监督管理局.
    pub department: &'a str,
    /// The department's unified social credit code.
    pub credit_code: &'a str,
    /// The seal's name, e.g. 行政审批专用章.
    pub seal_name: &'a str,
    /// Where validators learn the certificate's status, written into it.
    pub status: Option<&'a StatusUrls>,
}

/// Where the root publishes certificate status: written into every certificate it issues
/// (cRLDistributionPoints and authorityInfoAccess) so that validators can find it.
#[derive(Debug, Clone)]
pub struct StatusUrls {
    /// The CRL.
    pub crl: String,
    /// The OCSP responder.
    pub ocsp: String,
}

/// A revoked certificate, as the CRL lists it.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// The certificate's serial number (big-endian bytes).
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub at: OffsetDateTime,
}

/// How long a CRL is current: validators fetch a new one after this.
const CRL_LIFETIME: Duration = Duration::days(1);

/// The root certification authority of this installation.
pub struct RootCa {
    certificate_der: Vec<u8>,
    key: KeyPair,
}

impl RootCa {
    /// Makes a new self-signed root (ECDSA P-256, 20 years) and returns it sealed for storage.
    pub fn generate(name: &str, master: &MasterKey) -> Result<IssuedKey, PkiError> {
        let pkcs8 = generate_pkcs8()?;
        let key = KeyPair::try_from(pkcs8.as_slice())?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&[
            (DnType::CountryName, "CN"),
            (DnType::OrganizationName, name),
            (DnType::CommonName, &format!("{name} Root CA")),
        ]);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(random_serial()?);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(365 * 20);
        let certificate = params.self_signed(&key)?;
        Ok(IssuedKey {
            certificate_der: certificate.der().to_vec(),
            sealed_key: master.seal(&pkcs8, b"root-ca")?,
        })
    }

    /// Opens a stored root.
    pub fn open(
        certificate_der: Vec<u8>,
        sealed_key: &[u8],
        master: &MasterKey,
    ) -> Result<RootCa, PkiError> {
        let pkcs8 = master.open(sealed_key, b"root-ca")?;
        let key = KeyPair::try_from(pkcs8.as_slice())?;
        Ok(RootCa {
            certificate_der,
            key,
        })
    }

    /// The root certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Makes a key for one of the installation's own services (e.g. the holder-token signer)
    /// and a certificate for it under this root: CN `name`, keyUsage digitalSignature, the CRL's
    /// `crl_url` as cRLDistributionPoints, and for
    /// the time-stamping authority the critical extendedKeyUsage id-kp-timeStamping that
    /// RFC 3161 §2.3 requires.
    pub fn issue_service_key(
        &self,
        name: &str,
        usage: ServiceKeyUse,
        status: Option<&StatusUrls>,
        years: i64,
        master: &MasterKey,
    ) -> Result<IssuedKey, PkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name =
            distinguished_name(&[(DnType::CountryName, "CN"), (DnType::CommonName, name)]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        add_status_urls(&mut params, status)?;
        if usage == ServiceKeyUse::TimeStamping {
            // rcgen writes extendedKeyUsage as non-critical, so it goes in as a custom
            // extension: SEQUENCE { id-kp-timeStamping 1.3.6.1.5.5.7.3.8 }.
            let mut extension = CustomExtension::from_oid_content(
                EXTENDED_KEY_USAGE,
                vec![
                    0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
                ],
            );
            extension.set_criticality(true);
            params.custom_extensions.push(extension);
        }
        self.issue(params, years, master)
    }

    /// Makes a seal key and a certificate for it, signed by this root: subject names the
    /// department (O, organizationIdentifier = credit code) and the seal (CN, OU); keyUsage
    /// digitalSignature + nonRepudiation; valid for `years`.
    pub fn issue_seal(
        &self,
        subject: &SealSubject<'_>,
        years: i64,
        master: &MasterKey,
    ) -> Result<IssuedKey, PkiError> {
        self.issue(seal_params(subject)?, years, master)
    }

    /// ECDSA P-256 / SHA-256 signature (DER) of the root key over `message` (OCSP answers).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        Ok(rcgen::SigningKey::sign(&self.key, message)?)
    }

    /// A DER CRL (RFC 5280 §5) signed by this root, listing `revoked`, numbered `number`,
    /// current from `now` for a day.
    pub fn crl(
        &self,
        revoked: &[Revocation],
        number: u64,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        let (_, root) = x509_parser::parse_x509_certificate(&self.certificate_der)
            .map_err(|_| PkiError::Malformed("root certificate"))?;
        let key_id = root
            .extensions()
            .iter()
            .find_map(|ext| match ext.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            })
            .ok_or(PkiError::Malformed(
                "root certificate without a key identifier",
            ))?;
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + CRL_LIFETIME,
            crl_number: SerialNumber::from(number.to_be_bytes().to_vec()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|revocation| RevokedCertParams {
                    serial_number: SerialNumber::from(revocation.serial.clone()),
                    revocation_time: revocation.at,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::PreSpecified(key_id),
        };
        let issuer = Issuer::from_ca_cert_der(&self.certificate_der.as_slice().into(), &self.key)?;
        Ok(params.signed_by(&issuer)?.der().to_vec())
    }

    /// Generates a key and signs `params` (plus serial, validity and authority key id) for it.
    fn issue(
        &self,
        params: CertificateParams,
        years: i64,
        master: &MasterKey,
    ) -> Result<IssuedKey, PkiError> {
        let now = OffsetDateTime::now_utc();
        let not_after = now + Duration::days(365 * years);
        self.issue_within(params, now - Duration::hours(1), not_after, master)
    }

    /// A new key and its certificate, valid from `not_before` to `not_after`.
    fn issue_within(
        &self,
        mut params: CertificateParams,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        master: &MasterKey,
    ) -> Result<IssuedKey, PkiError> {
        let pkcs8 = generate_pkcs8()?;
        let key = KeyPair::try_from(pkcs8.as_slice())?;
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before;
        params.not_after = not_after;
        let issuer = Issuer::from_ca_cert_der(&self.certificate_der.as_slice().into(), &self.key)?;
        let certificate = params.signed_by(&key, &issuer)?;
        Ok(IssuedKey {
            certificate_der: certificate.der().to_vec(),
            sealed_key: master.seal(&pkcs8, &certificate.der()[..])?,
        })
    }
}

/// The certificate of a seal: its department, seal and credit code in the subject, signing
/// key usages, and where its status is published.
fn seal_params(subject: &SealSubject<'_>) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = distinguished_name(&[
        (DnType::CountryName, "CN"),
        (DnType::OrganizationName, subject.department),
        (DnType::OrganizationalUnitName, subject.seal_name),
        (
            DnType::CommonName,
            &format!("{}{}", subject.department, subject.seal_name),
        ),
    ]);
    dn.push(
        DnType::CustomDnType(ORGANIZATION_IDENTIFIER.to_vec()),
        DnValue::Utf8String(subject.credit_code.to_string()),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    add_status_urls(&mut params, subject.status)?;
    Ok(params)
}

/// Writes `status` into the certificate: cRLDistributionPoints, and authorityInfoAccess with
/// the OCSP responder (a custom extension: rcgen has no parameter for it).
fn add_status_urls(
    params: &mut CertificateParams,
    status: Option<&StatusUrls>,
) -> Result<(), PkiError> {
    let Some(status) = status else {
        return Ok(());
    };
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![status.crl.clone()],
    }];
    let access = AuthorityInfoAccessSyntax(vec![AccessDescription {
        access_method: ID_AD_OCSP,
        access_location: GeneralName::UniformResourceIdentifier(
            Ia5String::new(&status.ocsp)
                .map_err(|_| PkiError::Malformed("the OCSP URL is not ASCII"))?,
        ),
    }]);
    let der =
        der::Encode::to_der(&access).map_err(|_| PkiError::Malformed("authorityInfoAccess"))?;
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            AUTHORITY_INFO_ACCESS,
            der,
        ));
    Ok(())
}

/// A seal's private key, unsealed in memory, with its certificate.
pub struct SealKey {
    key: EcdsaKeyPair,
    /// The same key for JOSE/COSE, whose ECDSA signatures are r‖s rather than DER.
    fixed: EcdsaKeyPair,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("public_key", &self.key.public_key())
            .finish_non_exhaustive()
    }
}

impl SealKey {
    /// Unseals a stored seal key; the certificate is the associated data, so a key cannot be
    /// swapped under another seal's certificate.
    pub fn open(
        certificate_der: Vec<u8>,
        sealed_key: &[u8],
        master: &MasterKey,
    ) -> Result<SealKey, PkiError> {
        let pkcs8 = master.open(sealed_key, &certificate_der)?;
        let open = |algorithm| {
            EcdsaKeyPair::from_pkcs8(algorithm, &pkcs8, &SystemRandom::new())
                .map_err(|_| PkiError::Malformed("seal key is not a P-256 PKCS#8 key"))
        };
        Ok(SealKey {
            key: open(&ECDSA_P256_SHA256_ASN1_SIGNING)?,
            fixed: open(&ECDSA_P256_SHA256_FIXED_SIGNING)?,
            certificate_der,
        })
    }

    /// The seal certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The public key, an uncompressed SEC 1 point.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// ECDSA P-256 / SHA-256 signature (DER) over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.key
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| PkiError::KeyGeneration)
    }

    /// ECDSA P-256 / SHA-256 signature over `message` as the 64 bytes r‖s, the form JWS
    /// (`ES256`, RFC 7518 §3.4) and COSE use.
    pub fn sign_fixed(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        self.fixed
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| PkiError::KeyGeneration)
    }
}

fn generate_pkcs8() -> Result<Vec<u8>, PkiError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| PkiError::KeyGeneration)
}

/// A positive 16-byte random serial number.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::KeyGeneration)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A distinguished name; the country is a PrintableString as RFC 5280 asks, the rest UTF-8.
fn distinguished_name(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (kind, value) in parts {
        let value = match (kind, rcgen::string::PrintableString::try_from(*value)) {
            (DnType::CountryName, Ok(printable)) => DnValue::PrintableString(printable),
            _ => DnValue::Utf8String((*value).to_string()),
        };
        dn.push(kind.clone(), value);
    }
    dn
}

/// Keys for the library's own tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{seal_params, MasterKey, RootCa, SealKey, SealSubject, ServiceKeyUse};
    use time::OffsetDateTime;

    /// A seal key (seal 行政审批专用章) of `department`, credit code `credit_code`, under a
    /// new root named `root_name`; the key and the root certificate, DER.
    pub(crate) fn seal_key(
        root_name: &str,
        department: &str,
        credit_code: &str,
    ) -> (SealKey, Vec<u8>) {
        let (root, root_der, master) = new_root(root_name);
        let seal = root
            .issue_seal(&subject(department, credit_code), 5, &master)
            .unwrap();
        let key = SealKey::open(seal.certificate_der, &seal.sealed_key, &master).unwrap();
        (key, root_der)
    }

    /// As [`seal_key`], for a seal whose certificate was valid only from `not_before` to
    /// `not_after`; with the root, a time-stamping authority under the same root.
    pub(crate) fn seal_key_within(
        department: &str,
        credit_code: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (SealKey, Vec<u8>, SealKey) {
        let (root, root_der, master) = new_root("测试根证书");
        let params = seal_params(&subject(department, credit_code)).unwrap();
        let seal = root
            .issue_within(params, not_before, not_after, &master)
            .unwrap();
        let key = SealKey::open(seal.certificate_der, &seal.sealed_key, &master).unwrap();
        let tsa = root
            .issue_service_key("测试时间戳", ServiceKeyUse::TimeStamping, None, 1, &master)
            .unwrap();
        let tsa = SealKey::open(tsa.certificate_der, &tsa.sealed_key, &master).unwrap();
        (key, root_der, tsa)
    }

    /// A new root named `name`: the root, its certificate (DER) and the master key.
    fn new_root(name: &str) -> (RootCa, Vec<u8>, MasterKey) {
        let master = MasterKey::from_bytes([3; 32]);
        let stored = RootCa::generate(name, &master).unwrap();
        let root =
            RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        (root, stored.certificate_der, master)
    }

    /// The subject of `department`'s 行政审批专用章, without status URLs.
    fn subject<'a>(department: &'a str, credit_code: &'a str) -> SealSubject<'a> {
        SealSubject {
            department,
            credit_code,
            seal_name: "行政审批专用章",
            status: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn test_status_urls() -> StatusUrls {
        StatusUrls {
            crl: "http://127.0.0.1:8080/api/v1/crl".into(),
            ocsp: "http://127.0.0.1:8080/api/v1/ocsp".into(),
        }
    }

    #[test]
    fn the_crl_revokes_a_seal_certificate_for_openssl() {
        let master = MasterKey::from_bytes([7; 32]);
        let stored = RootCa::generate("测试省电子印章", &master).unwrap();
        let root =
            RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        let status = test_status_urls();
        let subject = |seal_name| SealSubject {
            department: "厦门市市场监督管理局",
            credit_code: "11350200MB0D00000X",
            seal_name,
            status: Some(&status),
        };
        let revoked = root.issue_seal(&subject("公章"), 5, &master).unwrap();
        let kept = root.issue_seal(&subject("合同专用章"), 5, &master).unwrap();
        let (_, revoked_cert) = parse_x509_certificate(&revoked.certificate_der).unwrap();
        let distribution = revoked_cert
            .extensions()
            .iter()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::CRLDistributionPoints(points) => Some(format!("{points:?}")),
                _ => None,
            })
            .unwrap();
        assert!(distribution.contains("http://127.0.0.1:8080/api/v1/crl"));
        let now = OffsetDateTime::now_utc();
        let revocation = Revocation {
            serial: revoked_cert.raw_serial().to_vec(),
            at: now,
        };
        let crl = root.crl(&[revocation], 7, now).unwrap();
        let (_, parsed) = parse_x509_crl(&crl).unwrap();
        assert_eq!(parsed.crl_number().unwrap(), &7u32.into());
        assert_eq!(parsed.iter_revoked_certificates().count(), 1);

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, label: &str, der: &[u8]| {
            std::fs::write(dir.path().join(name), crate::service::pem(label, der)).unwrap();
        };
        write("root.pem", "CERTIFICATE", &stored.certificate_der);
        write("crl.pem", "X509 CRL", &crl);
        write("revoked.pem", "CERTIFICATE", &revoked.certificate_der);
        write("kept.pem", "CERTIFICATE", &kept.certificate_der);
        let verify = |cert: &str| {
            std::process::Command::new("openssl")
                .args([
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    "root.pem",
                    "-CRLfile",
                    "crl.pem",
                ])
                .arg(cert)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command is needed for this test")
        };
        let kept = verify("kept.pem");
        assert!(
            kept.status.success(),
            "{}",
            String::from_utf8_lossy(&kept.stderr)
        );
        let refused = verify("revoked.pem");
        assert!(!refused.status.success());
        let said = String::from_utf8_lossy(&refused.stdout).into_owned()
            + &String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains("certificate revoked"), "{said}");
    }

    #[test]
    fn seal_certificate_chains_to_root_and_names_the_department() {
        let master = MasterKey::from_bytes([7; 32]);
        let stored = RootCa::generate("测试省电子印章", &master).unwrap();
        let root =
            RootCa::open(stored.certificate_der.clone(), &stored.sealed_key, &master).unwrap();
        let seal = root
            .issue_seal(
                &SealSubject {
                    department: "厦门市市场监督管理局",
                    credit_code: "11350200MB0D00000X",
                    seal_name: "行政审批专用章",
                    status: Some(&test_status_urls()),
                },
                5,
                &master,
            )
            .unwrap();
        let (_, root_cert) = parse_x509_certificate(&stored.certificate_der).unwrap();
        let (_, cert) = parse_x509_certificate(&seal.certificate_der).unwrap();
        cert.verify_signature(Some(root_cert.public_key())).unwrap();
        assert_eq!(cert.issuer(), root_cert.subject());
        let subject = cert.subject().to_string();
        assert!(subject.contains("厦门市市场监督管理局"), "{subject}");
        let usage = cert.key_usage().unwrap().unwrap().value;
        assert!(usage.digital_signature() && usage.non_repudiation());
        assert!(!usage.key_cert_sign());

        let key = SealKey::open(seal.certificate_der.clone(), &seal.sealed_key, &master).unwrap();
        let signature = key.sign(b"hello").unwrap();
        let public = cert.public_key().subject_public_key.data.to_vec();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public)
            .verify(b"hello", &signature)
            .unwrap();
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_own_certificate_and_master_key() {
        let master = MasterKey::from_bytes([1; 32]);
        let stored = RootCa::generate("Root", &master).unwrap();
        assert!(SealKey::open(b"other".to_vec(), &stored.sealed_key, &master).is_err());
        let other = MasterKey::from_bytes([2; 32]);
        assert!(RootCa::open(stored.certificate_der, &stored.sealed_key, &other).is_err());
    }
}
