//! Stamping: a department's seal applied to a PDF as a PAdES B-B signature with the visible
//! seal impression. Ties together the four separate steps in `pdf`: lay out the appearance,
//! embed the field and placeholder, make the CMS signature, and fill it in.

use time::OffsetDateTime;

use crate::pdf::appearance::{self, SealImpression};
use crate::pdf::embed::{self, SignatureField, SignatureInfo};
use crate::pdf::font::FontProgram;
use crate::pdf::sign::{self, RawSigner, SignError, SignatureAlgorithm};
use crate::pki::SealKey;

/// Errors while stamping.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// The input is not a PDF lopdf can read.
    #[error("the file is not a readable PDF: {0}")]
    Unreadable(String),
    /// The seal impression could not be drawn (e.g. a glyph the font lacks).
    #[error("the seal impression cannot be drawn: {0}")]
    Appearance(#[from] appearance::AppearanceError),
    /// The signature update could not be written.
    #[error(transparent)]
    Embed(#[from] embed::EmbedError),
    /// The CMS signature could not be made.
    #[error("signing failed: {0}")]
    Sign(#[from] SignError),
}

/// Where the impression goes: page (1-based) and centre in default user space (points).
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// 1-based page number.
    pub page: usize,
    /// Centre, x in points from the left.
    pub centre_x: f32,
    /// Centre, y in points from the bottom.
    pub centre_y: f32,
}

/// Everything a stamping needs besides the document.
pub struct Stamp<'a> {
    /// The seal's key and certificate.
    pub key: &'a SealKey,
    /// Certificates above the seal certificate (the root), DER.
    pub chain: &'a [Vec<u8>],
    /// What the impression shows.
    pub impression: &'a SealImpression,
    /// Where it goes.
    pub placement: Placement,
    /// Signer name, reason and location for the signature dictionary.
    pub signer_name: &'a str,
    /// Why the document is sealed.
    pub reason: &'a str,
    /// Where (the department's division, say).
    pub location: &'a str,
}

/// Adapts a seal key to the CMS builder.
struct SealSigner<'a>(&'a SealKey);

impl RawSigner for SealSigner<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaP256Sha256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0
            .sign(message)
            .map_err(|e| SignError::Key(e.to_string()))
    }
}

/// Millimetres to points.
pub fn mm_to_pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// Seals `original` and returns the stamped file: the original bytes plus one incremental
/// update.
pub fn stamp(
    original: &[u8],
    stamp: &Stamp<'_>,
    font: &FontProgram,
    at: OffsetDateTime,
) -> Result<Vec<u8>, StampError> {
    let mut doc =
        lopdf::Document::load_mem(original).map_err(|e| StampError::Unreadable(e.to_string()))?;
    let original_max_id = doc.max_id;
    let appearance = appearance::add_seal_xobject(&mut doc, stamp.impression, font)?;
    let half = mm_to_pt(stamp.impression.diameter_mm) / 2.0;
    let Placement {
        page,
        centre_x: x,
        centre_y: y,
    } = stamp.placement;
    let field = SignatureField {
        name: format!("Seal{}", at.unix_timestamp_nanos()),
        page,
        rect: [x - half, y - half, x + half, y + half],
        appearance,
    };
    let info = SignatureInfo {
        signing_time: at,
        signer_name: stamp.signer_name.to_string(),
        reason: stamp.reason.to_string(),
        location: stamp.location.to_string(),
    };
    let signer = SealSigner(stamp.key);
    let cert = stamp.key.certificate_der();
    // Reserve exactly what a real signature needs: build one over a dummy digest and allow for
    // the few bytes an ECDSA DER signature can vary by.
    let capacity = sign::cades_detached(&signer, cert, stamp.chain, &[0; 32])?.len() + 16;
    let prepared = embed::prepare(original, &mut doc, original_max_id, &field, &info, capacity)?;
    let cms = sign::cades_detached(&signer, cert, stamp.chain, &prepared.digest())?;
    Ok(prepared.finish(&cms)?)
}
