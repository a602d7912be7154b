//! Licence page layout and PDF output.
//!
//! Templates are turned elsewhere into a [`Document`]: pages of positioned text, frames,
//! rules and QR codes, in millimetres from each page's top-left corner. [`Renderer`] lays
//! the text out (measuring with the font's advance widths, wrapping CJK between any two
//! characters and Latin text between words) and writes the PDF with printpdf 0.12.
//!
//! Fonts: printpdf 0.12 built without its `text_layout` feature (as here) never subsets,
//! it would embed all 11.6 MB of Noto Serif SC. So each render subsets the font itself with
//! `subsetter` (CFF becomes CID-keyed with CID == new glyph id) and hands printpdf the small
//! subset as a "full" font. printpdf then writes a Type0 / Identity-H font with
//! `/FontFile3 /CIDFontType0C` (or `/FontFile2` for TrueType), `/W` widths and a
//! `/ToUnicode` CMap built from the characters it encodes, so text extraction returns the
//! original characters. The `XXXXXX+` subset tag is put into the font name here.
//!
//! Output is byte-for-byte deterministic: printpdf's dates default to 1970-01-01 and its
//! random trailer `/ID` is replaced by a digest of the file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use printpdf as pp;

use super::qr::QrModules;

/// Points per millimetre.
const PT_PER_MM: f32 = 72.0 / 25.4;
/// Modules of light margin the QR specification requires around the symbol.
const QR_QUIET_ZONE: usize = 4;
/// Slack for floating-point comparisons of widths, in points.
const WIDTH_EPSILON_PT: f32 = 1e-3;
/// The characters of GB 2312 (7,445, of them 6,763 hanzi), 64 a line: nearly all the text on
/// a licence. With printable ASCII they make [`CommonGlyphs`]. The file holds every code from
/// A1A1 to F7FE that Python's `gb2312` codec decodes, in code order.
const GB2312_CHARACTERS: &str = include_str!("../../templates/fonts/gb2312-characters.txt");

/// A document to render: its title (written to the PDF Info dictionary) and its pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Document title, stored as `/Title` in the Info dictionary.
    pub title: String,
    /// Pages in order.
    pub pages: Vec<Page>,
    /// Characters many documents share, such as a template's fixed text (may be empty): the
    /// renderer subsets and compresses the font for them once and keeps it, so each render
    /// subsets only the other characters it uses.
    pub shared_text: String,
}

/// One page; all coordinates are millimetres from its top-left corner, y growing downwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Page width (at most 5080 mm, the PDF 1.x limit of 200 inches).
    pub width_mm: f32,
    /// Page height (at most 5080 mm).
    pub height_mm: f32,
    /// Items drawn in order, later ones on top.
    pub items: Vec<Item>,
}

/// Something drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Text whose first baseline is at (x_mm, y_mm); wraps at max_width_mm (CJK may break
    /// between any two chars; Latin words stay whole when possible); `align` Left/Center/Right
    /// relative to x (for Center, x is the centre). `\n` starts a new line.
    Text {
        /// Horizontal anchor, see `align`.
        x_mm: f32,
        /// First baseline.
        y_mm: f32,
        /// Font size in points (0 < size ≤ 1000).
        size_pt: f32,
        /// The text; every character must be in the font.
        text: String,
        /// Fill colour.
        color: Rgb,
        /// How lines are placed relative to `x_mm`.
        align: Align,
        /// Wrap width; `None` breaks lines only at `\n`.
        max_width_mm: Option<f32>,
        /// Baseline distance as a multiple of `size_pt` (0 < line_height ≤ 100).
        line_height: f32,
        /// Extra space after each character, in points (may be negative).
        letter_spacing_pt: f32,
    },
    /// Stroked rectangle whose top-left corner is (x_mm, y_mm).
    Rect {
        /// Left edge.
        x_mm: f32,
        /// Top edge.
        y_mm: f32,
        /// Width (≥ 0).
        width_mm: f32,
        /// Height (≥ 0), measured downwards.
        height_mm: f32,
        /// Stroke colour.
        stroke: Rgb,
        /// Stroke width in points (≥ 0; 0 is the thinnest line the device can draw).
        line_width_pt: f32,
    },
    /// Straight stroked line.
    Line {
        /// Start point (x, y).
        from_mm: (f32, f32),
        /// End point (x, y).
        to_mm: (f32, f32),
        /// Stroke colour.
        stroke: Rgb,
        /// Stroke width in points (≥ 0).
        line_width_pt: f32,
    },
    /// QR code (error correction level M) drawn as vector squares, black on white.
    /// The square `size_mm` wide includes the 4-module quiet zone, painted white.
    Qr {
        /// Left edge of the square.
        x_mm: f32,
        /// Top edge of the square.
        y_mm: f32,
        /// Side of the square, quiet zone included.
        size_mm: f32,
        /// Bytes to encode (at most 2331 bytes of UTF-8 at level M).
        payload: String,
    },
}

/// An sRGB colour, 0–255 per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Horizontal alignment of text lines relative to the item's x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Lines start at x.
    Left,
    /// Lines are centred on x.
    Center,
    /// Lines end at x.
    Right,
}

/// Why a document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The font bytes could not be parsed or subset.
    #[error("unusable font: {0}")]
    BadFont(String),
    /// A text item contains a character the font has no glyph for.
    #[error("page {page}, item {item}: the font has no glyph for {ch:?} (U+{:04X})", u32::from(*ch))]
    MissingGlyph {
        /// The character.
        ch: char,
        /// Index into [`Document::pages`].
        page: usize,
        /// Index into [`Page::items`].
        item: usize,
    },
    /// A QR payload does not fit in the largest QR code (version 40, level M).
    #[error("page {page}, item {item}: QR payload of {len} bytes is too long")]
    QrPayloadTooLong {
        /// Payload length in bytes.
        len: usize,
        /// Index into [`Document::pages`].
        page: usize,
        /// Index into [`Page::items`].
        item: usize,
    },
    /// A size or coordinate is NaN, infinite, negative where it must not be, or out of range;
    /// or the document has no pages.
    #[error("page {page}{}: {reason}", item.map(|i| format!(", item {i}")).unwrap_or_default())]
    InvalidLayout {
        /// Index into [`Document::pages`].
        page: usize,
        /// Index into [`Page::items`], `None` for the page itself.
        item: Option<usize>,
        /// What is wrong.
        reason: &'static str,
    },
    /// printpdf reported an error, or serialising the PDF failed.
    #[error("writing the PDF failed: {0}")]
    PdfWrite(String),
}

/// A glyph of the original font.
#[derive(Debug, Clone, Copy)]
struct Glyph {
    id: u16,
    advance: u16,
}

/// Metrics printpdf needs for the font descriptor, read once from the font.
struct FaceInfo {
    units_per_em: u16,
    ascender: i16,
    descender: i16,
    bbox: [i16; 4],
    caret_rise: i16,
    caret_run: i16,
    weight: u16,
    is_cff: bool,
    postscript_name: String,
}

/// Renders [`Document`]s with one font. Parse once, share freely (`Send + Sync`).
///
/// `new` parses the cmap and metrics and copies out the common glyphs ([`CommonGlyphs`]),
/// about 200 ms for Noto Serif SC. In a profile of issuing business licences, rendering is
/// about half of the CPU: subsetting the licence's own characters 15%, encoding the QR code
/// 11%, printpdf's conversion to lopdf 9%, deflating the content and fonts 7%, the rest
/// building operations and writing the file (twice: the second time with its `/ID`).
pub struct Renderer {
    font: Box<[u8]>,
    common: CommonGlyphs,
    glyphs: HashMap<char, Glyph>,
    notdef_advance: u16,
    face: FaceInfo,
    /// Font subsets of the shared texts seen, by text.
    shared: Mutex<HashMap<String, Arc<SharedSubsets>>>,
}

/// The glyphs of common characters ([`GB2312_CHARACTERS`] and printable ASCII), copied once out
/// of the font by the subsetter, which writes them without subroutines. Subsetting a
/// licence's own characters from this copy is about twice as fast as from the font: the
/// subsetter no longer collects the font's thousands of subroutines on every call (about
/// 280 µs for Noto Serif SC) nor expands their calls glyph by glyph. Other characters are
/// subset from the font itself.
struct CommonGlyphs {
    font: Box<[u8]>,
    /// The id in `font` of each glyph of the original it holds.
    id_of: HashMap<u16, u16>,
}

impl CommonGlyphs {
    /// Copies the glyphs of the common characters among `glyphs` out of `font`.
    fn new(font: &[u8], glyphs: &HashMap<char, Glyph>) -> Result<CommonGlyphs, RenderError> {
        let ids: BTreeSet<u16> = GB2312_CHARACTERS
            .chars()
            .chain(' '..='~')
            .filter_map(|c| glyphs.get(&c).map(|g| g.id))
            .collect();
        let mut remapper = subsetter::GlyphRemapper::new();
        let id_of = ids.iter().map(|&id| (id, remapper.remap(id))).collect();
        let font = subsetter::subset(font, 0, &remapper)
            .map_err(|e| RenderError::BadFont(format!("cannot subset: {e}")))?;
        Ok(CommonGlyphs {
            font: font.into(),
            id_of,
        })
    }
}

/// The subsets of a [`Document::shared_text`], made once and embedded in every document
/// that shares the text, with each font program's compressed bytes once first written.
struct SharedSubsets {
    subsets: Subsets,
    /// Per subset: its font program stream as written, and compressed.
    programs: Vec<OnceLock<(Vec<u8>, Vec<u8>)>>,
}

/// Subset fonts of a set of characters, one per slot (see [`Fonts`]) and source (see
/// [`CommonGlyphs`]), and the font of each character.
struct Subsets {
    fonts: Vec<pp::ParsedFont>,
    font_of: HashMap<char, usize>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("font", &self.face.postscript_name)
            .field("font_bytes", &self.font.len())
            .field("mapped_chars", &self.glyphs.len())
            .finish_non_exhaustive()
    }
}

/// A laid-out line: its text and width in points (letter spacing included).
struct LaidLine {
    text: String,
    width_pt: f32,
}

/// The embedded subset fonts of one render: the shared text's (resource names `FS0`, …)
/// and the rest's (`FZ0`, …), and the font each character is set in.
///
/// Distinct characters can share a glyph (Kangxi radical ⼀ U+2F00 and 一 U+4E00 do in Noto
/// CJK); one font's `/ToUnicode` can give a glyph only one meaning, so the second and later
/// characters of such a group go into further subsets ("slots").
struct Fonts {
    font_of: HashMap<char, usize>,
    ids: Vec<pp::FontId>,
}

impl Renderer {
    /// Parses an OpenType/TrueType font (CFF or glyf outlines, face 0 of a collection).
    pub fn new(font_bytes: &[u8]) -> Result<Renderer, RenderError> {
        let face = ttf_parser::Face::parse(font_bytes, 0)
            .map_err(|e| RenderError::BadFont(e.to_string()))?;
        let units_per_em = face.units_per_em();
        let advance = |id| face.glyph_hor_advance(id).unwrap_or(0);

        let mut glyphs = HashMap::new();
        let cmap = face
            .tables()
            .cmap
            .ok_or_else(|| bad_font("no cmap table"))?;
        for subtable in cmap.subtables.into_iter().filter(|s| s.is_unicode()) {
            subtable.codepoints(|cp| {
                let (Some(ch), Some(id)) = (char::from_u32(cp), subtable.glyph_index(cp)) else {
                    return;
                };
                if id.0 != 0 {
                    glyphs.entry(ch).or_insert(Glyph {
                        id: id.0,
                        advance: advance(id),
                    });
                }
            });
        }
        if glyphs.is_empty() {
            return Err(bad_font("no Unicode cmap subtable"));
        }

        let bbox = face.global_bounding_box();
        let italic = face.italic_angle().to_radians().tan();
        let postscript_name: String = face
            .names()
            .into_iter()
            .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME && n.is_unicode())
            .and_then(|n| n.to_string())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let renderer = Renderer {
            notdef_advance: advance(ttf_parser::GlyphId(0)),
            face: FaceInfo {
                units_per_em,
                ascender: face.ascender(),
                descender: face.descender(),
                bbox: [bbox.x_min, bbox.y_min, bbox.x_max, bbox.y_max],
                caret_rise: 1000,
                caret_run: (-italic * 1000.0).round().clamp(-1000.0, 1000.0) as i16,
                weight: face.weight().to_number(),
                is_cff: face.tables().cff.is_some(),
                postscript_name: if postscript_name.is_empty() {
                    "Embedded".to_owned()
                } else {
                    postscript_name
                },
            },
            // Also fails now, not on the first render, if the subsetter cannot read the font.
            common: CommonGlyphs::new(font_bytes, &glyphs)?,
            glyphs,
            font: font_bytes.into(),
            shared: Mutex::default(),
        };
        Ok(renderer)
    }

    /// Advance width of `text` set on one line at `size_pt`, without letter spacing.
    /// Characters missing from the font count with the width of `.notdef`.
    pub fn text_width_mm(&self, text: &str, size_pt: f32) -> f32 {
        let units: u64 = text.chars().map(|c| u64::from(self.advance(c))).sum();
        units as f32 * size_pt / f32::from(self.face.units_per_em) / PT_PER_MM
    }

    /// Breaks `text` into lines no wider than `max_width_mm` (as [`Item::Text`] does with
    /// no letter spacing). A line exceeds the width only if a single character does.
    pub fn wrap(&self, text: &str, size_pt: f32, max_width_mm: f32) -> Vec<String> {
        self.lines(text, size_pt, 0.0, Some(max_width_mm * PT_PER_MM))
            .into_iter()
            .map(|l| l.text)
            .collect()
    }

    /// Renders `doc` to PDF bytes.
    pub fn render(&self, doc: &Document) -> Result<Vec<u8>, RenderError> {
        if doc.pages.is_empty() {
            return Err(invalid(0, None, "the document has no pages"));
        }
        let mut chars = BTreeSet::new();
        for (p, page) in doc.pages.iter().enumerate() {
            self.check_page(p, page, &mut chars)?;
        }

        let mut pdf = pp::PdfDocument::new(&doc.title);
        let shared = self.shared_subsets(&doc.shared_text)?;
        let fonts = self.embed_fonts(&chars, &shared, &mut pdf)?;
        let mut pages = Vec::with_capacity(doc.pages.len());
        for (p, page) in doc.pages.iter().enumerate() {
            let ops = self.page_ops(p, page, &fonts, &mut pdf.resources.xobjects.map)?;
            pages.push(pp::PdfPage::new(
                pp::Mm(page.width_mm),
                pp::Mm(page.height_mm),
                ops,
            ));
        }
        pdf.with_pages(pages);
        save(&pdf, &shared)
    }

    fn advance(&self, c: char) -> u16 {
        self.glyphs
            .get(&c)
            .map_or(self.notdef_advance, |g| g.advance)
    }

    /// Validates a page's numbers and collects its characters, checking each is in the font.
    fn check_page(
        &self,
        p: usize,
        page: &Page,
        chars: &mut BTreeSet<char>,
    ) -> Result<(), RenderError> {
        if !in_range(page.width_mm, f32::MIN_POSITIVE, 5080.0)
            || !in_range(page.height_mm, f32::MIN_POSITIVE, 5080.0)
        {
            return Err(invalid(p, None, "page size must be > 0 and ≤ 5080 mm"));
        }
        let coord = |v: f32| in_range(v, -10_000.0, 10_000.0);
        for (i, item) in page.items.iter().enumerate() {
            let check = |ok: bool, reason| {
                if ok {
                    Ok(())
                } else {
                    Err(invalid(p, Some(i), reason))
                }
            };
            match item {
                Item::Text {
                    x_mm,
                    y_mm,
                    size_pt,
                    text,
                    max_width_mm,
                    line_height,
                    letter_spacing_pt,
                    ..
                } => {
                    check(
                        coord(*x_mm) && coord(*y_mm),
                        "coordinates must be within ±10 m",
                    )?;
                    check(
                        in_range(*size_pt, 0.01, 1000.0),
                        "size_pt must be in 0.01..=1000",
                    )?;
                    check(
                        in_range(*line_height, 0.01, 100.0),
                        "line_height must be in 0.01..=100",
                    )?;
                    check(
                        in_range(*letter_spacing_pt, -1000.0, 1000.0),
                        "letter_spacing_pt must be in -1000..=1000",
                    )?;
                    check(
                        max_width_mm.is_none_or(|w| in_range(w, 0.01, 10_000.0)),
                        "max_width_mm must be in 0.01..=10000",
                    )?;
                    for ch in paragraphs(text).flat_map(str::chars) {
                        if !self.glyphs.contains_key(&ch) {
                            return Err(RenderError::MissingGlyph {
                                ch,
                                page: p,
                                item: i,
                            });
                        }
                        chars.insert(ch);
                    }
                }
                Item::Rect {
                    x_mm,
                    y_mm,
                    width_mm,
                    height_mm,
                    line_width_pt,
                    ..
                } => {
                    check(
                        coord(*x_mm) && coord(*y_mm),
                        "coordinates must be within ±10 m",
                    )?;
                    check(
                        in_range(*width_mm, 0.0, 10_000.0) && in_range(*height_mm, 0.0, 10_000.0),
                        "rectangle sides must be in 0..=10000 mm",
                    )?;
                    check(
                        in_range(*line_width_pt, 0.0, 1000.0),
                        "line_width_pt must be in 0..=1000",
                    )?;
                }
                Item::Line {
                    from_mm,
                    to_mm,
                    line_width_pt,
                    ..
                } => {
                    check(
                        [from_mm.0, from_mm.1, to_mm.0, to_mm.1]
                            .into_iter()
                            .all(coord),
                        "coordinates must be within ±10 m",
                    )?;
                    check(
                        in_range(*line_width_pt, 0.0, 1000.0),
                        "line_width_pt must be in 0..=1000",
                    )?;
                }
                Item::Qr {
                    x_mm,
                    y_mm,
                    size_mm,
                    ..
                } => {
                    check(
                        coord(*x_mm) && coord(*y_mm),
                        "coordinates must be within ±10 m",
                    )?;
                    check(
                        in_range(*size_mm, 0.01, 10_000.0),
                        "size_mm must be in 0.01..=10000",
                    )?;
                }
            }
        }
        Ok(())
    }

    /// The kept subsets of `text`, made on first use.
    fn shared_subsets(&self, text: &str) -> Result<Arc<SharedSubsets>, RenderError> {
        let kept = self.shared.lock().ok().and_then(|s| s.get(text).cloned());
        if let Some(found) = kept {
            return Ok(found);
        }
        let chars: BTreeSet<char> = paragraphs(text)
            .flat_map(str::chars)
            .filter(|c| self.glyphs.contains_key(c))
            .collect();
        let subsets = self.subsets(&chars, "FS")?;
        let made = Arc::new(SharedSubsets {
            programs: subsets.fonts.iter().map(|_| OnceLock::new()).collect(),
            subsets,
        });
        if let Ok(mut shared) = self.shared.lock() {
            shared.insert(text.to_owned(), Arc::clone(&made));
        }
        Ok(made)
    }

    /// Registers with `pdf` the `shared` subsets and subsets of the rest of `chars`.
    fn embed_fonts(
        &self,
        chars: &BTreeSet<char>,
        shared: &SharedSubsets,
        pdf: &mut pp::PdfDocument,
    ) -> Result<Fonts, RenderError> {
        let own: BTreeSet<char> = chars
            .iter()
            .copied()
            .filter(|c| !shared.subsets.font_of.contains_key(c))
            .collect();
        let own = self.subsets(&own, "FZ")?;
        let mut font_of = shared.subsets.font_of.clone();
        let first_own = shared.subsets.fonts.len();
        font_of.extend(own.font_of.iter().map(|(&c, &n)| (c, first_own + n)));
        let mut ids = Vec::with_capacity(first_own + own.fonts.len());
        let fonts = shared.subsets.fonts.iter().cloned().enumerate();
        for (n, font) in fonts.chain(
            own.fonts
                .into_iter()
                .enumerate()
                .map(|(slot, f)| (first_own + slot, f)),
        ) {
            // Fixed resource names (printpdf's add_font would pick random ones); "F1".."F14"
            // are avoided because printpdf reserves them for the standard 14 fonts.
            let id = pp::FontId(font_resource_name(n, first_own));
            pdf.resources
                .fonts
                .map
                .insert(id.clone(), pp::PdfFont::new(font));
            ids.push(id);
        }
        Ok(Fonts { font_of, ids })
    }

    /// Subsets the font to `chars`, one subset per slot; `prefix` tells the subsets of shared
    /// text (`FS`) from a document's own (`FZ`) in their subset tags.
    fn subsets(&self, chars: &BTreeSet<char>, prefix: &str) -> Result<Subsets, RenderError> {
        let mut slots: Vec<Vec<(char, Glyph)>> = Vec::new();
        let mut uses: HashMap<u16, usize> = HashMap::new();
        let mut font_of = HashMap::with_capacity(chars.len());
        for &ch in chars {
            // Callers pass characters the font has.
            let Some(&glyph) = self.glyphs.get(&ch) else {
                continue;
            };
            let slot = uses.entry(glyph.id).or_insert(0);
            if *slot == slots.len() {
                slots.push(Vec::new());
            }
            slots[*slot].push((ch, glyph));
            *slot += 1;
        }

        // Each slot's glyphs are subset from the common glyphs' copy where it has them, the
        // rest from the font: one subset font per slot and source.
        let mut groups = Vec::with_capacity(slots.len());
        for members in slots {
            let (mut common, mut rare) = (Vec::new(), Vec::new());
            for (ch, g) in members {
                match self.common.id_of.get(&g.id) {
                    Some(&id) => common.push((ch, id, g.advance)),
                    None => rare.push((ch, g.id, g.advance)),
                }
            }
            groups.push((&*self.common.font, common));
            groups.push((&*self.font, rare));
        }
        groups.retain(|(_, members)| !members.is_empty());

        let mut fonts = Vec::with_capacity(groups.len());
        for (n, (source, members)) in groups.iter().enumerate() {
            // Renumber in glyph-id order so the subset does not depend on character order.
            let source_ids: BTreeSet<u16> = members.iter().map(|&(_, id, _)| id).collect();
            let mut remapper = subsetter::GlyphRemapper::new();
            for &id in &source_ids {
                remapper.remap(id);
            }
            let mut glyph_widths = BTreeMap::from([(0, self.notdef_advance)]);
            let mut codepoint_to_glyph = BTreeMap::new();
            for &(ch, id, advance) in members {
                let new_id = remapper.remap(id);
                codepoint_to_glyph.insert(u32::from(ch), new_id);
                glyph_widths.insert(new_id, advance);
                font_of.insert(ch, n);
            }
            let bytes = subsetter::subset(source, 0, &remapper)
                .map_err(|e| RenderError::BadFont(format!("cannot subset: {e}")))?;
            let name = format!(
                "{}+{}",
                subset_tag(&source_ids, prefix, n),
                self.face.postscript_name
            );
            let face = &self.face;
            fonts.push(pp::ParsedFont {
                original_bytes: bytes,
                font_index: 0,
                font_name: Some(name),
                codepoint_to_glyph,
                glyph_widths,
                units_per_em: face.units_per_em,
                font_metrics: pp::FontMetrics {
                    ascent: face.ascender,
                    descent: face.descender,
                },
                font_type: if face.is_cff {
                    pp::FontType::OpenTypeCFF(())
                } else {
                    pp::FontType::TrueType
                },
                pdf_font_metrics: pp::PdfFontMetricsStub {
                    units_per_em: face.units_per_em,
                    x_min: face.bbox[0],
                    y_min: face.bbox[1],
                    x_max: face.bbox[2],
                    y_max: face.bbox[3],
                    caret_slope_rise: face.caret_rise,
                    caret_slope_run: face.caret_run,
                    us_weight_class: face.weight,
                },
            });
        }
        Ok(Subsets { fonts, font_of })
    }
}

/// The resource name of the `n`-th font of a render whose first `shared` fonts are the shared
/// text's.
fn font_resource_name(n: usize, shared: usize) -> String {
    if n < shared {
        format!("FS{n}")
    } else {
        format!("FZ{}", n - shared)
    }
}

/// A piece of a line being built, with its measured advance.
#[derive(Default)]
struct Run {
    text: String,
    units: u64,
    chars: usize,
}

impl Run {
    fn push(&mut self, renderer: &Renderer, c: char) {
        self.text.push(c);
        self.units += u64::from(renderer.advance(c));
        self.chars += 1;
    }

    fn push_str(&mut self, renderer: &Renderer, s: &str) {
        s.chars().for_each(|c| self.push(renderer, c));
    }

    fn append(&mut self, other: Run) {
        self.text.push_str(&other.text);
        self.units += other.units;
        self.chars += other.chars;
    }
}

impl Renderer {
    /// Lays `text` out in lines, breaking at `\n` and, if `max_pt` is set, greedily at
    /// break opportunities; whitespace at a wrap point is dropped. Widths are in points.
    fn lines(
        &self,
        text: &str,
        size_pt: f32,
        spacing_pt: f32,
        max_pt: Option<f32>,
    ) -> Vec<LaidLine> {
        let scale = size_pt / f32::from(self.face.units_per_em);
        let width = |units: u64, chars: usize| {
            units as f32 * scale + spacing_pt * chars.saturating_sub(1) as f32
        };
        let laid = |run: Run| LaidLine {
            width_pt: width(run.units, run.chars),
            text: run.text,
        };
        let mut out = Vec::new();
        for para in paragraphs(text) {
            let mut line = Run::default();
            let Some(max) = max_pt else {
                line.push_str(self, para);
                out.push(laid(line));
                continue;
            };
            let fits = |units, chars| width(units, chars) <= max + WIDTH_EPSILON_PT;
            // Whitespace waiting to be placed: kept between pieces, dropped at a wrap, kept
            // as indentation at the start of a paragraph.
            let mut gap = Run::default();
            for (is_space, piece) in segments(para) {
                if is_space {
                    gap.push_str(self, piece);
                    continue;
                }
                let mut seg = Run::default();
                seg.push_str(self, piece);
                if !line.text.is_empty()
                    && !fits(
                        line.units + gap.units + seg.units,
                        line.chars + gap.chars + seg.chars,
                    )
                {
                    out.push(laid(std::mem::take(&mut line)));
                    gap = Run::default();
                }
                line.append(std::mem::take(&mut gap));
                if fits(line.units + seg.units, line.chars + seg.chars) {
                    line.append(seg);
                    continue;
                }
                // Wider than a whole line: break between its characters.
                for c in piece.chars() {
                    let adv = u64::from(self.advance(c));
                    if !line.text.is_empty() && !fits(line.units + adv, line.chars + 1) {
                        out.push(laid(std::mem::take(&mut line)));
                    }
                    line.push(self, c);
                }
            }
            out.push(laid(line));
        }
        out
    }

    /// Drawing operations for one page (already validated by `check_page`); its QR codes go
    /// into `xobjects`.
    fn page_ops(
        &self,
        p: usize,
        page: &Page,
        fonts: &Fonts,
        xobjects: &mut BTreeMap<pp::XObjectId, pp::XObject>,
    ) -> Result<Vec<pp::Op>, RenderError> {
        let h = page.height_mm;
        let point = |x_mm: f32, y_mm: f32| pp::Point {
            x: pp::Pt(x_mm * PT_PER_MM),
            y: pp::Pt((h - y_mm) * PT_PER_MM),
        };
        let mut ops = Vec::new();
        for (i, item) in page.items.iter().enumerate() {
            match item {
                Item::Text {
                    x_mm,
                    y_mm,
                    size_pt,
                    text,
                    color,
                    align,
                    max_width_mm,
                    line_height,
                    letter_spacing_pt,
                } => {
                    let lines = self.lines(
                        text,
                        *size_pt,
                        *letter_spacing_pt,
                        max_width_mm.map(|w| w * PT_PER_MM),
                    );
                    if lines.iter().all(|l| l.text.is_empty()) {
                        continue;
                    }
                    ops.extend([
                        pp::Op::StartTextSection,
                        pp::Op::SetFillColor { col: rgb(*color) },
                        // Tc is in unscaled text space units, i.e. points here.
                        pp::Op::SetCharacterSpacing {
                            multiplier: *letter_spacing_pt,
                        },
                    ]);
                    let origin = point(*x_mm, *y_mm);
                    let mut current_font = None;
                    for (n, line) in lines.iter().enumerate().filter(|(_, l)| !l.text.is_empty()) {
                        let x = match align {
                            Align::Left => origin.x.0,
                            Align::Center => origin.x.0 - line.width_pt / 2.0,
                            Align::Right => origin.x.0 - line.width_pt,
                        };
                        let y = origin.y.0 - n as f32 * size_pt * line_height;
                        ops.push(pp::Op::SetTextMatrix {
                            matrix: pp::TextMatrix::Translate(pp::Pt(x), pp::Pt(y)),
                        });
                        for (slot, run) in font_runs(&line.text, fonts) {
                            if current_font != Some(slot) {
                                current_font = Some(slot);
                                ops.push(pp::Op::SetFont {
                                    font: pp::PdfFontHandle::External(fonts.ids[slot].clone()),
                                    size: pp::Pt(*size_pt),
                                });
                            }
                            ops.push(pp::Op::ShowText {
                                items: vec![pp::TextItem::Text(run)],
                            });
                        }
                    }
                    ops.push(pp::Op::EndTextSection);
                }
                Item::Rect {
                    x_mm,
                    y_mm,
                    width_mm,
                    height_mm,
                    stroke,
                    line_width_pt,
                } => {
                    let corner = point(*x_mm, y_mm + height_mm);
                    ops.extend([
                        pp::Op::SetOutlineColor { col: rgb(*stroke) },
                        pp::Op::SetOutlineThickness {
                            pt: pp::Pt(*line_width_pt),
                        },
                        pp::Op::DrawRectangle {
                            rectangle: pp::Rect {
                                x: corner.x,
                                y: corner.y,
                                width: pp::Pt(width_mm * PT_PER_MM),
                                height: pp::Pt(height_mm * PT_PER_MM),
                                mode: Some(pp::PaintMode::Stroke),
                                winding_order: None,
                            },
                        },
                    ]);
                }
                Item::Line {
                    from_mm,
                    to_mm,
                    stroke,
                    line_width_pt,
                } => {
                    let vertex = |(x, y): (f32, f32)| pp::LinePoint {
                        p: point(x, y),
                        bezier: false,
                    };
                    ops.extend([
                        pp::Op::SetOutlineColor { col: rgb(*stroke) },
                        pp::Op::SetOutlineThickness {
                            pt: pp::Pt(*line_width_pt),
                        },
                        pp::Op::DrawLine {
                            line: pp::Line {
                                points: vec![vertex(*from_mm), vertex(*to_mm)],
                                is_closed: false,
                            },
                        },
                    ]);
                }
                Item::Qr {
                    x_mm,
                    y_mm,
                    size_mm,
                    payload,
                } => {
                    // Automatic encoding only fails when the data does not fit version 40.
                    let code = QrModules::encode(payload.as_bytes()).ok_or(
                        RenderError::QrPayloadTooLong {
                            len: payload.len(),
                            page: p,
                            item: i,
                        },
                    )?;
                    let n = code.width();
                    let module = size_mm / (n + 2 * QR_QUIET_ZONE) as f32;
                    let corner = point(*x_mm, y_mm + size_mm);
                    let side = pp::Pt(size_mm * PT_PER_MM);
                    let origin = point(
                        x_mm + QR_QUIET_ZONE as f32 * module,
                        y_mm + QR_QUIET_ZONE as f32 * module,
                    );
                    let scale = module * PT_PER_MM;
                    let id = pp::XObjectId(format!("QR{p}_{i}"));
                    xobjects.insert(id.clone(), qr_form(&code, scale, origin));
                    ops.extend([
                        pp::Op::SetFillColor {
                            col: rgb(Rgb(255, 255, 255)),
                        },
                        pp::Op::DrawRectangle {
                            rectangle: pp::Rect {
                                x: corner.x,
                                y: corner.y,
                                width: side,
                                height: side,
                                mode: Some(pp::PaintMode::Fill),
                                winding_order: None,
                            },
                        },
                        pp::Op::UseXobject {
                            id,
                            transform: pp::XObjectTransform::default(),
                        },
                    ]);
                }
            }
        }
        Ok(ops)
    }
}

/// A QR code as a form XObject: one unit per module, y downwards from the symbol's top-left
/// corner, mapped onto the page by `/Matrix` (`scale` points per module, top-left corner at
/// `origin`). Each horizontal run of dark modules is one `re`, all filled as one path, so
/// abutting runs leave no seams. The content is written here with integer coordinates:
/// printpdf would write every coordinate as a float, and formatting those was a fifth of
/// rendering a licence; `itoa` writes them without `fmt`'s machinery (4% of issuing).
fn qr_form(code: &QrModules, scale: f32, origin: pp::Point) -> pp::XObject {
    let n = code.width();
    let mut content = b"0 g\n".to_vec();
    let mut digits = itoa::Buffer::new();
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if !code.is_dark(row, col) {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && code.is_dark(row, col) {
                col += 1;
            }
            for number in [start, row, col - start] {
                content.extend_from_slice(digits.format(number).as_bytes());
                content.push(b' ');
            }
            content.extend_from_slice(b"1 re\n");
        }
    }
    content.extend_from_slice(b"f\n");
    let real = pp::DictItem::Real;
    let dict = BTreeMap::from([
        ("Type".to_owned(), pp::DictItem::Name(b"XObject".to_vec())),
        ("Subtype".to_owned(), pp::DictItem::Name(b"Form".to_vec())),
        (
            "BBox".to_owned(),
            pp::DictItem::Array(vec![
                pp::DictItem::Int(0),
                pp::DictItem::Int(0),
                pp::DictItem::Int(n as i64),
                pp::DictItem::Int(n as i64),
            ]),
        ),
        (
            "Matrix".to_owned(),
            pp::DictItem::Array(vec![
                real(scale),
                real(0.0),
                real(0.0),
                real(-scale),
                real(origin.x.0),
                real(origin.y.0),
            ]),
        ),
    ]);
    pp::XObject::External(pp::ExternalXObject {
        stream: pp::ExternalStream {
            dict,
            content,
            compress: false,
        },
        width: None,
        height: None,
        dpi: None,
    })
}

/// Serialises with printpdf/lopdf, replacing printpdf's random trailer `/ID` with a digest of
/// the file so equal documents give equal bytes.
fn save(pdf: &pp::PdfDocument, shared: &SharedSubsets) -> Result<Vec<u8>, RenderError> {
    let opts = pp::PdfSaveOptions {
        optimize: true,
        // Only consulted with printpdf's `text_layout` feature; fonts arrive subset anyway.
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    // printpdf collects problems here instead of printing them; lower severities are notes.
    let mut warnings = Vec::new();
    let mut lo = pdf.to_lopdf_document(&opts, &mut warnings);
    if let Some(w) = warnings
        .iter()
        .find(|w| w.severity == pp::PdfParseErrorSeverity::Error)
    {
        return Err(RenderError::PdfWrite(w.msg.clone()));
    }
    for (n, program) in shared.programs.iter().enumerate() {
        let Some(id) = font_program(&lo, font_resource_name(n, shared.programs.len()).as_bytes())
        else {
            continue;
        };
        let Ok(lopdf::Object::Stream(stream)) = lo.get_object_mut(id) else {
            continue;
        };
        match program.get() {
            Some((raw, compressed)) if *raw == stream.content => {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed.clone());
            }
            Some(_) => super::flate(stream),
            None => {
                let raw = stream.content.clone();
                super::flate(stream);
                if stream.dict.has(b"Filter") {
                    let _ = program.set((raw, stream.content.clone()));
                }
            }
        }
    }
    for object in lo.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object {
            super::flate(stream);
        }
    }
    let write_error = |e: &dyn std::fmt::Display| RenderError::PdfWrite(e.to_string());
    let ids = lo
        .trailer
        .get_mut(b"ID")
        .and_then(|o| o.as_array_mut())
        .map_err(|e| write_error(&e))?;
    for s in ids {
        *s.as_str_mut().map_err(|e| write_error(&e))? = ID_PLACEHOLDER.to_vec();
    }
    let mut out = Vec::with_capacity(128 * 1024);
    lo.save_to(&mut out).map_err(|e| write_error(&e))?;
    set_file_id(&mut out).ok_or_else(|| write_error(&"the trailer has no /ID to set"))?;
    Ok(out)
}

/// What the trailer's `/ID` strings hold when the file is written, before [`set_file_id`].
const ID_PLACEHOLDER: &[u8; 32] = b"00000000000000000000000000000000";

/// Replaces the two placeholder `/ID` strings, the last two occurrences of the literal
/// `(000…0)` (the trailer is written last), with 32 hex digits of the SHA-256 of the file as
/// written with the placeholders. Same length, so no offset moves: the file is written once,
/// not once more to carry its digest. `None` if the placeholders are not there.
fn set_file_id(pdf: &mut [u8]) -> Option<()> {
    let digest = ring::digest::digest(&ring::digest::SHA256, pdf);
    let hex = hex::encode(&digest.as_ref()[..16]).into_bytes();
    let literal: Vec<u8> = [b"(".as_slice(), ID_PLACEHOLDER, b")"].concat();
    let mut end = pdf.len();
    for _ in 0..2 {
        let at = pdf[..end]
            .windows(literal.len())
            .rposition(|w| w == literal.as_slice())?;
        pdf[at + 1..at + 1 + hex.len()].copy_from_slice(&hex);
        end = at;
    }
    Some(())
}

/// The font program stream of the font that the first page's resources call `name`.
fn font_program(doc: &lopdf::Document, name: &[u8]) -> Option<lopdf::ObjectId> {
    let page = doc.page_iter().next()?;
    let fonts = doc.get_page_fonts(page).ok()?;
    let descendants = fonts.get(name)?.get(b"DescendantFonts").ok()?;
    let descendant = doc
        .dereference(descendants)
        .ok()?
        .1
        .as_array()
        .ok()?
        .first()?;
    let cid_font = doc.dereference(descendant).ok()?.1.as_dict().ok()?;
    let descriptor = cid_font.get(b"FontDescriptor").ok()?;
    let descriptor = doc.dereference(descriptor).ok()?.1.as_dict().ok()?;
    [b"FontFile3".as_slice(), b"FontFile2", b"FontFile"]
        .iter()
        .find_map(|key| descriptor.get(key).ok()?.as_reference().ok())
}

/// The lines of `text` separated by `\n` or `\r\n`.
fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').map(|p| p.strip_suffix('\r').unwrap_or(p))
}

/// Splits a line into runs of characters that live in the same subset font.
fn font_runs(line: &str, fonts: &Fonts) -> Vec<(usize, String)> {
    let mut runs: Vec<(usize, String)> = Vec::new();
    for c in line.chars() {
        let font = fonts.font_of.get(&c).copied().unwrap_or(0);
        match runs.last_mut() {
            Some((f, run)) if *f == font => run.push(c),
            _ => runs.push((font, c.to_string())),
        }
    }
    runs
}

/// Splits a paragraph into whitespace runs and unbreakable pieces: `(is_whitespace, piece)`.
fn segments(para: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in para.char_indices() {
        if let Some(p) = prev {
            let boundary = if is_break_space(p) || is_break_space(c) {
                is_break_space(p) != is_break_space(c)
            } else {
                can_break(p, c)
            };
            if boundary {
                out.push((is_break_space(p), &para[start..i]));
                start = i;
            }
        }
        prev = Some(c);
    }
    if let Some(p) = prev {
        out.push((is_break_space(p), &para[start..]));
    }
    out
}

/// Whitespace that allows a line break (no-break spaces do not).
fn is_break_space(c: char) -> bool {
    c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}')
}

/// Whether a line may break between two non-space characters: next to CJK, except before
/// closing punctuation or after opening punctuation.
fn can_break(a: char, b: char) -> bool {
    const NO_BREAK_BEFORE: &str = "，。、；：？！）》」』】〕〉｝］〗〙〛”’％…‥·～,.;:?!)]}%";
    const NO_BREAK_AFTER: &str = "（《「『【〔〈｛［〖〘〚“‘([{";
    !NO_BREAK_BEFORE.contains(b) && !NO_BREAK_AFTER.contains(a) && (is_cjk(a) || is_cjk(b))
}

/// Scripts written without spaces, where a line may break between any two characters.
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF        // Hangul Jamo
        | 0x2E80..=0x2FFF      // radicals, Kangxi, ideographic description
        | 0x3000..=0x33FF      // CJK punctuation, kana, bopomofo, enclosed, compatibility
        | 0x3400..=0x4DBF      // ideographs extension A
        | 0x4E00..=0x9FFF      // unified ideographs
        | 0xA960..=0xA97F      // Hangul Jamo extended A
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // compatibility ideographs
        | 0xFE30..=0xFE4F      // compatibility forms
        | 0xFF00..=0xFFEF      // half- and full-width forms
        | 0x20000..=0x3FFFF // ideographs extensions B and later
    )
}

fn rgb(Rgb(r, g, b): Rgb) -> pp::Color {
    let c = |v: u8| f32::from(v) / 255.0;
    pp::Color::Rgb(pp::Rgb::new(c(r), c(g), c(b), None))
}

/// False for NaN.
fn in_range(v: f32, lo: f32, hi: f32) -> bool {
    (lo..=hi).contains(&v)
}

fn invalid(page: usize, item: Option<usize>, reason: &'static str) -> RenderError {
    RenderError::InvalidLayout { page, item, reason }
}

fn bad_font(reason: &str) -> RenderError {
    RenderError::BadFont(reason.to_owned())
}

/// 64-bit FNV-1a.
fn fnv1a(seed: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(seed, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The six capital letters that mark a subset font's name, derived from its glyphs.
fn subset_tag(glyph_ids: &BTreeSet<u16>, prefix: &str, font: usize) -> String {
    let bytes = glyph_ids.iter().flat_map(|id| id.to_le_bytes());
    let salt = prefix.bytes().chain(font.to_le_bytes());
    let mut h = fnv1a(FNV_OFFSET, bytes.chain(salt));
    (0..6)
        .map(|_| {
            let c = char::from(b'A' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::sync::OnceLock;

    use super::*;

    const RED: Rgb = Rgb(200, 16, 16);
    const INK: Rgb = Rgb(20, 20, 20);
    const SCOPE: &str = "一般项目：软件开发；信息系统集成服务；信息技术咨询服务；数据处理和存储支持服务；\
        人工智能应用软件开发；网络技术服务；技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广；\
        计算机软硬件及辅助设备零售（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。";
    const SCOPE_WIDTH_MM: f32 = 120.0;
    const ROWS: [(&str, &str); 7] = [
        ("统一社会信用代码", "91350100M000100Y43"),
        ("名称", "厦门市某某科技有限公司"),
        ("类型", "有限责任公司（自然人投资或控股）"),
        ("法定代表人", "张三"),
        ("注册资本", "人民币壹仟万元整"),
        ("成立日期", "2020年01月01日"),
        ("住所", "厦门市思明区软件园二期观日路100号"),
    ];

    fn renderer() -> &'static Renderer {
        static R: OnceLock<Renderer> = OnceLock::new();
        R.get_or_init(|| Renderer::new(crate::pdf::font::NOTO_SERIF_SC).expect("parse font"))
    }

    fn text(x_mm: f32, y_mm: f32, size_pt: f32, text: &str, align: Align) -> Item {
        Item::Text {
            x_mm,
            y_mm,
            size_pt,
            text: text.to_owned(),
            color: INK,
            align,
            max_width_mm: None,
            line_height: 1.5,
            letter_spacing_pt: 0.0,
        }
    }

    /// Changes a text item's colour, size, wrap width or letter spacing.
    fn tweak(
        mut item: Item,
        set: impl FnOnce(&mut Rgb, &mut f32, &mut Option<f32>, &mut f32),
    ) -> Item {
        if let Item::Text {
            color,
            size_pt,
            max_width_mm,
            letter_spacing_pt,
            ..
        } = &mut item
        {
            set(color, size_pt, max_width_mm, letter_spacing_pt);
        }
        item
    }

    fn page(items: Vec<Item>) -> Document {
        Document {
            title: "测试".to_owned(),
            pages: vec![Page {
                width_mm: 210.0,
                height_mm: 297.0,
                items,
            }],
            shared_text: String::new(),
        }
    }

    /// A landscape business licence: red double frame, title, rows, wrapped scope, QR.
    fn licence() -> Document {
        let frame = |inset: f32, line_width_pt: f32| Item::Rect {
            x_mm: inset,
            y_mm: inset,
            width_mm: 297.0 - 2.0 * inset,
            height_mm: 210.0 - 2.0 * inset,
            stroke: RED,
            line_width_pt,
        };
        let mut items = vec![
            frame(8.0, 2.0),
            frame(11.0, 0.6),
            tweak(
                text(148.5, 38.0, 40.0, "营业执照", Align::Center),
                |c, _, _, ls| {
                    *c = RED;
                    *ls = 2.0;
                },
            ),
            Item::Line {
                from_mm: (60.0, 46.0),
                to_mm: (237.0, 46.0),
                stroke: RED,
                line_width_pt: 0.8,
            },
            Item::Qr {
                x_mm: 245.0,
                y_mm: 18.0,
                size_mm: 34.0,
                payload: "https://zhengyin.example.cn/v/91350100M000100Y43?t=0123456789abcdef"
                    .to_owned(),
            },
            text(262.0, 56.0, 8.0, "扫描二维码查询", Align::Center),
        ];
        let mut y = 66.0;
        for (i, (label, value)) in ROWS.iter().enumerate() {
            items.push(text(30.0, y, 12.0, label, Align::Left));
            items.push(text(75.0, y, 12.0, value, Align::Left));
            y += 11.0;
            if i == 3 {
                items.push(text(30.0, y, 12.0, "经营范围", Align::Left));
                items.push(tweak(
                    text(75.0, y, 12.0, SCOPE, Align::Left),
                    |_, _, w, _| {
                        *w = Some(SCOPE_WIDTH_MM);
                    },
                ));
                y += 11.0 + 4.0 * 12.0 * 1.5 / PT_PER_MM;
            }
        }
        items.push(text(
            267.0,
            185.0,
            12.0,
            "登记机关 厦门市市场监督管理局",
            Align::Right,
        ));
        items.push(text(267.0, 193.0, 12.0, "2024年05月20日", Align::Right));
        // The labels are the template's fixed text, as a template's layout shares it.
        let labels: String = ROWS.iter().map(|(label, _)| *label).collect();
        Document {
            title: "营业执照 厦门市某某科技有限公司".to_owned(),
            pages: vec![Page {
                width_mm: 297.0,
                height_mm: 210.0,
                items,
            }],
            shared_text: format!("营业执照{labels}登记机关0123456789年月日"),
        }
    }

    /// Where the rendered files go, for a person to look at.
    fn out_dir() -> String {
        let dir = crate::test_needs::evidence_dir("render-check");
        dir.to_str().expect("a UTF-8 path").to_string()
    }

    /// Writes `bytes` to the output directory as `name`.pdf and returns the path.
    fn write_pdf(name: &str, bytes: &[u8]) -> String {
        let path = format!("{}/{name}.pdf", out_dir());
        std::fs::write(&path, bytes).expect("write pdf");
        path
    }

    /// Runs a tool, returning (exit code, stdout + stderr).
    fn run(tool: &str, args: &[&str]) -> (i32, String) {
        let out = Command::new(tool).args(args).output().expect(tool);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    fn squeeze(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn licence_pdf_extracts_validates_and_embeds_a_subset() {
        let bytes = renderer().render(&licence()).expect("render");
        let path = write_pdf("licence", &bytes);
        assert!(bytes.len() < 300_000, "{} bytes", bytes.len());

        let (code, text) = run("pdftotext", &["-layout", &path, "-"]);
        assert_eq!(code, 0, "{text}");
        for s in ["营业执照", "扫描二维码查询", "经营范围", "2024年05月20日"] {
            assert!(text.contains(s), "{s:?} missing from:\n{text}");
        }
        assert!(text.contains("登记机关 厦门市市场监督管理局"), "{text}");
        for (label, value) in ROWS {
            assert!(
                text.contains(label) && text.contains(value),
                "{label} {value}:\n{text}"
            );
        }
        assert!(squeeze(&text).contains(&squeeze(SCOPE)), "{text}");

        let (code, out) = run("qpdf", &["--check", &path]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("No syntax or stream encoding errors found"),
            "{out}"
        );
        assert!(!out.to_lowercase().contains("warning"), "{out}");

        // Two subsets: the shared text's, kept between renders, and this document's own.
        let (code, fonts) = run("pdffonts", &[&path]);
        assert_eq!(code, 0, "{fonts}");
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert_eq!(rows.len(), 2, "{fonts}");
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let tag = cols[0].split_once('+').expect("subset tag").0;
            assert!(
                tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()),
                "{fonts}"
            );
            let enc = cols
                .iter()
                .position(|c| *c == "Identity-H")
                .expect("encoding");
            assert_eq!(
                cols[enc + 1..enc + 4],
                ["yes", "yes", "yes"],
                "emb sub uni:\n{fonts}"
            );
        }

        let (_, info) = run("pdfinfo", &[&path]);
        assert!(info.contains("营业执照 厦门市某某科技有限公司"), "{info}");

        let (code, out) = run(
            "pdftoppm",
            &["-r", "60", "-png", &path, &format!("{}/licence", out_dir())],
        );
        assert_eq!(code, 0, "{out}");
    }

    #[test]
    fn wrapped_lines_fit_and_keep_all_text() {
        let r = renderer();
        let lines = r.wrap(SCOPE, 12.0, SCOPE_WIDTH_MM);
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.concat(), SCOPE);
        for line in &lines {
            assert!(
                r.text_width_mm(line, 12.0) <= SCOPE_WIDTH_MM + 1e-3,
                "{line}"
            );
            assert!(!line.starts_with(['，', '；', '。', '、', '）']), "{line}");
        }

        // Latin breaks only at spaces, so rejoining the lines with spaces restores the text.
        let latin = "Software development, ISO 9001 certification and information technology \
                     consulting services";
        let lines = r.wrap(latin, 10.0, 40.0);
        assert!(lines.len() >= 3, "{lines:?}");
        assert_eq!(lines.join(" "), latin);
        for line in &lines {
            assert!(r.text_width_mm(line, 10.0) <= 40.0 + 1e-3, "{line}");
        }
    }

    #[test]
    fn too_long_words_break_between_characters() {
        let r = renderer();
        let word = "W".repeat(120);
        let lines = r.wrap(&word, 10.0, 20.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), word);
        assert!(lines
            .iter()
            .all(|l| r.text_width_mm(l, 10.0) <= 20.0 + 1e-3));
        // Paragraph breaks and indentation survive; empty text yields one empty line.
        assert_eq!(r.wrap("　　甲\n\n乙", 10.0, 50.0), ["　　甲", "", "乙"]);
        assert_eq!(r.wrap("", 10.0, 50.0), [""]);
    }

    #[test]
    fn missing_glyph_names_the_character() {
        let doc = page(vec![text(10.0, 10.0, 12.0, "营业执照😀", Align::Left)]);
        let err = renderer()
            .render(&doc)
            .expect_err("emoji is not in Noto Serif SC");
        assert!(
            matches!(
                err,
                RenderError::MissingGlyph {
                    ch: '😀',
                    page: 0,
                    item: 0
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("U+1F600"), "{err}");
    }

    #[test]
    fn invalid_numbers_are_errors_not_panics() {
        let r = renderer();
        let bad_items = [
            tweak(
                text(10.0, 10.0, 12.0, "甲", Align::Left),
                |_, size, _, _| *size = f32::NAN,
            ),
            tweak(text(10.0, 10.0, 12.0, "甲", Align::Left), |_, _, w, _| {
                *w = Some(-5.0)
            }),
            text(f32::INFINITY, 10.0, 12.0, "甲", Align::Left),
            Item::Rect {
                x_mm: 0.0,
                y_mm: 0.0,
                width_mm: -1.0,
                height_mm: 1.0,
                stroke: RED,
                line_width_pt: 1.0,
            },
            Item::Line {
                from_mm: (0.0, f32::NAN),
                to_mm: (1.0, 1.0),
                stroke: RED,
                line_width_pt: 1.0,
            },
            Item::Qr {
                x_mm: 0.0,
                y_mm: 0.0,
                size_mm: 0.0,
                payload: "x".to_owned(),
            },
        ];
        for item in bad_items {
            let err = r.render(&page(vec![item.clone()])).expect_err("invalid");
            assert!(
                matches!(err, RenderError::InvalidLayout { item: Some(0), .. }),
                "{item:?}: {err:?}"
            );
        }
        let mut doc = page(vec![]);
        doc.pages[0].width_mm = -210.0;
        assert!(matches!(
            r.render(&doc),
            Err(RenderError::InvalidLayout { item: None, .. })
        ));
        doc.pages.clear();
        assert!(matches!(
            r.render(&doc),
            Err(RenderError::InvalidLayout { .. })
        ));
        // Empty text, blank lines and a page with nothing on it are fine.
        let doc = page(vec![
            text(10.0, 10.0, 12.0, "", Align::Center),
            text(10.0, 20.0, 12.0, "\n\n", Align::Right),
        ]);
        let path = write_pdf("empty", &r.render(&doc).expect("render"));
        assert_eq!(run("qpdf", &["--check", &path]).0, 0);
    }

    #[test]
    fn qr_payload_too_long_is_an_error() {
        let doc = page(vec![Item::Qr {
            x_mm: 10.0,
            y_mm: 10.0,
            size_mm: 40.0,
            payload: "x".repeat(3000),
        }]);
        let err = renderer().render(&doc).expect_err("too long");
        assert!(
            matches!(err, RenderError::QrPayloadTooLong { len: 3000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn qr_modules_are_where_the_code_says() {
        const QZ: usize = QR_QUIET_ZONE;
        let payload = "https://zhengyin.example.cn/v/91350100M000100Y43";
        let (x, y, size) = (10.0, 12.0, 40.0);
        let doc = Document {
            title: "QR".to_owned(),
            pages: vec![Page {
                width_mm: 60.0,
                height_mm: 64.0,
                items: vec![Item::Qr {
                    x_mm: x,
                    y_mm: y,
                    size_mm: size,
                    payload: payload.to_owned(),
                }],
            }],
            shared_text: String::new(),
        };
        let path = write_pdf("qr", &renderer().render(&doc).expect("render"));
        let stem = format!("{}/qr", out_dir());
        let args = ["-r", "300", "-gray", "-singlefile", &path, &stem];
        assert_eq!(run("pdftoppm", &args).0, 0);
        let pgm = std::fs::read(format!("{stem}.pgm")).expect("pgm");
        // Binary PGM: "P5", width, height, maxval, one whitespace byte, pixels.
        let parts: Vec<&[u8]> = pgm.splitn(5, |b| b.is_ascii_whitespace()).collect();
        let width: usize = String::from_utf8_lossy(parts[1]).parse().expect("width");
        let pixels = parts[4];

        let code = QrModules::encode(payload.as_bytes()).expect("qr");
        let n = code.width();
        let module = size / (n + 2 * QZ) as f32;
        let px = |mm: f32| (mm / 25.4 * 300.0) as usize;
        for row in 0..n + 2 * QZ {
            for col in 0..n + 2 * QZ {
                let inside = (QZ..QZ + n).contains(&row) && (QZ..QZ + n).contains(&col);
                let dark = inside && code.is_dark(row - QZ, col - QZ);
                let centre = |i: usize, start: f32| px(start + (i as f32 + 0.5) * module);
                let value = pixels[centre(row, y) * width + centre(col, x)];
                assert_eq!(value < 128, dark, "module row {row}, column {col}");
            }
        }
    }

    #[test]
    fn bad_font_is_rejected() {
        let err = Renderer::new(b"definitely not a font").expect_err("garbage");
        assert!(matches!(err, RenderError::BadFont(_)), "{err:?}");
    }

    #[test]
    fn characters_sharing_a_glyph_extract_distinctly() {
        // ⼀ (Kangxi radical U+2F00) and 一 (U+4E00) share one glyph in Noto CJK.
        let r = renderer();
        let line = "部首⼀与汉字一，⼈与人";
        let doc = page(vec![text(20.0, 30.0, 14.0, line, Align::Left)]);
        let path = write_pdf("shared-glyph", &r.render(&doc).expect("render"));
        let (_, text) = run("pdftotext", &[&path, "-"]);
        assert_eq!(text.trim(), line);
        assert_eq!(run("qpdf", &["--check", &path]).0, 0);
    }

    #[test]
    fn characters_beyond_gb2312_are_subset_from_the_font_itself() {
        // 喆, 堃 and 赟 (common in names) are not in GB 2312, so not in the common glyphs.
        let r = renderer();
        let line = "法定代表人王喆堃，监事李赟";
        assert!(!r.common.id_of.contains_key(&r.glyphs[&'喆'].id));
        assert!(r.common.id_of.contains_key(&r.glyphs[&'王'].id));
        let doc = page(vec![text(20.0, 30.0, 14.0, line, Align::Left)]);
        let path = write_pdf("beyond-gb2312", &r.render(&doc).expect("render"));
        let (_, text) = run("pdftotext", &[&path, "-"]);
        assert_eq!(text.trim(), line);
        let (code, fonts) = run("pdffonts", &[&path]);
        assert_eq!(code, 0, "{fonts}");
        let embedded = fonts.lines().filter(|l| l.contains("+NotoSerifSC")).count();
        assert_eq!(embedded, 2, "one subset of each source:\n{fonts}");
        assert_eq!(run("qpdf", &["--check", &path]).0, 0);
    }

    #[test]
    fn trailer_id_is_a_digest_of_the_file() {
        let pdf = renderer().render(&licence()).expect("render");

        let parsed = lopdf::Document::load_mem(&pdf).expect("parses");
        let ids: Vec<&[u8]> = parsed
            .trailer
            .get(b"ID")
            .and_then(|o| o.as_array())
            .expect("/ID")
            .iter()
            .map(|o| o.as_str().expect("string"))
            .collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[0].len(), 32);
        assert!(ids[0]
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Putting the placeholders back gives the file the digest was taken over.
        let id = ids[0].to_vec();
        let mut unset = pdf.clone();
        let found: Vec<usize> = (0..unset.len() - id.len())
            .filter(|&at| unset[at..at + id.len()] == id[..])
            .collect();
        assert_eq!(found.len(), 2);
        for at in found {
            unset[at..at + id.len()].copy_from_slice(ID_PLACEHOLDER);
        }
        let mut again = unset.clone();
        set_file_id(&mut again).expect("placeholders");
        assert!(again == pdf);
        let digest = ring::digest::digest(&ring::digest::SHA256, &unset);
        assert_eq!(hex::encode(&digest.as_ref()[..16]).as_bytes(), &id[..]);
    }

    #[test]
    fn output_is_deterministic_and_renderer_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Renderer>();
        let doc = licence();
        // A renderer of its own: the first render makes the shared subset, the others reuse it
        // (and its compressed program), byte for byte.
        let fresh = Renderer::new(crate::pdf::font::NOTO_SERIF_SC).expect("parse font");
        let first = fresh.render(&doc).expect("render");
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2).map(|_| s.spawn(|| fresh.render(&doc))).collect();
            for h in handles {
                assert!(h.join().expect("thread").expect("render") == first);
            }
        });
    }
}
