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
    /// The input cannot be opened (not a PDF, broken, encrypted).
    #[error(transparent)]
    Load(#[from] crate::pdf::LoadError),
    /// The page or position asked for does not exist on the document.
    #[error("{0}")]
    Placement(String),
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

/// Where the impression goes, as a person looking at the page sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Placement {
    /// 1-based page number; `None` for the last page.
    pub page: Option<usize>,
    /// Centre in millimetres from the left edge of the displayed page (after /Rotate, within
    /// the CropBox); `None` for the default near the bottom right.
    pub x_mm: Option<f32>,
    /// Centre in millimetres from the top edge of the displayed page.
    pub y_mm: Option<f32>,
}

/// Default distance of the seal's centre from the right and bottom edges, millimetres.
const DEFAULT_INSET_MM: (f32, f32) = (50.0, 45.0);

/// A placement resolved against a page: centre in default user space and the rotation that
/// makes the impression upright on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Resolved {
    page: usize,
    centre: (f32, f32),
    rotate: i64,
}

/// Resolves a placement on `doc`: picks the page, reads its CropBox (or MediaBox) and
/// /Rotate (both inheritable), keeps the seal on the page, and maps displayed coordinates to
/// default user space.
fn resolve(
    doc: &lopdf::Document,
    placement: &Placement,
    diameter_mm: f32,
) -> Result<Resolved, StampError> {
    let pages = doc.get_pages();
    let page = placement.page.unwrap_or(pages.len());
    let page_id = u32::try_from(page)
        .ok()
        .and_then(|n| pages.get(&n))
        .ok_or_else(|| {
            StampError::Placement(format!(
                "the document has {} page(s); page {page} does not exist",
                pages.len()
            ))
        })?;
    let [x0, y0, x1, y1] = inherited(doc, *page_id, b"CropBox")
        .and_then(|o| rectangle(doc, o))
        .or_else(|| inherited(doc, *page_id, b"MediaBox").and_then(|o| rectangle(doc, o)))
        .unwrap_or([0.0, 0.0, 595.0, 842.0]);
    let rotate = inherited(doc, *page_id, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(0)
        .rem_euclid(360)
        / 90
        * 90;
    let (width, height) = if rotate % 180 == 0 {
        (x1 - x0, y1 - y0)
    } else {
        (y1 - y0, x1 - x0)
    };
    let radius = mm_to_pt(diameter_mm) / 2.0;
    let keep_inside = |value: f32, extent: f32| {
        if extent <= 2.0 * radius {
            extent / 2.0
        } else {
            value.clamp(radius, extent - radius)
        }
    };
    let u = placement
        .x_mm
        .map_or(width - mm_to_pt(DEFAULT_INSET_MM.0), mm_to_pt);
    let v = placement
        .y_mm
        .map_or(height - mm_to_pt(DEFAULT_INSET_MM.1), mm_to_pt);
    if !u.is_finite() || !v.is_finite() {
        return Err(StampError::Placement(
            "the position must be a number".into(),
        ));
    }
    let (u, v) = (keep_inside(u, width), keep_inside(v, height));
    let centre = match rotate {
        90 => (x0 + v, y0 + u),
        180 => (x1 - u, y0 + v),
        270 => (x1 - v, y1 - u),
        _ => (x0 + u, y1 - v),
    };
    Ok(Resolved {
        page,
        centre,
        rotate,
    })
}

/// A page attribute, looked up through the page tree's parents (depth-limited).
fn inherited<'a>(
    doc: &'a lopdf::Document,
    page_id: lopdf::ObjectId,
    key: &[u8],
) -> Option<&'a lopdf::Object> {
    let mut node = doc.get_dictionary(page_id).ok()?;
    for _ in 0..32 {
        if let Ok(value) = node.get(key) {
            return Some(value);
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

/// A rectangle `[llx lly urx ury]`, normalised.
fn rectangle(doc: &lopdf::Document, object: &lopdf::Object) -> Option<[f32; 4]> {
    let array = match object {
        lopdf::Object::Reference(id) => doc.get_object(*id).ok()?.as_array().ok()?,
        other => other.as_array().ok()?,
    };
    let numbers: Vec<f32> = array
        .iter()
        .filter_map(|n| {
            n.as_float()
                .ok()
                .or_else(|| n.as_i64().ok().map(|i| i as f32))
        })
        .collect();
    let [a, b, c, d] = numbers.as_slice() else {
        return None;
    };
    Some([a.min(*c), b.min(*d), a.max(*c), b.max(*d)])
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

/// Turns the appearance so that it reads upright on a page shown with `/Rotate rotate`: the
/// viewer turns the page clockwise, so the form is turned counter-clockwise by as much.
fn upright(doc: &mut lopdf::Document, appearance: lopdf::ObjectId, rotate: i64) {
    if rotate == 0 {
        return;
    }
    let (cos, sin) = match rotate {
        90 => (0, 1),
        180 => (-1, 0),
        _ => (0, -1),
    };
    if let Ok(lopdf::Object::Stream(stream)) = doc.get_object_mut(appearance) {
        stream.dict.set(
            "Matrix",
            vec![
                cos.into(),
                sin.into(),
                (-sin).into(),
                cos.into(),
                0.into(),
                0.into(),
            ],
        );
    }
}

/// Seals `original` and returns the stamped file: the original bytes plus one incremental
/// update.
pub fn stamp(
    original: &[u8],
    stamp: &Stamp<'_>,
    font: &FontProgram,
    at: OffsetDateTime,
) -> Result<Vec<u8>, StampError> {
    let mut doc = crate::pdf::load(original)?;
    let original_max_id = doc.max_id;
    let resolved = resolve(&doc, &stamp.placement, stamp.impression.diameter_mm)?;
    let appearance = appearance::add_seal_xobject(&mut doc, stamp.impression, font)?;
    upright(&mut doc, appearance, resolved.rotate);
    let half = mm_to_pt(stamp.impression.diameter_mm) / 2.0;
    let (x, y) = resolved.centre;
    let field = SignatureField {
        name: format!("Seal{}", at.unix_timestamp_nanos()),
        page: resolved.page,
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
