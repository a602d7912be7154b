//! Compact JWS (RFC 7515) signed with ES256 by a [`SealKey`]: the holder tokens and the signed
//! payload of a licence's QR code.
//!
//! Tokens are verified with jsonwebtoken. Signing is written here because jsonwebtoken signs
//! only with a PKCS#8 key it is handed, and our private keys never leave [`SealKey`]; a
//! compact JWS is two base64url-encoded JSON texts and a signature, joined by dots.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use serde::Serialize;

use super::{PkiError, SealKey};

/// The `kid` that names a certificate in a token's header: base64url of the first 12 bytes
/// of the SHA-256 of its DER (short, because QR codes are small; 96 bits cannot collide by
/// accident among one installation's certificates).
pub fn key_id(certificate_der: &[u8]) -> String {
    let thumbprint = digest::digest(&digest::SHA256, certificate_der);
    URL_SAFE_NO_PAD.encode(&thumbprint.as_ref()[..12])
}

/// Signs `claims` as a compact JWS with header `{"alg":"ES256","typ":typ,"kid":…}`, the kid
/// naming `key`'s certificate.
pub fn sign(key: &SealKey, typ: &str, claims: &impl Serialize) -> Result<String, PkiError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'static str,
        typ: &'a str,
        kid: String,
    }
    let header = Header {
        alg: "ES256",
        typ,
        kid: key_id(key.certificate_der()),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json(&header)?),
        URL_SAFE_NO_PAD.encode(json(claims)?)
    );
    let signature = key.sign_fixed(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PkiError> {
    serde_json::to_vec(value).map_err(|_| PkiError::Malformed("token claims do not serialise"))
}
