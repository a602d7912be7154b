//! Holders (持证主体): a company or a citizen lists and downloads its own licences, as PDF and
//! as a QR image, and the certificates a counter needs to check QR codes offline.
//!
//! A holder authenticates with a bearer JWT whose `sub` is its credit code or ID number. The
//! installation issues such tokens itself (`POST /api/v1/holder-tokens`, ES256, signed by a key
//! under its root), standing in for the provincial identity provider (e.g. 闽政通 login); an
//! external provider is configured with [`HolderIssuer`] and its tokens are accepted the same
//! way, so replacing ours needs no code change.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;

use super::{pem, rfc3339, App, LicenceView, Principal, ServiceError};
use crate::domain::HolderCode;
use crate::licence::credential;
use crate::pki::{jws, SealKey};
use crate::storage::LicenceFilter;

/// `typ` of the holder tokens this installation issues.
const HOLDER_TOKEN_TYPE: &str = "JWT";
/// Audience of the holder tokens this installation issues.
const HOLDER_AUDIENCE: &str = "zhengyin-holder";
/// Longest life of a holder token.
const MAX_TOKEN_HOURS: i64 = 24 * 30;
/// Most licences listed for one holder.
const MAX_HOLDER_LICENCES: i64 = 1000;

/// An external identity provider whose ES256 JWTs identify holders (`sub` = credit code or
/// ID number).
#[derive(Debug, Clone)]
pub struct HolderIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// The `aud` its tokens must carry, if it sets one.
    pub audience: Option<String>,
    /// Its signing key: a PEM `PUBLIC KEY` (P-256).
    pub public_key_pem: String,
}

/// A request for a holder token.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"holder_code": "91350100M000100Y43", "hours": 8}))]
pub struct HolderTokenRequest {
    /// The holder's credit code or ID number.
    pub holder_code: String,
    /// Hours until it expires (default 8, at most 720).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 720)]
    pub hours: Option<i64>,
}

/// A holder token, as issued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HolderToken {
    /// The bearer token.
    pub token: String,
    /// Whose it is (ID numbers masked).
    pub holder_code: String,
    /// When it expires, RFC 3339.
    pub expires_at: String,
}

/// Claims of a holder token.
#[derive(Debug, Serialize, Deserialize)]
struct HolderClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    exp: i64,
}

/// How holder tokens are checked.
pub(super) struct HolderVerifier {
    own_key_id: String,
    own_key: DecodingKey,
    own_issuer: String,
    external: Option<(HolderIssuer, DecodingKey)>,
}

impl HolderVerifier {
    pub(super) fn new(
        signer: &SealKey,
        own_issuer: &str,
        external: Option<HolderIssuer>,
    ) -> Result<Self, ServiceError> {
        let certificate = x509_parser::parse_x509_certificate(signer.certificate_der())
            .map_err(|e| ServiceError::Internal(format!("holder-token certificate: {e}")))?
            .1;
        let own_key = DecodingKey::from_ec_der(&certificate.public_key().subject_public_key.data);
        let external = external
            .map(|issuer| {
                DecodingKey::from_ec_pem(issuer.public_key_pem.as_bytes())
                    .map(|key| (issuer, key))
                    .map_err(|e| {
                        ServiceError::Internal(format!(
                            "the holder identity provider's key is not a P-256 PEM public key: {e}"
                        ))
                    })
            })
            .transpose()?;
        Ok(HolderVerifier {
            own_key_id: jws::key_id(signer.certificate_der()),
            own_key,
            own_issuer: own_issuer.to_string(),
            external,
        })
    }

    /// The holder a token identifies; any defect is [`ServiceError::Unauthenticated`].
    fn holder(&self, token: &str) -> Result<HolderCode, ServiceError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| ServiceError::Unauthenticated)?;
        let (key, issuer, audience) = if header.kid.as_deref() == Some(&self.own_key_id) {
            (&self.own_key, &self.own_issuer, Some(HOLDER_AUDIENCE))
        } else if let Some((external, key)) = &self.external {
            (key, &external.issuer, external.audience.as_deref())
        } else {
            return Err(ServiceError::Unauthenticated);
        };
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        #[derive(Deserialize)]
        struct Subject {
            sub: String,
        }
        let claims = jsonwebtoken::decode::<Subject>(token, key, &validation)
            .map_err(|_| ServiceError::Unauthenticated)?
            .claims;
        HolderCode::parse(&claims.sub).map_err(|_| ServiceError::Unauthenticated)
    }
}

/// Whether a bearer credential looks like a JWT rather than an API key.
pub(super) fn is_token(credential: &str) -> bool {
    credential.split('.').count() == 3 && !credential.starts_with("zy_")
}

impl App {
    /// The holder a bearer token identifies.
    pub(super) fn authenticate_holder(&self, token: &str) -> Result<Principal, ServiceError> {
        Ok(Principal::Holder {
            holder_code: self.holder_verifier.holder(token)?,
        })
    }

    /// Issues a holder token (administrator only: the stand-in for the identity provider,
    /// which checks who the person is before asking for one).
    pub async fn issue_holder_token(
        &self,
        principal: &Principal,
        request: HolderTokenRequest,
    ) -> Result<HolderToken, ServiceError> {
        principal.require_admin("(the identity provider) issues holder tokens")?;
        let holder =
            HolderCode::parse(&request.holder_code).map_err(|e| ServiceError::InvalidField {
                field: "holder_code".into(),
                message: e.to_string(),
            })?;
        let hours = request.hours.unwrap_or(8);
        if !(1..=MAX_TOKEN_HOURS).contains(&hours) {
            return Err(ServiceError::InvalidField {
                field: "hours".into(),
                message: format!("must be 1 to {MAX_TOKEN_HOURS}"),
            });
        }
        let now = OffsetDateTime::now_utc();
        let expires = now + Duration::hours(hours);
        let claims = HolderClaims {
            iss: self.public_url.clone(),
            aud: HOLDER_AUDIENCE.into(),
            sub: holder.to_string(),
            iat: now.unix_timestamp(),
            exp: expires.unix_timestamp(),
        };
        let token = jws::sign(&self.holder_signer, HOLDER_TOKEN_TYPE, &claims)?;
        self.record(
            Some(principal),
            "holder.token",
            &holder.masked(),
            None,
            "ok",
        )
        .await?;
        Ok(HolderToken {
            token,
            holder_code: holder.masked(),
            expires_at: rfc3339(expires),
        })
    }

    /// The caller's own licences (holders only), newest first, as of today.
    pub async fn holder_licences(
        &self,
        principal: &Principal,
    ) -> Result<Vec<LicenceView>, ServiceError> {
        let Principal::Holder { holder_code } = principal else {
            return Err(ServiceError::Forbidden(
                "only a holder lists its own licences; departments search the library".into(),
            ));
        };
        let filter = LicenceFilter {
            holder_code: Some(holder_code.to_string()),
            ..LicenceFilter::default()
        };
        let (_, views) = self.licence_views(&filter, MAX_HOLDER_LICENCES, 0).await?;
        self.record(
            Some(principal),
            "holder.list",
            &holder_code.masked(),
            None,
            "ok",
        )
        .await?;
        Ok(views)
    }

    /// The QR code of a licence version as a PNG: the same text as printed on its PDF. Who may
    /// have it, and the record of it, are as for the PDF.
    pub async fn licence_qr_png(
        &self,
        caller: Option<&Principal>,
        id: &str,
        reason: Option<&str>,
    ) -> Result<(String, Vec<u8>), ServiceError> {
        let (licence, version) = self.find_version(id).await?;
        let reason = self.may_download(caller, &licence, reason)?;
        let text = version.qr_payload.clone().unwrap_or_else(|| {
            format!("{}/verify/licences/{}", self.public_url, version.identifier)
        });
        let png = credential::qr_png(&text).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.record_download(caller, "licence.qr", &version, reason)
            .await?;
        Ok((version.identifier, png))
    }

    /// The certificates a counter needs to check QR codes offline, as one PEM bundle: this
    /// installation's root, then every department's seal certificates.
    pub async fn published_certificates(&self) -> Result<String, ServiceError> {
        let mut bundle = format!(
            "# 证印 zhengyin: root and seal certificates for offline verification\n{}",
            pem("CERTIFICATE", self.root.certificate_der())
        );
        for seal in self.store.seal_certificates().await? {
            bundle.push_str(&format!(
                "# {} ({}) {}\n{}",
                seal.department,
                seal.credit_code,
                seal.seal_name,
                pem("CERTIFICATE", &seal.certificate)
            ));
        }
        Ok(bundle)
    }

    /// The same bundle as [`crate::pki::chain::CertificateSet`], for checking QR codes online.
    pub(super) async fn certificate_set(
        &self,
    ) -> Result<crate::pki::chain::CertificateSet, ServiceError> {
        let certificates = self
            .store
            .seal_certificates()
            .await?
            .into_iter()
            .map(|seal| seal.certificate)
            .collect();
        Ok(crate::pki::chain::CertificateSet::new(
            vec![self.root.certificate_der().to_vec()],
            certificates,
        ))
    }
}
