//! The appearance of a seal impression: a self-contained form XObject, for use as a signature
//! widget's `/AP /N`, drawing in vector graphics and an embedded font subset either a red
//! round Chinese official seal (border ring, five-pointed star, organisation name along the
//! upper arc, purpose line under the star, seal code along the lower arc) or a personal name
//! seal (square, the name in columns read right to left; or oval, the name in one line).
//!
//! Layout happens in millimetres with the origin at the seal's centre; the content stream
//! starts with a `cm` that maps this onto the form's `/BBox [0 0 w h]` in points. Text sizes
//! start from proportions of a 42 mm seal (1.2 mm ring, 14 mm star) and shrink, first in
//! width (horizontal scale `Tz`), then in height, until every glyph box stays inside the ring
//! and clear of every other glyph box.

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Object, ObjectId, Stream, StringFormat};

use super::font::{FontError, FontProgram, SubsetFont};

/// The outline of a seal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SealShape {
    /// Round with a star: an organisation's official or special-purpose seal.
    Round,
    /// Square: a personal name seal (e.g. 法定代表人名章), 2–4 characters in columns.
    Square,
    /// Oval, two thirds as high as wide: a personal signature seal, the name in one line.
    Oval,
}

/// The impression to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct SealImpression {
    /// Outline and arrangement.
    pub shape: SealShape,
    /// Round seals: the organisation name, along the upper arc, reading clockwise. Name
    /// seals: the person's name (a square seal completes two or three characters with 之印
    /// or 印, as name seals traditionally read).
    pub name: String,
    /// Round seals: purpose of a special-purpose seal (e.g. 行政审批专用章), horizontal under
    /// the star. Empty or blank counts as absent; ignored by name seals.
    pub purpose: Option<String>,
    /// Seal code (印章编码, usually 13 digits), small along the lower arc of a round seal or
    /// under the name of an oval one, reading left to right. Empty or blank counts as
    /// absent; ignored by square seals.
    pub code: Option<String>,
    /// Width in mm: the diameter of a round seal (42 for enterprises, 45 for government
    /// departments), the side of a square one (commonly 20), the long axis of an oval one.
    pub width_mm: f32,
}

impl SealImpression {
    /// Width and height in mm.
    pub fn size_mm(&self) -> (f32, f32) {
        match self.shape {
            SealShape::Round | SealShape::Square => (self.width_mm, self.width_mm),
            SealShape::Oval => (self.width_mm, self.width_mm * OVAL_ASPECT),
        }
    }
}

/// The seal's ink colour, #E60012.
pub const SEAL_RED: (u8, u8, u8) = (230, 0, 18);

/// Errors from laying out a seal.
#[derive(Debug, thiserror::Error)]
pub enum AppearanceError {
    /// The name is empty or blank.
    #[error("the name on the seal is empty")]
    EmptyName,
    /// The width is not a number within the shape's range (round 20–100 mm, square and
    /// oval 10–100 mm).
    #[error("seal width {0} mm is outside the allowed range (round 20–100 mm, others 10–100 mm)")]
    InvalidSize(f32),
    /// A text does not fit even with the narrowest and smallest glyphs allowed.
    #[error("the seal's {part} ({chars} characters) does not fit even at the smallest legible size; shorten it")]
    DoesNotFit {
        /// Which text: "organisation name", "purpose" or "code".
        part: &'static str,
        /// Its length in characters.
        chars: usize,
    },
    /// The font lacks a character, or subsetting it failed.
    #[error(transparent)]
    Font(#[from] FontError),
    /// Encoding the content stream failed.
    #[error("could not encode the seal's content stream: {0}")]
    Content(#[from] lopdf::Error),
}

/// An impression's form XObject with its font subset, laid out once and then added to any
/// number of documents: laying out and subsetting cost more than the rest of sealing.
#[derive(Debug, Clone)]
pub struct SealForm {
    /// The form and the objects it refers to, numbered as in a document of their own.
    objects: std::collections::BTreeMap<ObjectId, Object>,
    form: ObjectId,
    size_mm: (f32, f32),
}

impl SealForm {
    /// Lays out `seal` and subsets `font` for it.
    pub fn new(seal: &SealImpression, font: &FontProgram) -> Result<SealForm, AppearanceError> {
        let mut scratch = lopdf::Document::with_version("1.7");
        let form = add_seal_xobject(&mut scratch, seal, font)?;
        Ok(SealForm {
            objects: scratch.objects,
            form,
            size_mm: seal.size_mm(),
        })
    }

    /// Width and height of the impression in mm.
    pub fn size_mm(&self) -> (f32, f32) {
        self.size_mm
    }

    /// Copies the form and its font into `doc` after its highest object number; returns the
    /// form's id there.
    pub fn add_to(&self, doc: &mut lopdf::Document) -> ObjectId {
        let offset = doc.max_id;
        for (&(number, generation), object) in &self.objects {
            let mut object = object.clone();
            renumber(&mut object, offset);
            doc.objects.insert((number + offset, generation), object);
        }
        doc.max_id += self
            .objects
            .keys()
            .map(|(number, _)| *number)
            .max()
            .unwrap_or(0);
        (self.form.0 + offset, self.form.1)
    }
}

/// Adds `offset` to every object number `object` refers to. (lopdf's own renumbering works
/// on whole documents and does not say where each object went.)
fn renumber(object: &mut Object, offset: u32) {
    match object {
        Object::Reference(id) => id.0 += offset,
        Object::Array(items) => items.iter_mut().for_each(|o| renumber(o, offset)),
        Object::Dictionary(dict) => dict.iter_mut().for_each(|(_, o)| renumber(o, offset)),
        Object::Stream(stream) => stream
            .dict
            .iter_mut()
            .for_each(|(_, o)| renumber(o, offset)),
        _ => {}
    }
}

/// Adds a form XObject drawing the impression, with its font resource, to `doc`; returns its
/// id. BBox `[0 0 d d]` in points (1 mm = 72/25.4 pt).
///
/// The form carries its own `/Resources`: the font subset as `/F1` and an ExtGState `/GS1`
/// with `/BM /Multiply`, so the red ink darkens, not hides, the page text under it.
fn add_seal_xobject(
    doc: &mut lopdf::Document,
    seal: &SealImpression,
    font: &FontProgram,
) -> Result<ObjectId, AppearanceError> {
    let layout = layout(seal, font)?;
    let text: String = layout
        .runs
        .iter()
        .flat_map(|r| r.glyphs.iter().map(|g| g.ch))
        .collect();
    let subset = font.subset_for(&text)?;
    let content = Content {
        operations: layout.operations(&subset)?,
    }
    .encode()?;

    let font_id = subset.add_to(doc)?;
    let (width, height) = seal.size_mm();
    let ext_gstate = Dictionary::from_iter([
        ("Type", Object::Name(b"ExtGState".to_vec())),
        ("BM", Object::Name(b"Multiply".to_vec())),
    ]);
    let resources = Dictionary::from_iter([
        (
            "Font",
            Object::Dictionary(Dictionary::from_iter([("F1", Object::Reference(font_id))])),
        ),
        (
            "ExtGState",
            Object::Dictionary(Dictionary::from_iter([(
                "GS1",
                Object::Dictionary(ext_gstate),
            )])),
        ),
    ]);
    let dict = Dictionary::from_iter([
        ("Type", Object::Name(b"XObject".to_vec())),
        ("Subtype", Object::Name(b"Form".to_vec())),
        (
            "BBox",
            Object::Array(vec![
                0.into(),
                0.into(),
                num(width * PT_PER_MM),
                num(height * PT_PER_MM),
            ]),
        ),
        ("Resources", Object::Dictionary(resources)),
    ]);
    let mut stream = Stream::new(dict, content);
    super::flate(&mut stream);
    Ok(doc.add_object(stream))
}

/// The impression as an SVG picture (for web pages), from the same layout as the PDF form:
/// outline, star and every glyph placed identically. The glyphs are SVG text in a Song-style
/// face the browser has, so the picture needs no font of its own.
pub fn svg(seal: &SealImpression, font: &FontProgram) -> Result<String, AppearanceError> {
    let layout = layout(seal, font)?;
    let (hw, hh) = layout.half;
    let (r, g, b) = SEAL_RED;
    let colour = format!("#{r:02x}{g:02x}{b:02x}");
    let n = |v: f32| format!("{:.3}", v + 0.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{} {} {} {}\" width=\"{}mm\" height=\"{}mm\" role=\"img\">\
         <g transform=\"scale(1,-1)\" fill=\"{colour}\" stroke=\"{colour}\">",
        n(-hw),
        n(-hh),
        n(2.0 * hw),
        n(2.0 * hh),
        n(2.0 * hw),
        n(2.0 * hh)
    );
    let stroke = n(layout.border);
    out.push_str(&match layout.outline {
        Outline::Circle(radius) => format!(
            "<circle r=\"{}\" fill=\"none\" stroke-width=\"{stroke}\"/>",
            n(radius)
        ),
        Outline::Ellipse(a, b) => format!(
            "<ellipse rx=\"{}\" ry=\"{}\" fill=\"none\" stroke-width=\"{stroke}\"/>",
            n(a),
            n(b)
        ),
        Outline::Square(h) => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke-width=\"{stroke}\"/>",
            n(-h),
            n(-h),
            n(2.0 * h),
            n(2.0 * h)
        ),
    });
    if let Some(star) = &layout.star {
        let points: Vec<String> = star
            .iter()
            .map(|p| format!("{},{}", n(p.x), n(p.y)))
            .collect();
        out.push_str(&format!(
            "<polygon points=\"{}\" stroke=\"none\"/>",
            points.join(" ")
        ));
    }
    for run in &layout.runs {
        for glyph in &run.glyphs {
            let [a, b, c, d, e, f] = glyph.matrix;
            out.push_str(&format!(
                "<text transform=\"matrix({},{},{},{},{},{}) scale({},-1)\" font-size=\"{}\" \
                 font-family=\"Noto Serif SC,Songti SC,SimSun,serif\" stroke-width=\"{}\">{}</text>",
                n(a),
                n(b),
                n(c),
                n(d),
                n(e),
                n(f),
                n(run.tz),
                n(run.size),
                n(layout.text_stroke),
                glyph.ch
            ));
        }
    }
    out.push_str("</g></svg>");
    Ok(out)
}

/// Checks that `seal` can be drawn with `font`: every text fits and the font has every glyph.
pub fn check(seal: &SealImpression, font: &FontProgram) -> Result<(), AppearanceError> {
    layout(seal, font).map(|_| ())
}

const PT_PER_MM: f32 = 72.0 / 25.4;
/// Diameter the proportions below are given for.
const REFERENCE_MM: f32 = 42.0;
/// Ring width at 42 mm.
const BORDER_MM: f32 = 1.2;
/// Star circumradius at 42 mm (14 mm across).
const STAR_RADIUS_MM: f32 = 7.0;
/// Inner/outer radius of a regular five-pointed star: sin 18° / sin 54°.
const STAR_INNER_RATIO: f32 = 0.381_966;
/// Space between the ring's inner edge and the name's em boxes, at 42 mm.
const NAME_GAP_MM: f32 = 0.7;
/// Space between the ring's inner edge and the code's em boxes, at 42 mm.
const CODE_GAP_MM: f32 = 0.5;
/// Space between the star's lower points and the purpose line, at 42 mm.
const PURPOSE_GAP_MM: f32 = 1.2;
/// Outline stroked around the glyphs to give them an impression's weight, at 42 mm.
const TEXT_STROKE_MM: f32 = 0.1;
/// Clear space between any two glyph boxes, as a fraction of the glyph size.
const GLYPH_GAP: f32 = 0.06;
/// Longest texts worth trying to fit (longer ones cannot fit at legible sizes).
const MAX_NAME_CHARS: usize = 48;
const MAX_LINE_CHARS: usize = 24;
/// Height of an oval seal as a fraction of its width.
const OVAL_ASPECT: f32 = 2.0 / 3.0;
/// Border of a name seal, as a fraction of its width.
const NAME_SEAL_BORDER: f32 = 0.06;
/// Clear space between a name seal's border and its glyphs, as a fraction of its width.
const NAME_SEAL_MARGIN: f32 = 0.05;
/// Outline stroked around a name seal's glyphs, as a fraction of its height: name seals
/// are cut bolder than official seals.
const NAME_SEAL_STROKE: f32 = 0.012;
/// Most characters a square name seal holds (after completing with 之印 or 印).
const MAX_SQUARE_CHARS: usize = 6;
/// Most characters of the name on an oval seal.
const MAX_OVAL_CHARS: usize = 8;

/// Sizes (em height, mm at 42 mm) and horizontal scales a run of text may take.
struct RunSpec {
    part: &'static str,
    size_max: f32,
    size_min: f32,
    tz_max: f32,
    tz_min: f32,
}

const NAME: RunSpec = RunSpec {
    part: "organisation name",
    size_max: 6.8,
    size_min: 2.6,
    tz_max: 0.8,
    tz_min: 0.6,
};
const PURPOSE: RunSpec = RunSpec {
    part: "purpose",
    size_max: 4.6,
    size_min: 2.2,
    tz_max: 0.8,
    tz_min: 0.6,
};
const CODE: RunSpec = RunSpec {
    part: "code",
    size_max: 2.6,
    size_min: 1.5,
    tz_max: 0.9,
    tz_min: 0.7,
};

/// A point in mm, origin at the seal's centre, y up.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pt {
    x: f32,
    y: f32,
}

impl Pt {
    fn polar(r: f32, angle: f32) -> Pt {
        Pt {
            x: r * angle.cos(),
            y: r * angle.sin(),
        }
    }
    fn radius(self) -> f32 {
        self.x.hypot(self.y)
    }
}

/// One glyph on the seal.
#[derive(Debug, Clone)]
struct Placed {
    ch: char,
    /// Text matrix: unit reading direction, unit up direction, baseline origin.
    matrix: [f32; 6],
    /// Corners of the glyph's em box (advance × ascender–descender).
    corners: [Pt; 4],
}

/// Glyphs set in one size and horizontal scale.
#[derive(Debug, Clone)]
struct Run {
    size: f32,
    tz: f32,
    glyphs: Vec<Placed>,
}

/// The border line of a seal, around its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outline {
    /// A circle of this radius.
    Circle(f32),
    /// An ellipse with these semi-axes.
    Ellipse(f32, f32),
    /// A square with this half side.
    Square(f32),
}

/// Everything the content stream draws, in mm around the centre.
#[derive(Debug, Clone)]
struct Layout {
    /// Half the width and height of the whole impression.
    half: (f32, f32),
    /// The border's centre line, stroked `border` wide.
    outline: Outline,
    border: f32,
    text_stroke: f32,
    star: Option<[Pt; 10]>,
    runs: Vec<Run>,
}

/// Font metrics a run needs: each character with its advance, and the em box.
struct Glyphs {
    chars: Vec<(char, f32)>,
    ascent: f32,
    descent: f32,
}

impl Glyphs {
    fn new(text: &str, font: &FontProgram) -> Result<Glyphs, AppearanceError> {
        let chars = text
            .chars()
            .map(|c| {
                font.advance_em(c)
                    .map(|a| (c, a))
                    .ok_or(FontError::MissingGlyph(c))
            })
            .collect::<Result<_, _>>()?;
        let (ascent, descent) = font.em_box();
        Ok(Glyphs {
            chars,
            ascent,
            descent,
        })
    }

    /// Places one glyph: `advance` is its advance in mm, `centre` its em box's centre,
    /// `right` and `up` unit vectors of its reading and up directions.
    fn place(&self, ch: char, size: f32, advance: f32, centre: Pt, right: Pt, up: Pt) -> Placed {
        let mid = size * (self.ascent + self.descent) / 2.0;
        let origin = Pt {
            x: centre.x - right.x * advance / 2.0 - up.x * mid,
            y: centre.y - right.y * advance / 2.0 - up.y * mid,
        };
        let at = |x: f32, y: f32| Pt {
            x: origin.x + right.x * x + up.x * y,
            y: origin.y + right.y * x + up.y * y,
        };
        let (top, bottom) = (size * self.ascent, size * self.descent);
        Placed {
            ch,
            matrix: [right.x, right.y, up.x, up.y, origin.x, origin.y],
            corners: [
                at(0.0, bottom),
                at(advance, bottom),
                at(advance, top),
                at(0.0, top),
            ],
        }
    }

    /// Places the text along a circle whose em-box centres lie at `radius`, centred on the
    /// angle `mid`, with `gap` mm between glyphs (measured at `radius`). `upper`: reading
    /// clockwise, feet towards the centre; otherwise reading anticlockwise (left to right
    /// at the bottom), feet outwards.
    fn on_arc(
        &self,
        size: f32,
        tz: f32,
        radius: f32,
        mid: f32,
        gap: f32,
        upper: bool,
    ) -> Vec<Placed> {
        let widths: Vec<f32> = self.chars.iter().map(|&(_, a)| a * tz * size).collect();
        let total = widths.iter().sum::<f32>() + gap * widths.len().saturating_sub(1) as f32;
        let sign = if upper { -1.0 } else { 1.0 };
        let start = mid - sign * total / radius / 2.0;
        let mut along = 0.0;
        self.chars
            .iter()
            .zip(&widths)
            .map(|(&(ch, _), &w)| {
                let angle = start + sign * (along + w / 2.0) / radius;
                along += w + gap;
                let (sin, cos) = angle.sin_cos();
                let (right, up) = if upper {
                    (Pt { x: sin, y: -cos }, Pt { x: cos, y: sin })
                } else {
                    (Pt { x: -sin, y: cos }, Pt { x: -cos, y: -sin })
                };
                self.place(ch, size, w, Pt::polar(radius, angle), right, up)
            })
            .collect()
    }

    /// Places the text on one horizontal line, centred on x = 0, em box top at `top`,
    /// `gap` mm between glyphs.
    fn on_line(&self, size: f32, tz: f32, top: f32, gap: f32) -> Vec<Placed> {
        let widths: Vec<f32> = self.chars.iter().map(|&(_, a)| a * tz * size).collect();
        let total = widths.iter().sum::<f32>() + gap * widths.len().saturating_sub(1) as f32;
        let mut x = -total / 2.0;
        let y = top - size * (self.ascent - self.descent) / 2.0;
        let (right, up) = (Pt { x: 1.0, y: 0.0 }, Pt { x: 0.0, y: 1.0 });
        self.chars
            .iter()
            .zip(&widths)
            .map(|(&(ch, _), &w)| {
                let placed = self.place(ch, size, w, Pt { x: x + w / 2.0, y }, right, up);
                x += w + gap;
                placed
            })
            .collect()
    }

    /// Height of the em box per unit of size.
    fn em_height(&self) -> f32 {
        self.ascent - self.descent
    }
}

/// Lays the seal out, or says which text does not fit.
fn layout(seal: &SealImpression, font: &FontProgram) -> Result<Layout, AppearanceError> {
    let d = seal.width_mm;
    let smallest = if seal.shape == SealShape::Round {
        20.0
    } else {
        10.0
    };
    if !(smallest..=100.0).contains(&d) {
        return Err(AppearanceError::InvalidSize(d));
    }
    let name = seal.name.trim();
    if name.is_empty() {
        return Err(AppearanceError::EmptyName);
    }
    match seal.shape {
        SealShape::Round => round_layout(seal, name, font),
        SealShape::Square => square_layout(d, name, font),
        SealShape::Oval => oval_layout(seal, name, font),
    }
}

/// A round official seal: ring, star, name on the upper arc, purpose, code on the lower arc.
fn round_layout(
    seal: &SealImpression,
    name: &str,
    font: &FontProgram,
) -> Result<Layout, AppearanceError> {
    let d = seal.width_mm;
    let scale = d / REFERENCE_MM;
    let radius = d / 2.0;
    let border = BORDER_MM * scale;
    let inside = radius - border;

    let star_r = STAR_RADIUS_MM * scale;
    let star = std::array::from_fn(|i| {
        let r = if i % 2 == 0 {
            star_r
        } else {
            star_r * STAR_INNER_RATIO
        };
        Pt::polar(
            r,
            std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0,
        )
    });

    let within_ring = |p: Pt| p.radius() <= inside;
    let mut runs = Vec::new();
    let glyphs = checked_glyphs(name, MAX_NAME_CHARS, &NAME, font)?;
    let n = glyphs.chars.len();
    // Edge-to-edge arc, growing with the length: 146° for 4 characters, 230° for 10, 250°
    // from 12 on, so that short names do not scatter.
    let span = (90.0 + 14.0 * n as f32).min(250.0).to_radians();
    let top = inside - NAME_GAP_MM * scale;
    let name_run = fit(&NAME, scale, &within_ring, &[], |size, tz| {
        let r = top - size * glyphs.em_height() / 2.0;
        let ink: f32 = glyphs.chars.iter().map(|&(_, a)| a * tz * size).sum();
        let gap = if n > 1 {
            (span * r - ink) / (n - 1) as f32
        } else {
            0.0
        };
        glyphs.on_arc(size, tz, r, std::f32::consts::FRAC_PI_2, gap, true)
    })
    .ok_or(AppearanceError::DoesNotFit {
        part: NAME.part,
        chars: n,
    })?;
    runs.push(name_run);

    if let Some(code) = seal
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let glyphs = checked_glyphs(code, MAX_LINE_CHARS, &CODE, font)?;
        let outer = inside - CODE_GAP_MM * scale;
        let obstacles = corners_of(&runs);
        let run = fit(&CODE, scale, &within_ring, &obstacles, |size, tz| {
            let r = outer - size * glyphs.em_height() / 2.0;
            glyphs.on_arc(
                size,
                tz,
                r,
                -std::f32::consts::FRAC_PI_2,
                0.15 * size,
                false,
            )
        })
        .ok_or(AppearanceError::DoesNotFit {
            part: CODE.part,
            chars: glyphs.chars.len(),
        })?;
        runs.push(run);
    }

    if let Some(purpose) = seal
        .purpose
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let glyphs = checked_glyphs(purpose, MAX_LINE_CHARS, &PURPOSE, font)?;
        // The star's two lower points are at y = -r cos 36°.
        let top = -star_r * 36f32.to_radians().cos() - PURPOSE_GAP_MM * scale;
        // Fitted after the code (which it must avoid), drawn before it.
        let mut obstacles = name_sector(&runs[0], radius).to_vec();
        obstacles.extend(corners_of(&runs[1..]));
        let limit = inside - NAME_GAP_MM * scale;
        let run = fit(
            &PURPOSE,
            scale,
            &|p: Pt| p.radius() <= limit,
            &obstacles,
            |size, tz| glyphs.on_line(size, tz, top, 0.1 * size),
        )
        .ok_or(AppearanceError::DoesNotFit {
            part: PURPOSE.part,
            chars: glyphs.chars.len(),
        })?;
        // Reading order for text extraction: name, purpose, code.
        runs.insert(1, run);
    }

    Ok(Layout {
        half: (radius, radius),
        outline: Outline::Circle(radius - border / 2.0),
        border,
        text_stroke: TEXT_STROKE_MM * scale,
        star: Some(star),
        runs,
    })
}

/// A square name seal: the name (completed to four characters with 之印 or 印) in two
/// columns read top to bottom, the right column first, each glyph filling its cell.
fn square_layout(side: f32, name: &str, font: &FontProgram) -> Result<Layout, AppearanceError> {
    let text = match name.chars().count() {
        1 | 2 => format!("{name}之印"),
        3 => format!("{name}印"),
        _ => name.to_string(),
    };
    let glyphs = checked_glyphs(&text, MAX_SQUARE_CHARS, &NAME, font)?;
    let half = side / 2.0;
    let border = NAME_SEAL_BORDER * side;
    let inner = half - border - NAME_SEAL_MARGIN * side;
    let rows = glyphs.chars.len().div_ceil(2);
    let (cell_w, cell_h) = (inner, 2.0 * inner / rows as f32);
    let size = 0.94 * cell_h / glyphs.em_height();
    let placed = glyphs
        .chars
        .iter()
        .enumerate()
        .map(|(i, &(ch, advance))| {
            let (column, row) = (i / rows, i % rows);
            let tz = (0.94 * cell_w / (advance * size)).min(1.6);
            let centre = Pt {
                x: inner / 2.0 - column as f32 * cell_w,
                y: inner - (row as f32 + 0.5) * cell_h,
            };
            let up = Pt { x: 0.0, y: 1.0 };
            let right = Pt { x: 1.0, y: 0.0 };
            let mut glyph = glyphs.place(ch, size, advance * tz * size, centre, right, up);
            glyph.matrix[0] = tz;
            glyph
        })
        .collect();
    Ok(Layout {
        half: (half, half),
        outline: Outline::Square(half - border / 2.0),
        border,
        text_stroke: NAME_SEAL_STROKE * side,
        star: None,
        runs: vec![Run {
            size,
            tz: 1.0,
            glyphs: placed,
        }],
    })
}

/// An oval signature seal: the name in one line across the middle, the code (if any) small
/// beneath it.
fn oval_layout(
    seal: &SealImpression,
    name: &str,
    font: &FontProgram,
) -> Result<Layout, AppearanceError> {
    let (width, height) = seal.size_mm();
    let (a, b) = (width / 2.0, height / 2.0);
    let border = NAME_SEAL_BORDER * height;
    let margin = NAME_SEAL_MARGIN * height;
    let (ia, ib) = (a - border - margin, b - border - margin);
    let within = |p: Pt| (p.x / ia).powi(2) + (p.y / ib).powi(2) <= 1.0;
    let scale = height / REFERENCE_MM;
    let code = seal
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let glyphs = checked_glyphs(name, MAX_OVAL_CHARS, &NAME, font)?;
    let spec = RunSpec {
        part: NAME.part,
        size_max: 0.45 * REFERENCE_MM,
        size_min: 0.2 * REFERENCE_MM,
        tz_max: 1.0,
        tz_min: 0.7,
    };
    // With a code underneath, the name moves up by a fifth of the inner half height.
    let lift = if code.is_some() { 0.2 * ib } else { 0.0 };
    let name_run = fit(&spec, scale, &within, &[], |size, tz| {
        glyphs.on_line(size, tz, lift + size * glyphs.em_height() / 2.0, 0.1 * size)
    })
    .ok_or(AppearanceError::DoesNotFit {
        part: NAME.part,
        chars: glyphs.chars.len(),
    })?;
    let mut runs = vec![name_run];
    if let Some(code) = code {
        let glyphs = checked_glyphs(code, MAX_LINE_CHARS, &CODE, font)?;
        let obstacles = corners_of(&runs);
        let spec = RunSpec {
            size_max: 0.2 * REFERENCE_MM,
            size_min: 0.08 * REFERENCE_MM,
            ..CODE
        };
        let top = runs[0]
            .glyphs
            .iter()
            .flat_map(|g| g.corners)
            .map(|p| p.y)
            .fold(f32::MAX, f32::min)
            - 0.04 * height;
        let run = fit(&spec, scale, &within, &obstacles, |size, tz| {
            glyphs.on_line(size, tz, top, 0.1 * size)
        })
        .ok_or(AppearanceError::DoesNotFit {
            part: CODE.part,
            chars: glyphs.chars.len(),
        })?;
        runs.push(run);
    }
    Ok(Layout {
        half: (a, b),
        outline: Outline::Ellipse(a - border / 2.0, b - border / 2.0),
        border,
        text_stroke: NAME_SEAL_STROKE * height,
        star: None,
        runs,
    })
}

/// The glyph metrics of `text`, rejecting texts too long to ever fit.
fn checked_glyphs(
    text: &str,
    max_chars: usize,
    spec: &RunSpec,
    font: &FontProgram,
) -> Result<Glyphs, AppearanceError> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(AppearanceError::DoesNotFit {
            part: spec.part,
            chars,
        });
    }
    Glyphs::new(text, font)
}

/// The two halves of the sector the name spans (12 o'clock to either end), as triangles from
/// the centre to beyond the ring, so that the purpose line stays between the arc's ends.
fn name_sector(name: &Run, radius: f32) -> [[Pt; 4]; 2] {
    let end = name
        .glyphs
        .iter()
        .flat_map(|g| g.corners)
        .map(|p| p.x.atan2(p.y).abs())
        .fold(0.0, f32::max);
    // The name spans at most 250°, so a half is at most ~135° and its triangle's far edge
    // stays beyond 3 cos 67.5° ≈ 1.15 radii.
    let far = |angle: f32| Pt {
        x: 3.0 * radius * angle.sin(),
        y: 3.0 * radius * angle.cos(),
    };
    let centre = Pt { x: 0.0, y: 0.0 };
    [
        [centre, far(-end), far(0.0), centre],
        [centre, far(0.0), far(end), centre],
    ]
}

fn corners_of(runs: &[Run]) -> Vec<[Pt; 4]> {
    runs.iter()
        .flat_map(|r| r.glyphs.iter().map(|g| g.corners))
        .collect()
}

/// The first (largest) size and horizontal scale at which `place` puts every glyph box
/// `inside` and clear of each other and of `obstacles`: the scale shrinks first, in steps of
/// 0.05, then the size, by 4 % a step.
fn fit(
    spec: &RunSpec,
    scale: f32,
    inside: &dyn Fn(Pt) -> bool,
    obstacles: &[[Pt; 4]],
    place: impl Fn(f32, f32) -> Vec<Placed>,
) -> Option<Run> {
    let (size_max, size_min) = (spec.size_max * scale, spec.size_min * scale);
    let tz_steps = ((spec.tz_max - spec.tz_min) / 0.05).round() as usize;
    let narrower = (0..=tz_steps).map(|i| (size_max, spec.tz_max - 0.05 * i as f32));
    let smaller = std::iter::successors(Some(size_max * 0.96), |s| Some(s * 0.96))
        .take_while(|&s| s >= size_min)
        .map(|s| (s, spec.tz_min));
    narrower.chain(smaller).find_map(|(size, tz)| {
        let glyphs = place(size, tz);
        let gap = GLYPH_GAP * size;
        let within = glyphs.iter().all(|g| g.corners.iter().all(|&p| inside(p)));
        let apart = glyphs.iter().enumerate().all(|(i, a)| {
            glyphs[i + 1..]
                .iter()
                .all(|b| separated(&a.corners, &b.corners, gap))
                && obstacles.iter().all(|o| separated(&a.corners, o, gap))
        });
        (within && apart).then_some(Run { size, tz, glyphs })
    })
}

/// Whether two convex quadrilaterals are at least `gap` apart along one of their edge
/// normals (separating axis test; conservative at corners).
fn separated(a: &[Pt; 4], b: &[Pt; 4], gap: f32) -> bool {
    let mut edges = a
        .iter()
        .zip(a.iter().cycle().skip(1))
        .chain(b.iter().zip(b.iter().cycle().skip(1)));
    edges.any(|(p, q)| {
        let (nx, ny) = (q.y - p.y, p.x - q.x);
        let len = nx.hypot(ny);
        if len == 0.0 {
            return false;
        }
        let project = |quad: &[Pt; 4]| {
            quad.iter()
                .map(|v| (v.x * nx + v.y * ny) / len)
                .fold((f32::MAX, f32::MIN), |(lo, hi), d| (lo.min(d), hi.max(d)))
        };
        let ((a_lo, a_hi), (b_lo, b_hi)) = (project(a), project(b));
        b_lo - a_hi >= gap || a_lo - b_hi >= gap
    })
}

impl Layout {
    /// The content stream: ring, star and text (filled and outlined) in SEAL_RED, blended
    /// with /Multiply.
    fn operations(&self, font: &SubsetFont) -> Result<Vec<Operation>, FontError> {
        let op = Operation::new;
        let k = PT_PER_MM;
        let (r, g, b) = SEAL_RED;
        let rgb = || {
            vec![
                num(f32::from(r) / 255.0),
                num(f32::from(g) / 255.0),
                num(f32::from(b) / 255.0),
            ]
        };
        let mut ops = vec![
            op("q", vec![]),
            op("gs", vec![Object::Name(b"GS1".to_vec())]),
            op(
                "cm",
                vec![
                    num(k),
                    0.into(),
                    0.into(),
                    num(k),
                    num(self.half.0 * k),
                    num(self.half.1 * k),
                ],
            ),
            op("rg", rgb()),
            op("RG", rgb()),
            op("w", vec![num(self.border)]),
        ];
        ops.extend(match self.outline {
            Outline::Circle(r) => ellipse(r, r),
            Outline::Ellipse(a, b) => ellipse(a, b),
            Outline::Square(h) => {
                vec![op("re", vec![num(-h), num(-h), num(2.0 * h), num(2.0 * h)])]
            }
        });
        ops.push(op("S", vec![]));

        if let Some(star) = &self.star {
            for (i, p) in star.iter().enumerate() {
                ops.push(op(if i == 0 { "m" } else { "l" }, vec![num(p.x), num(p.y)]));
            }
            ops.extend([op("h", vec![]), op("f", vec![])]);
        }
        ops.extend([
            op("w", vec![num(self.text_stroke)]),
            // The impression is a picture, not document text: an empty /ActualText keeps its
            // glyphs out of text extraction, so a sealed document's text stays as it was.
            op(
                "BDC",
                vec![
                    Object::Name(b"Span".to_vec()),
                    Object::Dictionary(lopdf::Dictionary::from_iter([(
                        "ActualText",
                        Object::String(vec![0xFE, 0xFF], StringFormat::Hexadecimal),
                    )])),
                ],
            ),
            op("BT", vec![]),
            op("Tr", vec![2.into()]),
        ]);
        for run in &self.runs {
            ops.push(op("Tf", vec![Object::Name(b"F1".to_vec()), num(run.size)]));
            ops.push(op("Tz", vec![num(run.tz * 100.0)]));
            for glyph in &run.glyphs {
                ops.push(op("Tm", glyph.matrix.iter().map(|&v| num(v)).collect()));
                let code = font.encode(glyph.ch.encode_utf8(&mut [0; 4]))?;
                ops.push(op(
                    "Tj",
                    vec![Object::String(code, StringFormat::Hexadecimal)],
                ));
            }
        }
        ops.extend([op("ET", vec![]), op("EMC", vec![]), op("Q", vec![])]);
        Ok(ops)
    }
}

/// A closed ellipse path around the origin, semi-axes `a` (x) and `b` (y), from four Bézier
/// quarter arcs.
fn ellipse(a: f32, b: f32) -> Vec<Operation> {
    let (ca, cb) = (a * 0.552_284_8, b * 0.552_284_8);
    let mut ops = vec![Operation::new("m", vec![num(a), 0.into()])];
    for (x1, y1, x2, y2, x3, y3) in [
        (a, cb, ca, b, 0.0, b),
        (-ca, b, -a, cb, -a, 0.0),
        (-a, -cb, -ca, -b, 0.0, -b),
        (ca, -b, a, -cb, a, 0.0),
    ] {
        ops.push(Operation::new(
            "c",
            [x1, y1, x2, y2, x3, y3].into_iter().map(num).collect(),
        ));
    }
    ops.push(Operation::new("h", vec![]));
    ops
}

/// A number for the content stream, rounded to 1/1000 (never `-0`).
fn num(v: f32) -> Object {
    Object::Real((v * 1000.0).round() / 1000.0 + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn font() -> FontProgram {
        FontProgram::new(crate::pdf::font::NOTO_SERIF_SC).expect("font parses")
    }

    fn xiamen() -> SealImpression {
        SealImpression {
            shape: SealShape::Round,
            name: "厦门市市场监督管理局".into(),
            purpose: Some("行政审批专用章".into()),
            code: Some("3502000012345".into()),
            width_mm: 42.0,
        }
    }

    fn long_name() -> SealImpression {
        SealImpression {
            shape: SealShape::Round,
            name: "厦门市思明区人民政府机关事务管理服务中心".into(),
            purpose: Some("合同专用章".into()),
            code: Some("3502030098765".into()),
            width_mm: 45.0,
        }
    }

    fn square_name() -> SealImpression {
        SealImpression {
            shape: SealShape::Square,
            name: "张三".into(),
            purpose: None,
            code: None,
            width_mm: 20.0,
        }
    }

    fn oval_name() -> SealImpression {
        SealImpression {
            shape: SealShape::Oval,
            name: "欧阳小明".into(),
            purpose: None,
            code: Some("3502000012346".into()),
            width_mm: 36.0,
        }
    }

    /// Every glyph box inside `inside` and no two overlapping.
    fn assert_clear(layout: &Layout, inside: impl Fn(Pt) -> bool) {
        let all: Vec<&Placed> = layout.runs.iter().flat_map(|r| &r.glyphs).collect();
        for g in &all {
            for p in &g.corners {
                assert!(inside(*p), "{} at {p:?} is outside the border", g.ch);
            }
        }
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    separated(&a.corners, &b.corners, 0.0),
                    "{} overlaps {}",
                    a.ch,
                    b.ch
                );
            }
        }
    }

    #[test]
    fn square_name_seal_reads_in_columns_right_to_left() {
        let laid = layout(&square_name(), &font()).expect("layout");
        assert!(laid.star.is_none());
        assert_eq!(laid.outline, Outline::Square(10.0 - 0.6));
        let inner = 10.0 - 1.2;
        assert_clear(&laid, |p| p.x.abs() <= inner && p.y.abs() <= inner);
        let glyphs = &laid.runs[0].glyphs;
        let text: String = glyphs.iter().map(|g| g.ch).collect();
        assert_eq!(text, "张三之印");
        // 张 top right, 三 under it, 之 top left, 印 under it.
        let at = |i: usize| (glyphs[i].matrix[4], glyphs[i].matrix[5]);
        assert!(at(0).0 > 0.0 && at(1).0 > 0.0 && at(2).0 < 0.0 && at(3).0 < 0.0);
        assert!(at(0).1 > at(1).1 && at(2).1 > at(3).1);
        // Each glyph fills most of its 7.8 mm × 7.8 mm cell.
        for g in glyphs {
            let width = g.corners[1].x - g.corners[0].x;
            let height = g.corners[3].y - g.corners[0].y;
            assert!(
                width > 7.0 && height > 7.0,
                "{} is {width} × {height}",
                g.ch
            );
        }
        let three = layout(
            &SealImpression {
                name: "欧阳明".into(),
                ..square_name()
            },
            &font(),
        )
        .expect("three characters");
        let text: String = three.runs[0].glyphs.iter().map(|g| g.ch).collect();
        assert_eq!(text, "欧阳明印");
    }

    #[test]
    fn oval_name_seal_has_name_over_code() {
        let seal = oval_name();
        assert_eq!(seal.size_mm(), (36.0, 24.0));
        let laid = layout(&seal, &font()).expect("layout");
        assert!(laid.star.is_none());
        let (a, b) = (18.0 - 1.44 - 1.2, 12.0 - 1.44 - 1.2);
        assert_clear(&laid, |p| (p.x / a).powi(2) + (p.y / b).powi(2) <= 1.0);
        assert_eq!(laid.runs.len(), 2);
        let name_bottom = laid.runs[0]
            .glyphs
            .iter()
            .map(|g| g.corners[0].y)
            .fold(f32::MAX, f32::min);
        let code_top = laid.runs[1]
            .glyphs
            .iter()
            .map(|g| g.corners[3].y)
            .fold(f32::MIN, f32::max);
        assert!(code_top < name_bottom);
        assert!(laid.runs[0].size > 2.0 * laid.runs[1].size);
        let too_long = SealImpression {
            name: "名".repeat(9),
            ..oval_name()
        };
        assert!(matches!(
            layout(&too_long, &font()),
            Err(AppearanceError::DoesNotFit { chars: 9, .. })
        ));
    }

    /// Angle of the glyph box's centre, clockwise from 12 o'clock.
    fn clock_angle(g: &Placed) -> f32 {
        let c = g.corners.iter().fold(Pt { x: 0.0, y: 0.0 }, |s, p| Pt {
            x: s.x + p.x / 4.0,
            y: s.y + p.y / 4.0,
        });
        c.x.atan2(c.y)
    }

    fn check_geometry(seal: &SealImpression) -> Layout {
        let layout = layout(seal, &font()).expect("layout");
        let inside = layout.half.0 - layout.border;
        let all: Vec<&Placed> = layout.runs.iter().flat_map(|r| &r.glyphs).collect();
        for g in &all {
            for p in &g.corners {
                assert!(
                    p.radius() <= inside,
                    "{} at {p:?} is outside the ring",
                    g.ch
                );
            }
        }
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(
                    separated(&a.corners, &b.corners, 0.0),
                    "{} overlaps {}",
                    a.ch,
                    b.ch
                );
            }
        }
        // Name: clockwise (clock angles rise), from the lower left, mirror-symmetric.
        let name = &layout.runs[0].glyphs;
        let angles: Vec<f32> = name.iter().map(clock_angle).collect();
        assert!(angles.windows(2).all(|w| w[0] < w[1]), "{angles:?}");
        if name.len() >= 7 {
            assert!(
                angles[0] < -std::f32::consts::FRAC_PI_2,
                "starts lower left: {angles:?}"
            );
        }
        assert!(
            (angles[0] + angles[angles.len() - 1]).abs() < 1e-3,
            "symmetric: {angles:?}"
        );
        // Feet towards the centre: the 'up' vector points outwards.
        for g in name {
            let [.., ux, uy, ox, oy] = g.matrix;
            assert!(ux * ox + uy * oy > 0.0);
        }
        // Star centred.
        let star = layout.star.expect("a round seal has a star");
        let (sx, sy) = star.iter().fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
        assert!(sx.abs() < 1e-3 && sy.abs() < 1e-3);
        assert!(
            (star[0].y - 7.0 * seal.width_mm / 42.0).abs() < 1e-3,
            "point up"
        );
        layout
    }

    #[test]
    fn xiamen_geometry() {
        let layout = check_geometry(&xiamen());
        assert_eq!(layout.runs.len(), 3);
        // Code: left to right along the bottom, feet outwards (up points to the centre).
        let code = &layout.runs[2].glyphs;
        assert!(code.windows(2).all(|w| w[0].matrix[4] < w[1].matrix[4]));
        assert!(code
            .iter()
            .all(|g| g.matrix[5] < 0.0
                && g.matrix[2] * g.matrix[4] + g.matrix[3] * g.matrix[5] < 0.0));
        // Purpose: centred, horizontal, under the star.
        let purpose = &layout.runs[1].glyphs;
        let left = purpose[0].corners[0].x;
        let right = purpose[purpose.len() - 1].corners[1].x;
        assert!((left + right).abs() < 1e-3);
        assert!(purpose
            .iter()
            .all(|g| g.matrix[..4] == [1.0, 0.0, 0.0, 1.0] && g.corners[3].y < -5.66));
        // A ten-character name on 42 mm keeps large, condensed glyphs.
        assert!(layout.runs[0].size > 5.0, "{}", layout.runs[0].size);
    }

    #[test]
    fn long_name_geometry() {
        let layout = check_geometry(&long_name());
        assert_eq!(layout.runs[0].glyphs.len(), 20);
        assert!(layout.runs[0].size > 3.0, "{}", layout.runs[0].size);
    }

    #[test]
    fn short_name_and_plain_seal() {
        let seal = SealImpression {
            shape: SealShape::Round,
            name: "某局".into(),
            purpose: None,
            code: Some(" ".into()),
            width_mm: 42.0,
        };
        let layout = check_geometry(&seal);
        assert_eq!(layout.runs.len(), 1);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let f = font();
        let mut seal = xiamen();
        seal.name = "  ".into();
        assert!(matches!(layout(&seal, &f), Err(AppearanceError::EmptyName)));
        for d in [f32::NAN, 0.0, -42.0, 1e9] {
            seal = SealImpression {
                width_mm: d,
                ..xiamen()
            };
            assert!(matches!(
                layout(&seal, &f),
                Err(AppearanceError::InvalidSize(_))
            ));
        }
        seal = SealImpression {
            shape: SealShape::Round,
            name: "局".repeat(45),
            ..xiamen()
        };
        let err = layout(&seal, &f).expect_err("too long");
        assert!(
            matches!(err, AppearanceError::DoesNotFit { chars: 45, .. }),
            "{err}"
        );
        seal = SealImpression {
            shape: SealShape::Round,
            name: "局".repeat(10_000),
            ..xiamen()
        };
        assert!(matches!(
            layout(&seal, &f),
            Err(AppearanceError::DoesNotFit { chars: 10_000, .. })
        ));
        seal = SealImpression {
            purpose: Some("行政审批专用章行政审批专用章行政审批".into()),
            ..xiamen()
        };
        assert!(matches!(
            layout(&seal, &f),
            Err(AppearanceError::DoesNotFit {
                part: "purpose",
                ..
            })
        ));
        seal = SealImpression {
            shape: SealShape::Round,
            name: "厦门\u{E000}".into(),
            ..xiamen()
        };
        assert!(matches!(
            layout(&seal, &f),
            Err(AppearanceError::Font(FontError::MissingGlyph('\u{E000}')))
        ));
    }

    #[test]
    fn svg_draws_the_same_layout() {
        let picture = svg(&xiamen(), &font()).expect("svg");
        assert!(picture.starts_with("<svg ") && picture.ends_with("</svg>"));
        assert!(picture.contains("width=\"42.000mm\""));
        assert!(picture.contains("<circle ") && picture.contains("<polygon "));
        assert_eq!(picture.matches("<text ").count(), 10 + 7 + 13);
        for c in "厦门市市场监督管理局行政审批专用章3502000012345".chars() {
            assert!(picture.contains(&format!(">{c}</text>")), "{c}");
        }
        let square = svg(&square_name(), &font()).expect("square");
        assert!(square.contains("<rect ") && !square.contains("<polygon "));
        assert!(svg(&oval_name(), &font())
            .expect("oval")
            .contains("<ellipse "));
    }

    #[test]
    fn separation_test() {
        let square = |x: f32| {
            [
                Pt { x, y: 0.0 },
                Pt { x: x + 1.0, y: 0.0 },
                Pt { x: x + 1.0, y: 1.0 },
                Pt { x, y: 1.0 },
            ]
        };
        assert!(separated(&square(0.0), &square(1.5), 0.5));
        assert!(!separated(&square(0.0), &square(1.4), 0.5));
        assert!(!separated(&square(0.0), &square(0.5), 0.0));
    }

    /// Runs a command (poppler-utils and qpdf are installed by `.ci/run`); a missing tool fails
    /// the test rather than skipping the check.
    fn run(cmd: &str, args: &[&str]) -> std::process::Output {
        match Command::new(cmd).args(args).output() {
            Ok(out) => out,
            Err(e) => panic!("{cmd}: {e} (install poppler-utils and qpdf)"),
        }
    }

    #[test]
    fn stamped_pdf_checks_out() {
        use lopdf::dictionary;
        let dir = crate::test_needs::evidence_dir("seal-check");
        let path = dir.join("seal.pdf");
        let png_stem = dir.join("seal");
        let f = font();

        let mut doc = lopdf::Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let form = |seal: SealImpression| SealForm::new(&seal, &f).expect("seal form");
        let seal1 = form(xiamen()).add_to(&mut doc);
        let seal2 = form(long_name()).add_to(&mut doc);
        let seal3 = form(square_name()).add_to(&mut doc);
        let seal4 = form(oval_name()).add_to(&mut doc);
        let text_font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F0".into(), 14.into()]),
                Operation::new("Td", vec![90.into(), 700.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(
                        "Text under the seal stays readable.",
                    )],
                ),
                Operation::new("ET", vec![]),
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        1.into(),
                        0.into(),
                        0.into(),
                        1.into(),
                        100.into(),
                        640.into(),
                    ],
                ),
                Operation::new("Do", vec!["Seal1".into()]),
                Operation::new("Q", vec![]),
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        1.into(),
                        0.into(),
                        0.into(),
                        1.into(),
                        300.into(),
                        400.into(),
                    ],
                ),
                Operation::new("Do", vec!["Seal2".into()]),
                Operation::new("Q", vec![]),
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        1.into(),
                        0.into(),
                        0.into(),
                        1.into(),
                        100.into(),
                        300.into(),
                    ],
                ),
                Operation::new("Do", vec!["Seal3".into()]),
                Operation::new("Q", vec![]),
                Operation::new("q", vec![]),
                Operation::new(
                    "cm",
                    vec![
                        1.into(),
                        0.into(),
                        0.into(),
                        1.into(),
                        100.into(),
                        150.into(),
                    ],
                ),
                Operation::new("Do", vec!["Seal4".into()]),
                Operation::new("Q", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(
            dictionary! {},
            content.encode().expect("encode"),
        ));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(595.28), Object::Real(841.89)],
            "Contents" => content_id,
            "Resources" => dictionary! {
                "Font" => dictionary! { "F0" => text_font },
                "XObject" => dictionary! {
                    "Seal1" => seal1, "Seal2" => seal2, "Seal3" => seal3, "Seal4" => seal4,
                },
            },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        doc.save(&path).expect("save");
        let path = path.to_str().expect("utf-8 path");

        // The form is self-contained and its font stream small.
        let form = doc
            .get_object(seal1)
            .and_then(Object::as_stream)
            .expect("form");
        let resources = form
            .dict
            .get(b"Resources")
            .and_then(Object::as_dict)
            .expect("resources");
        assert!(resources
            .get(b"Font")
            .and_then(Object::as_dict)
            .is_ok_and(|d| d.has(b"F1")));
        let blend = resources
            .get_deref(b"ExtGState", &doc)
            .and_then(Object::as_dict)
            .and_then(|d| d.get(b"GS1"))
            .and_then(Object::as_dict)
            .and_then(|d| d.get(b"BM"))
            .and_then(Object::as_name);
        assert_eq!(blend.ok(), Some(&b"Multiply"[..]));
        let font_files: Vec<usize> = doc
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .filter(|s| {
                s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"CIDFontType0C")
            })
            .map(|s| s.content.len())
            .collect();
        assert_eq!(font_files.len(), 4);
        assert!(font_files.iter().all(|&n| n < 60_000), "{font_files:?}");
        eprintln!(
            "font files: {font_files:?} bytes; PDF: {} bytes",
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        );

        {
            let out = run("qpdf", &["--check", path]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "qpdf --check failed:\n{text}");
            assert!(!text.to_lowercase().contains("warning"), "{text}");
        }
        {
            let out = run("pdffonts", &[path]);
            let text = String::from_utf8_lossy(&out.stdout);
            eprintln!("{text}");
            let rows: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("NotoSerifSC-Regular"))
                .collect();
            assert_eq!(rows.len(), 4, "{text}");
            for row in rows {
                let cols: Vec<&str> = row.split_whitespace().collect();
                // name, type (CID Type 0C), encoding, emb, sub, uni, object, id
                assert!(cols[0].len() > 7 && cols[0].as_bytes()[6] == b'+', "{row}");
                assert!(
                    row.contains("CID Type 0C") && row.contains("Identity-H"),
                    "{row}"
                );
                assert_eq!(
                    &cols[cols.len() - 5..cols.len() - 2],
                    &["yes", "yes", "yes"],
                    "{row}"
                );
            }
        }
        {
            let out = run("pdftotext", &[path, "-"]);
            // The impression is marked as having no text: nothing of it is extracted, while
            // the page's own text is.
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("Text under the seal stays readable."),
                "{text}"
            );
            for seal in [xiamen(), long_name(), square_name(), oval_name()] {
                for c in seal.name.chars() {
                    assert!(!text.contains(c), "{c} extracted from the seal: {text}");
                }
            }
        }
        {
            let out = run(
                "pdftoppm",
                &["-r", "100", "-png", path, png_stem.to_str().unwrap()],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
