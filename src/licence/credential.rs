//! The licence's QR code, checkable with no network (离线核验).
//!
//! # Format
//!
//! The QR code holds `{public URL}/verify/licences/{identifier}#{token}`:
//! - a phone camera opens the URL, which verifies online and adds the licence's current status;
//! - the fragment (browsers do not send it) is a compact JWS (RFC 7515) signed with ES256 by
//!   the issuing department's seal key, the same key that signs the licence PDF. Header:
//!   `{"alg":"ES256","typ":"zy-licence+jwt","kid":K}`, where K names the seal certificate
//!   ([`crate::pki::jws::key_id`]). Claims ([`LicenceClaims`]): `iss` issuer's credit code,
//!   `sub` the licence identifier (with version), `iat` signing time (Unix seconds), `kn` kind
//!   name, `hc` holder's credit code or ID number, `hn` holder's name, `vf` first valid day and
//!   `vt` last valid day (`null` for 长期), as `YYYY-MM-DD`.
//!
//! A counter checks it offline ([`verify_offline`]) against the installation's published
//! certificates (`GET /api/v1/certificates`, fetched beforehand): the signing certificate must
//! chain to a root in that set and be valid at `iat`, the signature must hold, `iss` must be the
//! certificate's organisation and `sub` the identifier in the URL. What the offline check
//! cannot know is a later suspension or revocation; online verification adds that.

use std::io::Cursor;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::pdf::qr::QrModules;
use crate::pki::chain::CertificateSet;
use crate::pki::{self, PkiError, SealKey};

/// `typ` of the licence token.
pub const TOKEN_TYPE: &str = "zy-licence+jwt";
/// Pixels per QR module in [`qr_png`].
const PNG_MODULE_PX: usize = 8;
/// Light modules around the code, as ISO/IEC 18004 asks.
const QUIET_ZONE: usize = 4;
/// OID of the X.520 organizationIdentifier attribute (the department's credit code).
const ORGANIZATION_IDENTIFIER: &str = "2.5.4.97";

/// What the department signs into a licence's QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LicenceClaims {
    /// Issuing department's credit code.
    pub iss: String,
    /// Licence identifier, with version and check character.
    pub sub: String,
    /// Signing time, Unix seconds.
    pub iat: i64,
    /// Kind name, e.g. 营业执照.
    pub kn: String,
    /// Holder's credit code or ID number.
    pub hc: String,
    /// Holder's name.
    pub hn: String,
    /// First valid day, `YYYY-MM-DD`.
    pub vf: String,
    /// Last valid day, `YYYY-MM-DD`; `None` for 长期.
    #[schema(required = true)]
    pub vt: Option<String>,
}

/// Why a QR code does not check out.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The text carries no signed payload (an old licence, or not one of ours).
    #[error("the QR code carries no signed payload")]
    NoToken,
    /// The token or its header does not parse.
    #[error("the signed payload is malformed: {0}")]
    Malformed(String),
    /// No published certificate has the token's key id.
    #[error("no published certificate matches the payload's key id '{0}'")]
    UnknownSigner(String),
    /// The signature does not hold: the payload was altered or signed by another key.
    #[error("the payload's signature is invalid")]
    BadSignature,
    /// The signing certificate does not chain to a trusted root at the signing time.
    #[error("the signing certificate is not trusted: {0}")]
    Untrusted(String),
    /// The payload contradicts its certificate or its URL.
    #[error("{0}")]
    Inconsistent(String),
    /// An image that is not a readable PNG, or holds no readable QR code.
    #[error("{0}")]
    Image(String),
}

/// Signs the claims with the department's seal key.
pub fn sign(claims: &LicenceClaims, key: &SealKey) -> Result<String, PkiError> {
    pki::jws::sign(key, TOKEN_TYPE, claims)
}

/// The text of the QR code: the verification URL, with the token as fragment.
pub fn qr_text(public_url: &str, identifier: &str, token: &str) -> String {
    format!("{public_url}/verify/licences/{identifier}#{token}")
}

/// The parts of a scanned QR text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedQr<'a> {
    /// The identifier in the URL (or the whole text, when it is a bare identifier).
    pub identifier: Option<&'a str>,
    /// The signed payload, if any.
    pub token: Option<&'a str>,
}

/// Splits a scanned text into the URL's identifier and the token. Accepts the full QR text,
/// a bare URL, a bare identifier, or a bare token.
pub fn scan(text: &str) -> ScannedQr<'_> {
    let text = text.trim();
    let (head, token) = match text.split_once('#') {
        Some((head, token)) => (head, Some(token).filter(|t| !t.is_empty())),
        None if text.matches('.').count() == 2 && !text.contains('/') => ("", Some(text)),
        None => (text, None),
    };
    let identifier = match head.rsplit_once("/verify/licences/") {
        Some((_, rest)) => rest.split(['?', '/']).next(),
        None => Some(head),
    }
    .filter(|id| !id.is_empty());
    ScannedQr { identifier, token }
}

/// A QR code that checked out offline.
#[derive(Debug, Clone, Serialize)]
pub struct OfflineCheck {
    /// The signed claims.
    pub claims: LicenceClaims,
    /// Subject of the signing certificate.
    pub signer: String,
    /// Subject of the root it chains to.
    pub root: String,
    /// Whether `on` falls inside the signed validity period. Suspension and revocation after
    /// issue are not visible offline.
    pub within_validity: bool,
}

/// Checks a scanned QR text against the certificates, and the signed validity against `on`.
pub fn verify_offline(
    text: &str,
    certificates: &CertificateSet,
    on: Date,
) -> Result<OfflineCheck, CredentialError> {
    let scanned = scan(text);
    let token = scanned.token.ok_or(CredentialError::NoToken)?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::ES256 || header.typ.as_deref() != Some(TOKEN_TYPE) {
        return Err(CredentialError::Malformed(format!(
            "expected an ES256 token of type {TOKEN_TYPE}"
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| CredentialError::Malformed("the header has no key id".into()))?;
    let known = certificates.certificates();
    let roots = certificates.roots();
    let signer = known
        .iter()
        .chain(&roots)
        .find(|cert| pki::jws::key_id(cert.as_raw()) == kid)
        .ok_or_else(|| CredentialError::UnknownSigner(kid.clone()))?;

    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let key = DecodingKey::from_ec_der(&signer.public_key().subject_public_key.data);
    let claims = jsonwebtoken::decode::<LicenceClaims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => CredentialError::BadSignature,
            _ => CredentialError::Malformed(e.to_string()),
        })?
        .claims;

    let signed_at = OffsetDateTime::from_unix_timestamp(claims.iat)
        .map_err(|_| CredentialError::Malformed("iat is out of range".into()))?;
    let root = pki::chain::chain_to_anchor(signer, &known, &roots, signed_at)
        .map_err(CredentialError::Untrusted)?;
    let organisation = signer
        .subject()
        .iter_attributes()
        .find(|attr| attr.attr_type().to_id_string() == ORGANIZATION_IDENTIFIER)
        .and_then(|attr| attr.as_str().ok());
    if organisation != Some(claims.iss.as_str()) {
        return Err(CredentialError::Inconsistent(format!(
            "the payload names issuer {} but is signed by {}",
            claims.iss,
            signer.subject()
        )));
    }
    if let Some(identifier) = scanned.identifier.filter(|_| text.contains('/')) {
        if identifier != claims.sub {
            return Err(CredentialError::Inconsistent(format!(
                "the URL names licence {identifier} but the signed payload {}",
                claims.sub
            )));
        }
    }
    let day = on.to_string();
    let within_validity =
        claims.vf.as_str() <= day.as_str() && claims.vt.as_ref().is_none_or(|to| &day <= to);
    Ok(OfflineCheck {
        signer: signer.subject().to_string(),
        root,
        within_validity,
        claims,
    })
}

/// The QR code of `text` as a greyscale PNG, 8 pixels per module with a 4-module quiet zone.
pub fn qr_png(text: &str) -> Result<Vec<u8>, CredentialError> {
    let code = QrModules::encode(text.as_bytes())
        .ok_or_else(|| CredentialError::Image("the text is too long for a QR code".into()))?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * PNG_MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for index in 0..modules * modules {
        let (row, col) = (index / modules, index % modules);
        if !code.is_dark(row, col) {
            continue;
        }
        for y in 0..PNG_MODULE_PX {
            let start = ((QUIET_ZONE + row) * PNG_MODULE_PX + y) * side
                + (QUIET_ZONE + col) * PNG_MODULE_PX;
            pixels[start..start + PNG_MODULE_PX].fill(0);
        }
    }
    let mut png = Vec::new();
    let side = u32::try_from(side).map_err(|_| CredentialError::Image("too large".into()))?;
    let mut encoder = png::Encoder::new(Cursor::new(&mut png), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let image_error = |e: png::EncodingError| CredentialError::Image(e.to_string());
    let mut writer = encoder.write_header().map_err(image_error)?;
    writer.write_image_data(&pixels).map_err(image_error)?;
    writer.finish().map_err(image_error)?;
    Ok(png)
}

/// Reads the QR code in a PNG image (a photo or a screenshot), with rqrr.
pub fn read_qr_png(png_bytes: &[u8]) -> Result<String, CredentialError> {
    let unreadable = |e: png::DecodingError| CredentialError::Image(format!("not a PNG: {e}"));
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(unreadable)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| CredentialError::Image("the image is too large".into()))?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(unreadable)?;
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let luma = |x: usize, y: usize| -> u8 {
        let at = y * frame.line_size + x * channels;
        match channels {
            1 | 2 => buffer[at],
            _ => {
                let [r, g, b] = [buffer[at], buffer[at + 1], buffer[at + 2]].map(u32::from);
                ((r * 299 + g * 587 + b * 114) / 1000) as u8
            }
        }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, luma);
    let grids = image.detect_grids();
    let grid = grids
        .first()
        .ok_or_else(|| CredentialError::Image("no QR code found in the image".into()))?;
    let (_, text) = grid
        .decode()
        .map_err(|e| CredentialError::Image(format!("the QR code is unreadable: {e}")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root and a department seal key under it.
    fn department_key(root_name: &str) -> (Vec<u8>, SealKey) {
        let (key, root) =
            crate::pki::testing::seal_key(root_name, "厦门市市场监督管理局", "11350200MB0D00002U");
        (root, key)
    }

    fn claims() -> LicenceClaims {
        LicenceClaims {
            iss: "11350200MB0D00002U".into(),
            sub: "1.2.156.3005.2.11350200MB0D00002U001.11350200MB0D00002U.0000001.001.K".into(),
            iat: OffsetDateTime::now_utc().unix_timestamp(),
            kn: "营业执照".into(),
            hc: "91350100M000100Y43".into(),
            hn: "厦门市鹭岛数字科技有限公司".into(),
            vf: "2026-01-01".into(),
            vt: Some("2030-12-31".into()),
        }
    }

    fn on(day: &str) -> Date {
        Date::parse(day, &time::format_description::well_known::Iso8601::DATE).unwrap()
    }

    #[test]
    fn a_signed_qr_code_round_trips_through_a_png_and_checks_out_offline() {
        let (root, key) = department_key("测试根");
        let claims = claims();
        let token = sign(&claims, &key).unwrap();
        let text = qr_text("https://zz.example.gov.cn", &claims.sub, &token);
        let read = read_qr_png(&qr_png(&text).unwrap()).unwrap();
        assert_eq!(read, text);

        let set = CertificateSet::new(vec![root], vec![key.certificate_der().to_vec()]);
        let check = verify_offline(&read, &set, on("2027-06-01")).unwrap();
        assert_eq!(check.claims, claims);
        assert!(check.within_validity);
        assert!(check.signer.contains("行政审批专用章"), "{}", check.signer);
        assert!(
            !verify_offline(&read, &set, on("2031-01-01"))
                .unwrap()
                .within_validity
        );
        // The bare token checks out too.
        assert!(verify_offline(&token, &set, on("2027-06-01")).is_ok());
    }

    #[test]
    fn altered_foreign_or_mismatched_codes_are_refused() {
        let (root, key) = department_key("测试根");
        let claims = claims();
        let token = sign(&claims, &key).unwrap();
        let set = CertificateSet::new(vec![root.clone()], vec![key.certificate_der().to_vec()]);
        let today = on("2027-06-01");

        // Another holder name in the signed claims: the signature no longer holds.
        let parts: Vec<&str> = token.split('.').collect();
        let mut altered = claims.clone();
        altered.hn = "厦门市冒名科技有限公司".into();
        let forged_claims = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&altered).unwrap(),
        );
        let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
        assert!(matches!(
            verify_offline(&forged, &set, today),
            Err(CredentialError::BadSignature)
        ));

        // A key under a root the verifier does not trust.
        let (_, stranger) = department_key("另一个根");
        let foreign = sign(&claims, &stranger).unwrap();
        let with_stranger =
            CertificateSet::new(vec![root], vec![stranger.certificate_der().to_vec()]);
        assert!(matches!(
            verify_offline(&foreign, &with_stranger, today),
            Err(CredentialError::Untrusted(_))
        ));
        assert!(matches!(
            verify_offline(&foreign, &set, today),
            Err(CredentialError::UnknownSigner(_))
        ));

        // A genuine token under another licence's URL.
        let text = qr_text("https://zz.example.gov.cn", "1.2.156.3005.2.OTHER", &token);
        assert!(matches!(
            verify_offline(&text, &set, today),
            Err(CredentialError::Inconsistent(_))
        ));
        // No token at all.
        assert!(matches!(
            verify_offline("https://zz.example.gov.cn/verify/licences/X", &set, today),
            Err(CredentialError::NoToken)
        ));
        assert!(matches!(
            read_qr_png(b"not a png"),
            Err(CredentialError::Image(_))
        ));
    }

    #[test]
    fn scanned_texts_split_into_identifier_and_token() {
        let id = "1.2.156.3005.2.X.Y.0000001.001.K";
        assert_eq!(
            scan(&format!("https://a.gov.cn/verify/licences/{id}#h.c.s")),
            ScannedQr {
                identifier: Some(id),
                token: Some("h.c.s")
            }
        );
        assert_eq!(
            scan(&format!("https://a.gov.cn/verify/licences/{id}")),
            ScannedQr {
                identifier: Some(id),
                token: None
            }
        );
        assert_eq!(
            scan(id),
            ScannedQr {
                identifier: Some(id),
                token: None
            }
        );
        assert_eq!(
            scan(" h.c.s "),
            ScannedQr {
                identifier: None,
                token: Some("h.c.s")
            }
        );
    }
}
