//! Embedding a subset of an OpenType (CFF) font in a PDF as a composite font.
//!
//! The font is parsed once into a [`FontProgram`]; [`FontProgram::subset_for`] cuts out the
//! glyphs some text needs, and [`SubsetFont::add_to`] writes them to a `lopdf::Document` as a
//! Type0 font with `/Encoding /Identity-H` over a `CIDFontType0` descendant.
//!
//! How the subset is keyed (checked against the `subsetter` 0.2.6 sources): `subsetter`
//! renumbers the kept glyphs 0..n in the order given to its `GlyphRemapper` (.notdef first),
//! rewrites the CFF table as CID-keyed with ROS Adobe/Identity/0 and an identity charset
//! (CID = new glyph id), and drops `cmap`. So the new glyph id is the CID, is the 2-byte code
//! in the content stream (Identity-H), and the bare `CFF ` table of the subset is embedded as
//! `/FontFile3` with `/Subtype /CIDFontType0C` (PDF 1.3+). A `/ToUnicode` CMap maps the codes
//! back to the text for extraction and search.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use lopdf::{Dictionary, Object, ObjectId, Stream};
use ttf_parser::{Face, GlyphId, RawFace, Tag};

/// PDF font descriptor flag: glyphs have serifs.
const FLAG_SERIF: i64 = 1 << 1;
/// PDF font descriptor flag: glyphs outside the Adobe standard Latin set (always true for CJK).
const FLAG_SYMBOLIC: i64 = 1 << 2;
/// PDF font descriptor flag: all glyphs have the same width.
const FLAG_FIXED_PITCH: i64 = 1 << 0;
/// PDF font descriptor flag: italic.
const FLAG_ITALIC: i64 = 1 << 6;

/// Errors from parsing, subsetting and embedding a font.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FontError {
    /// The bytes are not an OpenType font.
    #[error("not a readable OpenType font: {0}")]
    Parse(#[from] ttf_parser::FaceParsingError),
    /// The font has TrueType or CFF2 outlines; only CFF-flavoured OpenType (.otf) is supported.
    #[error(
        "the font has no CFF outlines; only CFF-flavoured OpenType fonts (.otf) are supported"
    )]
    NotCff,
    /// The font has no glyph for this character.
    #[error("the font has no glyph for {0:?} (U+{cp:04X})", cp = u32::from(*.0))]
    MissingGlyph(char),
    /// The character was not part of the text the subset was made for.
    #[error("{0:?} is not in this font subset; include it in the text passed to subset_for")]
    NotInSubset(char),
    /// The subsetter rejected the font.
    #[error("font subsetting failed: {0}")]
    Subset(#[from] subsetter::Error),
    /// The subsetter's output has no `CFF ` table (a subsetter bug).
    #[error("the font subset has no CFF table")]
    SubsetWithoutCff,
}

/// The CJK font shipped with the project: Noto Serif SC Regular (SIL Open Font License 1.1,
/// `templates/fonts/`), a Song-style face, so the first run needs no system fonts.
pub static NOTO_SERIF_SC: &[u8] = include_bytes!("../../templates/fonts/NotoSerifSC-Regular.otf");

/// An OpenType font with CFF outlines, parsed once; cheap to share between threads.
#[derive(Clone)]
pub struct FontProgram {
    data: &'static [u8],
    face: Face<'static>,
    /// PostScript name, reduced to characters that are safe in a PDF name.
    ps_name: String,
    /// FontDescriptor /Flags.
    flags: i64,
}

impl std::fmt::Debug for FontProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontProgram")
            .field("ps_name", &self.ps_name)
            .field("glyphs", &self.face.number_of_glyphs())
            .finish()
    }
}

impl FontProgram {
    /// Parses `bytes` (an `.otf` file); fails unless the font has CFF outlines.
    pub fn new(bytes: &'static [u8]) -> Result<FontProgram, FontError> {
        let face = Face::parse(bytes, 0)?;
        let raw = face.raw_face();
        if raw.table(Tag::from_bytes(b"CFF ")).is_none() {
            return Err(FontError::NotCff);
        }
        let ps_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .map(|n| pdf_name_safe(&n))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Font".to_owned());
        let mut flags = FLAG_SYMBOLIC;
        if face.is_monospaced() {
            flags |= FLAG_FIXED_PITCH;
        }
        if face.is_italic() {
            flags |= FLAG_ITALIC;
        }
        if has_serifs(&face) {
            flags |= FLAG_SERIF;
        }
        Ok(FontProgram {
            data: bytes,
            face,
            ps_name,
            flags,
        })
    }

    /// Horizontal advance of `c` in em, or `None` if the font has no glyph for it.
    pub fn advance_em(&self, c: char) -> Option<f32> {
        let gid = self.glyph(c)?;
        let adv = self.face.glyph_hor_advance(gid)?;
        Some(f32::from(adv) / f32::from(self.face.units_per_em()))
    }

    /// Ascender and descender of the font's design em box, in em (descender negative).
    ///
    /// Uses the OS/2 typographic metrics when present: for CJK fonts they bound the
    /// ideographic em box, which is what text is centred on.
    pub fn em_box(&self) -> (f32, f32) {
        let upem = f32::from(self.face.units_per_em());
        let asc = self
            .face
            .typographic_ascender()
            .unwrap_or(self.face.ascender());
        let desc = self
            .face
            .typographic_descender()
            .unwrap_or(self.face.descender());
        (f32::from(asc) / upem, f32::from(desc) / upem)
    }

    /// Subsets the font to the glyphs of `text`; fails naming the first character it lacks.
    pub fn subset_for(&self, text: &str) -> Result<SubsetFont, FontError> {
        let mut old_gids = BTreeMap::new();
        for c in text.chars() {
            let gid = self.glyph(c).ok_or(FontError::MissingGlyph(c))?;
            old_gids.insert(c, gid.0);
        }
        let mut sorted: Vec<u16> = old_gids.values().copied().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&sorted);
        let otf = subsetter::subset(self.data, 0, &remapper)?;
        let cff = RawFace::parse(&otf, 0)
            .ok()
            .and_then(|raw| raw.table(Tag::from_bytes(b"CFF ")))
            .ok_or(FontError::SubsetWithoutCff)?
            .to_vec();

        let mut cids = BTreeMap::new();
        for (&c, &old) in &old_gids {
            cids.insert(c, remapper.get(old).ok_or(FontError::SubsetWithoutCff)?);
        }
        let upem = f32::from(self.face.units_per_em());
        let widths = sorted
            .iter()
            .map(|&old| {
                let adv = self.face.glyph_hor_advance(GlyphId(old)).unwrap_or(0);
                (f32::from(adv) * 1000.0 / upem).round() as i64
            })
            .collect();
        Ok(SubsetFont {
            base_font: format!("{}+{}", subset_tag(&sorted), self.ps_name),
            cff,
            cids,
            widths,
            descriptor: self.descriptor_metrics(),
            flags: self.flags,
        })
    }

    /// The glyph for `c`, treating `.notdef` as missing.
    fn glyph(&self, c: char) -> Option<GlyphId> {
        self.face.glyph_index(c).filter(|g| g.0 != 0)
    }

    /// FontBBox, ItalicAngle, Ascent, Descent, CapHeight and StemV in 1/1000 em.
    fn descriptor_metrics(&self) -> DescriptorMetrics {
        let scale = 1000.0 / f32::from(self.face.units_per_em());
        let s = |v: i16| (f32::from(v) * scale).round() as i64;
        let bbox = self.face.global_bounding_box();
        let weight = f32::from(self.face.weight().to_number());
        DescriptorMetrics {
            bbox: [s(bbox.x_min), s(bbox.y_min), s(bbox.x_max), s(bbox.y_max)],
            italic_angle: self.face.italic_angle(),
            ascent: s(self.face.ascender()),
            descent: s(self.face.descender()),
            cap_height: s(self.face.capital_height().unwrap_or(self.face.ascender())),
            // CFF's StdVW is not exposed by ttf-parser; estimate the stem from the weight
            // class as typst does (400 -> 95).
            stem_v: (10.0 + 0.244 * (weight - 50.0)).round() as i64,
        }
    }
}

/// Font-wide metrics for the FontDescriptor, in glyph space units (1/1000 em).
#[derive(Debug, Clone, PartialEq)]
struct DescriptorMetrics {
    bbox: [i64; 4],
    italic_angle: f32,
    ascent: i64,
    descent: i64,
    cap_height: i64,
    stem_v: i64,
}

/// The glyphs of a font needed for some text, ready to be embedded.
#[derive(Debug, Clone)]
pub struct SubsetFont {
    /// `/BaseFont` of the CIDFont: subset tag + PostScript name.
    base_font: String,
    /// The subset's bare CFF table (CID-keyed, CID = glyph id).
    cff: Vec<u8>,
    /// Character to CID (the glyph id in the subset).
    cids: BTreeMap<char, u16>,
    /// Advance widths of CIDs 1..=n in 1/1000 em.
    widths: Vec<i64>,
    descriptor: DescriptorMetrics,
    flags: i64,
}

impl SubsetFont {
    /// The PDF font name including its six-letter subset tag, e.g. `ABCDEF+NotoSerifSC-Regular`.
    pub fn base_font(&self) -> &str {
        &self.base_font
    }

    /// Encodes `text` as the 2-byte big-endian codes (CIDs) to show it with `Tj`.
    pub fn encode(&self, text: &str) -> Result<Vec<u8>, FontError> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let cid = self.cids.get(&c).ok_or(FontError::NotInSubset(c))?;
            out.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(out)
    }

    /// Adds the Type0 font, its CIDFont, descriptor, font file and ToUnicode CMap to `doc`;
    /// returns the id of the Type0 font dictionary.
    pub fn add_to(&self, doc: &mut lopdf::Document) -> Result<ObjectId, FontError> {
        let mut file = Stream::new(
            Dictionary::from_iter([("Subtype", Object::Name(b"CIDFontType0C".to_vec()))]),
            self.cff.clone(),
        );
        super::flate(&mut file);
        let file_id = doc.add_object(file);

        let m = &self.descriptor;
        let descriptor = Dictionary::from_iter([
            ("Type", Object::Name(b"FontDescriptor".to_vec())),
            ("FontName", Object::Name(self.base_font.as_bytes().to_vec())),
            ("Flags", Object::Integer(self.flags)),
            (
                "FontBBox",
                Object::Array(m.bbox.iter().map(|&v| Object::Integer(v)).collect()),
            ),
            ("ItalicAngle", Object::Real(m.italic_angle)),
            ("Ascent", Object::Integer(m.ascent)),
            ("Descent", Object::Integer(m.descent)),
            ("CapHeight", Object::Integer(m.cap_height)),
            ("StemV", Object::Integer(m.stem_v)),
            ("FontFile3", Object::Reference(file_id)),
        ]);
        let descriptor_id = doc.add_object(descriptor);

        let system_info = Dictionary::from_iter([
            ("Registry", Object::string_literal("Adobe")),
            ("Ordering", Object::string_literal("Identity")),
            ("Supplement", Object::Integer(0)),
        ]);
        let widths = Object::Array(self.widths.iter().map(|&w| Object::Integer(w)).collect());
        let cid_font = Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"CIDFontType0".to_vec())),
            ("BaseFont", Object::Name(self.base_font.as_bytes().to_vec())),
            ("CIDSystemInfo", Object::Dictionary(system_info)),
            ("FontDescriptor", Object::Reference(descriptor_id)),
            ("DW", Object::Integer(1000)),
            ("W", Object::Array(vec![Object::Integer(1), widths])),
        ]);
        let cid_font_id = doc.add_object(cid_font);

        let mut to_unicode = Stream::new(Dictionary::new(), self.to_unicode_cmap().into_bytes());
        super::flate(&mut to_unicode);
        let to_unicode_id = doc.add_object(to_unicode);

        // For a CIDFontType0 descendant the Type0 /BaseFont is "<CIDFont name>-<CMap name>"
        // (ISO 32000-1, 9.7.6.1).
        let type0 = Dictionary::from_iter([
            ("Type", Object::Name(b"Font".to_vec())),
            ("Subtype", Object::Name(b"Type0".to_vec())),
            (
                "BaseFont",
                Object::Name(format!("{}-Identity-H", self.base_font).into_bytes()),
            ),
            ("Encoding", Object::Name(b"Identity-H".to_vec())),
            (
                "DescendantFonts",
                Object::Array(vec![Object::Reference(cid_font_id)]),
            ),
            ("ToUnicode", Object::Reference(to_unicode_id)),
        ]);
        Ok(doc.add_object(type0))
    }

    /// A ToUnicode CMap mapping each CID back to its character (UTF-16BE).
    fn to_unicode_cmap(&self) -> String {
        // One character per CID: the first (lowest) character that maps to it.
        let mut by_cid = BTreeMap::new();
        for (&c, &cid) in &self.cids {
            by_cid.entry(cid).or_insert(c);
        }
        let mut s = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<(u16, char)> = by_cid.into_iter().collect();
        // At most 100 entries per bfchar block (PDF/PostScript CMap limit).
        for chunk in entries.chunks(100) {
            let _ = writeln!(s, "{} beginbfchar", chunk.len());
            for &(cid, c) in chunk {
                let mut utf16 = [0u16; 2];
                let hex: String = c
                    .encode_utf16(&mut utf16)
                    .iter()
                    .map(|u| format!("{u:04X}"))
                    .collect();
                let _ = writeln!(s, "<{cid:04X}> <{hex}>");
            }
            s.push_str("endbfchar\n");
        }
        s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        s
    }
}

/// The six-uppercase-letter subset tag, derived from the glyph set (FNV-1a, base 26), so
/// the same glyphs always get the same tag.
fn subset_tag(sorted_gids: &[u16]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sorted_gids.iter().flat_map(|g| g.to_be_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect()
}

/// Keeps the characters allowed unescaped in a PDF name and in a PostScript font name.
fn pdf_name_safe(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic() && !"()<>[]{}/%#".contains(*c))
        .collect()
}

/// Whether the font has serifs, from the OS/2 family class (1–7 are serif classes) or, when
/// that is unset, the PANOSE serif style of a Latin text face (2–10 are serifs).
fn has_serifs(face: &Face<'_>) -> bool {
    let Some(os2) = face.raw_face().table(Tag::from_bytes(b"OS/2")) else {
        return false;
    };
    match os2.get(30) {
        Some(class @ 1..=7) => *class != 6,
        Some(0) => os2.get(32) == Some(&2) && matches!(os2.get(33), Some(2..=10)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> FontProgram {
        FontProgram::new(NOTO_SERIF_SC).expect("font parses")
    }

    #[test]
    fn program_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<FontProgram>();
        check::<SubsetFont>();
    }

    #[test]
    fn rejects_non_fonts() {
        assert!(matches!(
            FontProgram::new(b"not a font"),
            Err(FontError::Parse(_))
        ));
    }

    #[test]
    fn metrics() {
        let f = font();
        assert_eq!(f.advance_em('章'), Some(1.0));
        assert!(f.advance_em('0').is_some_and(|a| a > 0.4 && a < 0.7));
        assert_eq!(f.advance_em('\u{E000}'), None);
        let (asc, desc) = f.em_box();
        assert!(
            (asc - desc - 1.0).abs() < 0.01,
            "ideographic em box is 1 em: {asc} {desc}"
        );
        assert_eq!(f.flags, FLAG_SERIF | FLAG_SYMBOLIC);
        assert_eq!(f.ps_name, "NotoSerifSC-Regular");
    }

    #[test]
    fn subset_encodes_and_maps_back() {
        let f = font();
        let s = f.subset_for("专用章专").expect("subset");
        // Three distinct glyphs get CIDs 1..=3 in original glyph-id order.
        assert_eq!(s.widths, vec![1000, 1000, 1000]);
        let codes = s.encode("章专").expect("encode");
        assert_eq!(codes.len(), 4);
        assert!(codes
            .chunks(2)
            .all(|c| (1..=3).contains(&u16::from_be_bytes([c[0], c[1]]))));
        assert_eq!(s.encode("局"), Err(FontError::NotInSubset('局')));
        let cmap = s.to_unicode_cmap();
        assert!(
            cmap.contains("3 beginbfchar") && cmap.contains("<7AE0>"),
            "{cmap}"
        );
        // The CFF subset is tiny compared to the 11 MB font.
        assert!(s.cff.len() < 5_000, "{}", s.cff.len());
    }

    #[test]
    fn missing_glyph_is_named() {
        let err = font().subset_for("印😀").expect_err("no emoji");
        assert_eq!(err, FontError::MissingGlyph('😀'));
        assert!(err.to_string().contains("U+1F600"), "{err}");
    }

    #[test]
    fn subset_tag_is_deterministic() {
        let f = font();
        let a = f.subset_for("行政审批").expect("subset");
        let b = f.subset_for("批审政行").expect("subset");
        let c = f.subset_for("行政").expect("subset");
        assert_eq!(a.base_font(), b.base_font());
        assert_ne!(a.base_font(), c.base_font());
        let (tag, name) = a.base_font().split_once('+').expect("tag");
        assert_eq!(name, "NotoSerifSC-Regular");
        assert!(
            tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()),
            "{tag}"
        );
    }

    #[test]
    fn add_to_builds_type0_font() {
        let f = font();
        let s = f.subset_for("印章").expect("subset");
        let mut doc = lopdf::Document::with_version("1.7");
        let id = s.add_to(&mut doc).expect("add");
        let type0 = doc.get_dictionary(id).expect("type0");
        assert_eq!(
            type0.get(b"Encoding").and_then(Object::as_name).ok(),
            Some(&b"Identity-H"[..])
        );
        let desc = type0
            .get(b"DescendantFonts")
            .and_then(Object::as_array)
            .expect("array");
        let cid_font = desc[0]
            .as_reference()
            .and_then(|r| doc.get_dictionary(r))
            .expect("cid");
        assert_eq!(
            cid_font.get(b"Subtype").and_then(Object::as_name).ok(),
            Some(&b"CIDFontType0"[..])
        );
        let fd = cid_font
            .get(b"FontDescriptor")
            .and_then(Object::as_reference)
            .expect("fd");
        let fd = doc.get_dictionary(fd).expect("fd dict");
        let file = fd
            .get(b"FontFile3")
            .and_then(Object::as_reference)
            .expect("ff3");
        let file = doc
            .get_object(file)
            .and_then(Object::as_stream)
            .expect("stream");
        assert_eq!(
            file.dict.get(b"Subtype").and_then(Object::as_name).ok(),
            Some(&b"CIDFontType0C"[..])
        );
        assert_eq!(file.get_plain_content().expect("plain"), s.cff);
    }
}
