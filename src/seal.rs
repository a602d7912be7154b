//! Stamping: a department's seal applied to a PDF as a PAdES B-B or B-T signature with the
//! visible seal impression. Ties together the four separate steps in `pdf`: lay out the appearance,
//! embed the field and placeholder, make the CMS signature, and fill it in.

use time::OffsetDateTime;

use crate::pdf::appearance::{self, SealForm};
use crate::pdf::embed::{self, SignatureField, SignatureInfo, SignatureKind, UpdatedPdf, Widget};
use crate::pdf::sign::{self, SignError, TimeStamper};
use crate::pdf::text_locate;
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
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// 1-based page number; `None` for the last page (with `keyword`: any page). Ignored for
    /// a cross-page seal.
    pub page: Option<usize>,
    /// Centre in millimetres from the left edge of the displayed page (after /Rotate, within
    /// the CropBox); `None` for the default near the bottom right. Ignored for a cross-page
    /// seal, which always sits on the right edge.
    pub x_mm: Option<f32>,
    /// Centre in millimetres from the top edge of the displayed page; `None` for the default
    /// (near the bottom; the middle of the edge for a cross-page seal).
    pub y_mm: Option<f32>,
    /// Centre the impression on the last place this text is drawn (on `page`, if given),
    /// e.g. the department's name under a notice; excludes `x_mm`, `y_mm` and `cross_page`.
    pub keyword: Option<String>,
    /// A cross-page seal (骑缝章): the impression cut into one vertical slice per page, slice
    /// i on the right edge of page i, all one signature.
    pub cross_page: bool,
}

/// The PAdES baseline level of a seal (ETSI EN 319 142-1), each adding to the one before.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
pub enum SealLevel {
    /// B-B: the signature alone; its time is only the signer's claim.
    #[serde(rename = "B-B")]
    Basic,
    /// B-T: with a time-stamp token over the signature, proving it existed at that time.
    #[default]
    #[serde(rename = "B-T")]
    Timestamped,
    /// B-LT: with the certificates and CRL a validator needs in the document security store,
    /// so the seal can be checked after the CA's services are gone.
    #[serde(rename = "B-LT")]
    LongTerm,
    /// B-LTA: with a document time-stamp over all of it, renewed before its authority's
    /// certificate expires.
    #[serde(rename = "B-LTA")]
    Archival,
}

impl std::str::FromStr for SealLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "B-B" => Ok(SealLevel::Basic),
            "B-T" => Ok(SealLevel::Timestamped),
            "B-LT" => Ok(SealLevel::LongTerm),
            "B-LTA" => Ok(SealLevel::Archival),
            other => Err(format!(
                "unknown level {other}: use B-B, B-T, B-LT or B-LTA"
            )),
        }
    }
}

/// Default distance of the seal's centre from the right and bottom edges, millimetres.
const DEFAULT_INSET_MM: (f32, f32) = (50.0, 45.0);

/// A page as displayed: its visible box and rotation, mapping displayed positions (points
/// from the top-left corner the reader sees) to default user space.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PageFrame {
    number: usize,
    crop: [f32; 4],
    rotate: i64,
}

impl PageFrame {
    /// Reads page `number`'s CropBox (or MediaBox) and /Rotate, both inheritable.
    fn of(doc: &lopdf::Document, number: usize) -> Result<PageFrame, StampError> {
        let pages = doc.get_pages();
        let page_id = u32::try_from(number)
            .ok()
            .and_then(|n| pages.get(&n))
            .ok_or_else(|| {
                StampError::Placement(format!(
                    "the document has {} page(s); page {number} does not exist",
                    pages.len()
                ))
            })?;
        let crop = inherited(doc, *page_id, b"CropBox")
            .and_then(|o| rectangle(doc, o))
            .or_else(|| inherited(doc, *page_id, b"MediaBox").and_then(|o| rectangle(doc, o)))
            .unwrap_or([0.0, 0.0, 595.0, 842.0]);
        let rotate = inherited(doc, *page_id, b"Rotate")
            .and_then(|o| o.as_i64().ok())
            .unwrap_or(0)
            .rem_euclid(360)
            / 90
            * 90;
        Ok(PageFrame {
            number,
            crop,
            rotate,
        })
    }

    /// Displayed width and height, points.
    fn size(&self) -> (f32, f32) {
        let [x0, y0, x1, y1] = self.crop;
        if self.rotate % 180 == 0 {
            (x1 - x0, y1 - y0)
        } else {
            (y1 - y0, x1 - x0)
        }
    }

    /// The displayed point of the default user space point `(x, y)`; inverse of
    /// [`PageFrame::user_point`].
    fn displayed_point(&self, x: f32, y: f32) -> (f32, f32) {
        let [x0, y0, x1, y1] = self.crop;
        match self.rotate {
            90 => (y - y0, x - x0),
            180 => (x1 - x, y - y0),
            270 => (y1 - y, x1 - x),
            _ => (x - x0, y1 - y),
        }
    }

    /// Default user space of the displayed point `(u, v)`.
    fn user_point(&self, u: f32, v: f32) -> (f32, f32) {
        let [x0, y0, x1, y1] = self.crop;
        match self.rotate {
            90 => (x0 + v, y0 + u),
            180 => (x1 - u, y0 + v),
            270 => (x1 - v, y1 - u),
            _ => (x0 + u, y1 - v),
        }
    }

    /// The widget rectangle in user space for a displayed box of `width` × `height` centred
    /// at `(u, v)`.
    fn user_rect(&self, (u, v): (f32, f32), width: f32, height: f32) -> [f32; 4] {
        let (a, b) = self.user_point(u - width / 2.0, v - height / 2.0);
        let (c, d) = self.user_point(u + width / 2.0, v + height / 2.0);
        [a.min(c), b.min(d), a.max(c), b.max(d)]
    }

    /// Keeps a box of `width` × `height` centred at `(u, v)` on the page (centred where the
    /// page is smaller than the box).
    fn keep_inside(&self, (u, v): (f32, f32), width: f32, height: f32) -> (f32, f32) {
        let (page_width, page_height) = self.size();
        let clamp = |value: f32, half: f32, extent: f32| {
            if extent <= 2.0 * half {
                extent / 2.0
            } else {
                value.clamp(half, extent - half)
            }
        };
        (
            clamp(u, width / 2.0, page_width),
            clamp(v, height / 2.0, page_height),
        )
    }
}

/// The explicit placement for a keyword placement: the centre of the keyword's last
/// occurrence (on the requested page, if any), in displayed millimetres.
fn at_keyword(
    original: &[u8],
    doc: &lopdf::Document,
    placement: &Placement,
    keyword: &str,
    password: Option<&str>,
) -> Result<Placement, StampError> {
    if placement.cross_page || placement.x_mm.is_some() || placement.y_mm.is_some() {
        return Err(StampError::Placement(
            "place the seal either by keyword or by position, not both".into(),
        ));
    }
    let found = text_locate::find_text(original, password, keyword)
        .map_err(|e| StampError::Placement(format!("cannot search for '{keyword}': {e}")))?;
    let last = found
        .iter()
        .rev()
        .find(|m| placement.page.is_none_or(|page| page == m.page))
        .ok_or_else(|| {
            let place = placement
                .page
                .map_or("the document".to_string(), |page| format!("page {page}"));
            StampError::Placement(format!("'{keyword}' does not appear on {place}"))
        })?;
    let frame = PageFrame::of(doc, last.page)?;
    let [x0, y0, x1, y1] = last.rect;
    let (u, v) = frame.displayed_point((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    Ok(Placement {
        page: Some(last.page),
        x_mm: Some(pt_to_mm(u)),
        y_mm: Some(pt_to_mm(v)),
        keyword: None,
        cross_page: false,
    })
}

/// The widgets of an ordinary seal: the whole impression once.
fn single_widget(
    doc: &mut lopdf::Document,
    placement: &Placement,
    seal: lopdf::ObjectId,
    (seal_width, seal_height): (f32, f32),
) -> Result<Vec<Widget>, StampError> {
    let frame = PageFrame::of(doc, placement.page.unwrap_or(doc.get_pages().len()))?;
    let (width, height) = frame.size();
    let wanted = (
        placement
            .x_mm
            .map_or(width - mm_to_pt(DEFAULT_INSET_MM.0), mm_to_pt),
        placement
            .y_mm
            .map_or(height - mm_to_pt(DEFAULT_INSET_MM.1), mm_to_pt),
    );
    if !wanted.0.is_finite() || !wanted.1.is_finite() {
        return Err(StampError::Placement(
            "the position must be a number".into(),
        ));
    }
    let centre = frame.keep_inside(wanted, seal_width, seal_height);
    upright(doc, seal, frame.rotate);
    Ok(vec![Widget {
        page: frame.number,
        rect: frame.user_rect(centre, seal_width, seal_height),
        appearance: seal,
    }])
}

/// The widgets of a cross-page seal: slice i of the impression on the right edge of page i.
fn cross_page_widgets(
    doc: &mut lopdf::Document,
    placement: &Placement,
    seal: lopdf::ObjectId,
    (seal_width, seal_height): (f32, f32),
) -> Result<Vec<Widget>, StampError> {
    let pages = doc.get_pages().len();
    if pages < 2 {
        return Err(StampError::Placement(
            "a cross-page seal needs a document of two pages or more".into(),
        ));
    }
    let slice = seal_width / pages as f32;
    let mut widgets = Vec::with_capacity(pages);
    for number in 1..=pages {
        let frame = PageFrame::of(doc, number)?;
        let (width, height) = frame.size();
        let v = placement.y_mm.map_or(height / 2.0, mm_to_pt);
        if !v.is_finite() {
            return Err(StampError::Placement(
                "the position must be a number".into(),
            ));
        }
        let centre = frame.keep_inside((width - slice / 2.0, v), slice, seal_height);
        let offset = slice * (number - 1) as f32;
        let appearance = slice_xobject(doc, seal, offset, slice, seal_height);
        upright(doc, appearance, frame.rotate);
        widgets.push(Widget {
            page: number,
            rect: frame.user_rect(centre, slice, seal_height),
            appearance,
        });
    }
    Ok(widgets)
}

/// A form XObject showing the vertical strip `[offset, offset + width]` of the seal form.
fn slice_xobject(
    doc: &mut lopdf::Document,
    seal: lopdf::ObjectId,
    offset: f32,
    width: f32,
    height: f32,
) -> lopdf::ObjectId {
    let mut resources = lopdf::Dictionary::new();
    let mut xobjects = lopdf::Dictionary::new();
    xobjects.set("Seal", seal);
    resources.set("XObject", xobjects);
    let mut dict = lopdf::Dictionary::new();
    dict.set("Type", lopdf::Object::Name(b"XObject".to_vec()));
    dict.set("Subtype", lopdf::Object::Name(b"Form".to_vec()));
    dict.set(
        "BBox",
        vec![0.into(), 0.into(), width.into(), height.into()],
    );
    dict.set("Resources", resources);
    let content = format!("q 1 0 0 1 {:.3} 0 cm /Seal Do Q", -offset);
    doc.add_object(lopdf::Stream::new(dict, content.into_bytes()))
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

/// Turns an appearance so that it reads upright on a page shown with `/Rotate rotate`: the
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

/// Everything a stamping needs besides the document.
pub struct Stamp<'a> {
    /// The seal's key and certificate.
    pub key: &'a SealKey,
    /// Certificates above the seal certificate (the root), DER.
    pub chain: &'a [Vec<u8>],
    /// The impression, laid out.
    pub appearance: &'a SealForm,
    /// Where it goes.
    pub placement: Placement,
    /// Signer name, reason and location for the signature dictionary.
    pub signer_name: &'a str,
    /// Why the document is sealed.
    pub reason: &'a str,
    /// Where (the department's division, say).
    pub location: &'a str,
    /// User password of an encrypted document (the empty password is tried when `None`).
    pub password: Option<&'a str>,
    /// The time-stamping authority for a PAdES B-T signature; `None` for B-B.
    pub timestamper: Option<&'a dyn TimeStamper>,
}

/// Adds a document time-stamp (PAdES B-LTA's archive time-stamp) from `timestamper` over
/// the whole of `original`, as one incremental update with an invisible field.
pub fn timestamp_document(
    original: Vec<u8>,
    timestamper: &dyn TimeStamper,
    password: Option<&str>,
    at: OffsetDateTime,
) -> Result<UpdatedPdf, StampError> {
    let mut doc = crate::pdf::load_for_signing(&original, password)?;
    let original_max_id = doc.max_id;
    let mut empty = lopdf::Dictionary::new();
    empty.set("Type", lopdf::Object::Name(b"XObject".to_vec()));
    empty.set("Subtype", lopdf::Object::Name(b"Form".to_vec()));
    empty.set("BBox", vec![0.into(), 0.into(), 0.into(), 0.into()]);
    let appearance = doc.add_object(lopdf::Stream::new(empty, Vec::new()));
    let field = SignatureField {
        name: format!("DocTimeStamp{}", at.unix_timestamp_nanos()),
        widgets: vec![Widget {
            page: 1,
            rect: [0.0; 4],
            appearance,
        }],
    };
    let prepared = embed::prepare(
        original,
        &mut doc,
        original_max_id,
        &field,
        SignatureKind::DocumentTimestamp,
        timestamper.max_token_len() + 32,
    )?;
    let token = timestamper.timestamp(&prepared.digest())?;
    Ok(prepared.finish(&token)?)
}

/// Millimetres to points.
pub fn mm_to_pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// Points to millimetres.
fn pt_to_mm(pt: f32) -> f32 {
    pt * 25.4 / 72.0
}

/// Seals `original` and returns the stamped file: the original bytes plus one incremental
/// update.
pub fn stamp(
    original: Vec<u8>,
    stamp: &Stamp<'_>,
    at: OffsetDateTime,
) -> Result<UpdatedPdf, StampError> {
    let mut doc = crate::pdf::load_for_signing(&original, stamp.password)?;
    let original_max_id = doc.max_id;
    let seal = stamp.appearance.add_to(&mut doc);
    let placement = match &stamp.placement.keyword {
        Some(keyword) => at_keyword(&original, &doc, &stamp.placement, keyword, stamp.password)?,
        None => stamp.placement.clone(),
    };
    let (width, height) = stamp.appearance.size_mm();
    let size = (mm_to_pt(width), mm_to_pt(height));
    let widgets = if placement.cross_page {
        cross_page_widgets(&mut doc, &placement, seal, size)?
    } else {
        single_widget(&mut doc, &placement, seal, size)?
    };
    let field = SignatureField {
        name: format!("Seal{}", at.unix_timestamp_nanos()),
        widgets,
    };
    let info = SignatureInfo {
        signing_time: at,
        signer_name: stamp.signer_name.to_string(),
        reason: stamp.reason.to_string(),
        location: stamp.location.to_string(),
    };
    let cert = stamp.key.certificate_der();
    // Reserve exactly what a real signature needs: build one over a dummy digest and allow for
    // the few bytes an ECDSA DER signature can vary by, plus the largest time-stamp token.
    let capacity = sign::cades_detached(stamp.key, cert, stamp.chain, &[0; 32], None)?.len()
        + 16
        + stamp.timestamper.map_or(0, |tsa| tsa.max_token_len() + 32);
    let prepared = embed::prepare(
        original,
        &mut doc,
        original_max_id,
        &field,
        SignatureKind::Signature(&info),
        capacity,
    )?;
    let cms = sign::cades_detached(
        stamp.key,
        cert,
        stamp.chain,
        &prepared.digest(),
        stamp.timestamper,
    )?;
    Ok(prepared.finish(&cms)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::appearance::{SealImpression, SealShape};
    use crate::pdf::font::FontProgram;
    use crate::pdf::font::NOTO_SERIF_SC;
    use crate::pdf::validate::{verify_pdf, TrustAnchors};

    #[test]
    fn a_sealed_file_is_the_original_then_an_update_and_verifies() {
        let sealer = Sealer::under_a_new_root();
        let request = sealer.request();
        let anchors = sealer.anchors();
        let Some(corpus) = crate::test_needs::shared("corpus") else {
            return;
        };
        // A classic cross-reference table with a 208 KB content stream and images; a
        // cross-reference stream with object streams; an encrypted file (empty user password).
        for name in [
            "pdfjs-a3-landscape-1.3.pdf",
            "sf-pdflatex-4-pages.pdf",
            "pypdf-enc-aes256-empty-userpw.pdf",
        ] {
            let original = std::fs::read(corpus.join(name)).unwrap();
            let sealed = stamp(original.clone(), &request, OffsetDateTime::now_utc())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut written = Vec::new();
            sealed.write_to(&mut written).unwrap();
            assert_eq!(written[..original.len()], original[..], "{name}");
            // The update holds what sealing adds, none of the streams it did not load.
            assert!(written.len() - original.len() < 64 * 1024, "{name}");
            assert_eq!(
                sealed.sha256().as_slice(),
                ring::digest::digest(&ring::digest::SHA256, &written).as_ref(),
                "{name}"
            );
            assert_eq!(sealed.into_vec(), written, "{name}");
            let report = verify_pdf(&written, &anchors, None).unwrap();
            assert!(report.all_valid_and_trusted(), "{name}: {report:?}");
        }
    }

    const DEPARTMENT: &str = "厦门市市场监督管理局";

    /// A seal of [`DEPARTMENT`] with its root, ready to stamp with.
    struct Sealer {
        key: SealKey,
        chain: [Vec<u8>; 1],
        appearance: SealForm,
    }

    impl Sealer {
        /// A seal valid now, under a new root.
        fn under_a_new_root() -> Sealer {
            Sealer::new(crate::pki::testing::seal_key(
                "测试根证书",
                DEPARTMENT,
                "11350200MB0D00002U",
            ))
        }

        fn new((key, root): (SealKey, Vec<u8>)) -> Sealer {
            Sealer {
                key,
                chain: [root],
                appearance: seal_form(),
            }
        }

        /// Stamps at the default place, B-B, as the department.
        fn request(&self) -> Stamp<'_> {
            Stamp {
                key: &self.key,
                chain: &self.chain,
                appearance: &self.appearance,
                placement: Placement::default(),
                signer_name: DEPARTMENT,
                reason: "测试",
                location: "厦门",
                password: None,
                timestamper: None,
            }
        }

        /// Trusting its root.
        fn anchors(&self) -> TrustAnchors {
            TrustAnchors::new(self.chain.to_vec())
        }
    }

    /// The round 行政审批专用章 impression of [`DEPARTMENT`], laid out.
    fn seal_form() -> SealForm {
        let impression = SealImpression {
            shape: SealShape::Round,
            name: DEPARTMENT.into(),
            purpose: Some("行政审批专用章".into()),
            code: None,
            width_mm: 42.0,
        };
        let font = FontProgram::new(NOTO_SERIF_SC).unwrap();
        SealForm::new(&impression, &font).unwrap()
    }

    /// `pdf` with an unsigned incremental update that gives page 1 new content and adds an
    /// extra cross-reference entry pointing at its old content: a viewer shows the new content,
    /// lopdf alone would read the old one.
    fn shadow_page_content(pdf: &[u8]) -> Vec<u8> {
        let doc = lopdf::Document::load_mem(pdf).unwrap();
        let page = doc.get_pages()[&1];
        let contents = doc.get_dictionary(page).unwrap().get(b"Contents").unwrap();
        let number = contents.as_reference().unwrap().0;
        let lopdf::xref::XrefEntry::Normal { offset: old, .. } =
            doc.reference_table.entries[&number]
        else {
            panic!("page content in an object stream")
        };
        let extra = doc.max_id + 1;
        let previous = pdf.windows(9).rposition(|w| w == b"startxref").unwrap();
        let previous: String = String::from_utf8_lossy(&pdf[previous + 9..])
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap().0;
        let content = "BT /F1 24 Tf 72 700 Td (AMOUNT DUE 1,000,000) Tj ET";
        let mut out = pdf.to_vec();
        let new = out.len();
        out.extend(
            format!(
                "\n{number} 0 obj\n<< /Length {} >>\nstream\n{content}\nendstream\nendobj\n",
                content.len()
            )
            .into_bytes(),
        );
        let xref = out.len();
        out.extend(
            format!(
                "xref\n{number} 1\n{:010} 00000 n\r\n{extra} 1\n{old:010} 00000 n\r\n\
                 trailer\n<< /Size {} /Root {root} 0 R /Prev {previous} >>\nstartxref\n{xref}\n%%EOF\n",
                new + 1,
                extra + 1
            )
            .into_bytes(),
        );
        out
    }

    /// A one-page notice rendered with the shipped font.
    fn notice() -> Vec<u8> {
        use crate::pdf::render::{Align, Document, Item, Page, Renderer, Rgb};
        let page = Page {
            width_mm: 210.0,
            height_mm: 297.0,
            items: vec![Item::Text {
                x_mm: 25.0,
                y_mm: 40.0,
                size_pt: 14.0,
                text: "关于电子证照互认的通知".into(),
                color: Rgb(0, 0, 0),
                align: Align::Left,
                max_width_mm: None,
                line_height: 1.5,
                letter_spacing_pt: 0.0,
            }],
        };
        let document = Document {
            title: "通知".into(),
            pages: vec![page],
            shared_text: String::new(),
        };
        Renderer::new(NOTO_SERIF_SC)
            .unwrap()
            .render(&document)
            .unwrap()
    }

    #[test]
    fn an_expired_seal_is_judged_now_unless_a_time_stamp_proves_it_older() {
        use crate::pdf::validate::{Indication, SubIndication, Verdict};
        use crate::tsa::testing::StampsAt;
        use crate::tsa::TimeStampAuthority;
        use time::macros::datetime;
        let (key, root, tsa_key) = crate::pki::testing::seal_key_within(
            DEPARTMENT,
            "11350200MB0D00002U",
            datetime!(2019-01-01 0:00 UTC),
            datetime!(2020-01-01 0:00 UTC),
        );
        let tsa = TimeStampAuthority::new(tsa_key, vec![root.clone()]).unwrap();
        let sealer = Sealer::new((key, root));
        let request = sealer.request();
        let anchors = sealer.anchors();
        let seal = |report: &crate::pdf::validate::PdfReport| report.signatures[0].clone();

        // /M says mid-2019, inside the certificate's validity; it is only a claim, so the
        // chain is judged now, when the certificate has long expired.
        let claimed = datetime!(2019-06-01 0:00 UTC);
        let sealed = stamp(notice(), &request, claimed).unwrap().into_vec();
        let report = verify_pdf(&sealed, &anchors, None).unwrap();
        let signature = seal(&report);
        assert_eq!(
            signature.signing_time.as_deref(),
            Some("2019-06-01T00:00:00Z")
        );
        assert!(
            signature.intact() && !signature.chain_trusted,
            "{signature:?}"
        );
        assert_eq!(signature.proven_time, None);
        assert_eq!(signature.verdict, Verdict::Untrusted);
        assert_eq!(
            (signature.indication, signature.sub_indication),
            (
                Indication::Indeterminate,
                Some(SubIndication::OutOfBoundsNoPoe)
            )
        );

        // A document time-stamp from while it was valid proves the seal existed then.
        let proof = StampsAt(&tsa, datetime!(2019-07-01 0:00 UTC));
        let archived = timestamp_document(sealed.clone(), &proof, None, OffsetDateTime::now_utc())
            .unwrap()
            .into_vec();
        let report = verify_pdf(&archived, &anchors, None).unwrap();
        let signature = seal(&report);
        assert!(signature.chain_trusted, "{signature:?}");
        assert_eq!(
            signature.proven_time.as_deref(),
            Some("2019-07-01T00:00:00Z")
        );
        assert_eq!(report.verdict(), Some(Verdict::Valid), "{report:?}");
        assert_eq!(
            (signature.indication, signature.sub_indication),
            (Indication::TotalPassed, None)
        );

        // One from after it expired proves nothing that helps.
        let too_late = StampsAt(&tsa, datetime!(2021-01-01 0:00 UTC));
        let archived = timestamp_document(sealed, &too_late, None, OffsetDateTime::now_utc())
            .unwrap()
            .into_vec();
        let signature = seal(&verify_pdf(&archived, &anchors, None).unwrap());
        assert!(!signature.chain_trusted, "{signature:?}");
        assert_eq!(signature.verdict, Verdict::Untrusted);

        // Its own signature time-stamp from while it was valid (PAdES B-T) proves it too.
        let stamped_then = StampsAt(&tsa, datetime!(2019-06-01 0:00 UTC));
        let with_timestamp = Stamp {
            timestamper: Some(&stamped_then),
            ..request
        };
        let sealed = stamp(notice(), &with_timestamp, claimed)
            .unwrap()
            .into_vec();
        let signature = seal(&verify_pdf(&sealed, &anchors, None).unwrap());
        assert!(signature.chain_trusted, "{signature:?}");
        assert_eq!(
            signature.proven_time.as_deref(),
            Some("2019-06-01T00:00:00Z")
        );
        assert_eq!(signature.verdict, Verdict::Valid);
    }

    #[test]
    fn a_shadowed_cross_reference_entry_is_never_valid_and_is_not_sealed() {
        use crate::pdf::validate::{Indication, Verdict};
        use crate::pdf::LoadError;
        let sealer = Sealer::under_a_new_root();
        let request = sealer.request();
        let anchors = sealer.anchors();
        let sealed = stamp(notice(), &request, OffsetDateTime::now_utc())
            .unwrap()
            .into_vec();
        assert!(verify_pdf(&sealed, &anchors, None)
            .unwrap()
            .all_valid_and_trusted());

        // The page changed after sealing, with the old content left where lopdf finds it.
        let attacked = shadow_page_content(&sealed);
        let report = verify_pdf(&attacked, &anchors, None).unwrap();
        let [signature] = report.signatures.as_slice() else {
            panic!("{report:?}")
        };
        assert!(signature.intact(), "{signature:?}");
        assert_eq!(signature.verdict, Verdict::Modified, "{signature:?}");
        assert_eq!(
            (signature.indication, signature.sub_indication),
            (Indication::TotalFailed, None)
        );
        assert!(
            signature.problems.iter().any(|p| p.contains("ambiguous")),
            "{:?}",
            signature.problems
        );

        // Sealing it would sign what lopdf reads, not what a viewer shows: refused.
        let refused = stamp(
            shadow_page_content(&notice()),
            &request,
            OffsetDateTime::now_utc(),
        );
        assert!(
            matches!(refused, Err(StampError::Load(LoadError::Ambiguous(ref why))) if why.contains("points at object")),
            "{:?}",
            refused.err()
        );
    }

    #[test]
    fn a_signing_time_changed_after_signing_is_not_reported_as_the_signing_time() {
        let sealer = Sealer::under_a_new_root();
        let claimed = time::macros::datetime!(2026-01-02 3:04:05 UTC);
        let sealed = stamp(notice(), &sealer.request(), claimed)
            .unwrap()
            .into_vec();
        // A later update redefines the signature dictionary with another /M, keeping its
        // /Contents and /ByteRange, so that the signature still checks out.
        let report = verify_pdf(&sealed, &sealer.anchors(), None).unwrap();
        let gap = usize::try_from(report.signatures[0].byte_range[1]).unwrap();
        let start = sealed[..gap]
            .windows(6)
            .rposition(|w| w == b"endobj")
            .unwrap()
            + 6;
        let end = gap
            + sealed[gap..]
                .windows(6)
                .position(|w| w == b"endobj")
                .unwrap()
            + 6;
        let object = String::from_utf8_lossy(&sealed[start..end]).into_owned();
        let forged = object.replace("D:20260102030405", "D:20990101000000");
        assert_ne!(forged, object, "the dictionary carries /M: {object}");
        let number: u32 = forged
            .trim_start()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let doc = lopdf::Document::load_mem(&sealed).unwrap();
        let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap().0;
        let previous = sealed.windows(9).rposition(|w| w == b"startxref").unwrap();
        let previous = String::from_utf8_lossy(&sealed[previous + 9..])
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let mut attacked = sealed.clone();
        let at = attacked.len() + 1;
        attacked.extend(format!("\n{}\n", forged.trim()).into_bytes());
        let xref = attacked.len();
        attacked.extend(
            format!(
                "xref\n{number} 1\n{at:010} 00000 n\r\ntrailer\n<< /Size {} /Root {root} 0 R \
                 /Prev {previous} >>\nstartxref\n{xref}\n%%EOF\n",
                doc.max_id + 1
            )
            .into_bytes(),
        );
        let report = verify_pdf(&attacked, &sealer.anchors(), None).unwrap();
        let signature = &report.signatures[0];
        assert!(signature.intact(), "{signature:?}");
        assert_eq!(
            signature.signing_time.as_deref(),
            Some("2026-01-02T03:04:05Z")
        );
        assert_eq!(signature.verdict, crate::pdf::validate::Verdict::Modified);
        assert!(
            signature
                .problems
                .iter()
                .any(|p| p.contains("signing time was changed after signing")),
            "{:?}",
            signature.problems
        );
    }

    #[test]
    fn an_empty_signature_placeholder_is_an_unsigned_field_not_a_broken_seal() {
        let sealer = Sealer::under_a_new_root();
        let sealed = stamp(notice(), &sealer.request(), OffsetDateTime::now_utc())
            .unwrap()
            .into_vec();
        let report = verify_pdf(&sealed, &sealer.anchors(), None).unwrap();
        let range = &report.signatures[0].byte_range;
        let (start, end) = (range[1] as usize + 1, range[2] as usize - 1);
        // The placeholder a signer reserves before signing: /Contents all zeros.
        let mut placeholder = sealed.clone();
        placeholder[start..end].fill(b'0');
        let report = verify_pdf(&placeholder, &sealer.anchors(), None).unwrap();
        assert!(report.signatures.is_empty(), "{report:?}");
        assert_eq!(report.verdict(), None);
    }

    #[test]
    fn an_encrypt_entry_of_null_is_no_encryption() {
        let plain = notice();
        let at = plain.windows(7).rposition(|w| w == b"trailer").unwrap();
        let open = at + plain[at..].windows(2).position(|w| w == b"<<").unwrap() + 2;
        let mut marked = plain[..open].to_vec();
        marked.extend_from_slice(b"/Encrypt null ");
        marked.extend_from_slice(&plain[open..]);
        // (The trailer follows the cross-reference table: no offset moves.)
        let pdf = marked;
        assert!(
            crate::pdf::load(&pdf).is_ok(),
            "{:?}",
            crate::pdf::load(&pdf).err()
        );
        let report = verify_pdf(&pdf, &TrustAnchors::default(), None).unwrap();
        assert!(report.signatures.is_empty());
    }

    #[test]
    fn displayed_and_user_points_are_inverse_for_every_rotation() {
        for rotate in [0, 90, 180, 270] {
            let frame = PageFrame {
                number: 1,
                crop: [10.0, 20.0, 610.0, 820.0],
                rotate,
            };
            for (u, v) in [(0.0, 0.0), (100.0, 50.0), (333.0, 444.0)] {
                let (x, y) = frame.user_point(u, v);
                let (u2, v2) = frame.displayed_point(x, y);
                assert!(
                    (u - u2).abs() < 1e-3 && (v - v2).abs() < 1e-3,
                    "rotate {rotate}: ({u}, {v}) → ({x}, {y}) → ({u2}, {v2})"
                );
            }
        }
        // The displayed top-left corner of a page turned by 90° is the user-space lower left.
        let turned = PageFrame {
            number: 1,
            crop: [0.0, 0.0, 595.0, 842.0],
            rotate: 90,
        };
        assert_eq!(turned.user_point(0.0, 0.0), (0.0, 0.0));
        assert_eq!(turned.displayed_point(595.0, 0.0), (0.0, 595.0));
    }
}
