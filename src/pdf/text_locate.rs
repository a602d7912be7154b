//! Finding where a text is drawn on the pages of a PDF, to place a seal on a keyword.
//!
//! Glyphs are decoded and positioned by `pdf-extract` (font encodings, ToUnicode and embedded
//! CMaps, CID fonts, standard-14 metrics), whose text rendering matrix is already in default
//! user space (CTM included, y not flipped). pdf-extract 0.12 misplaces or drops text in a few
//! constructs, so the document is first rewritten in memory (`Rewriter`):
//! - a Form XObject runs with an identity CTM and without its `/Matrix`: each `Do` is bracketed
//!   with marker fills from which `Collector` learns the form's placement;
//! - `'` and `"` are ignored: they become `Tw`/`Tc`/`T*`/`Tj`;
//! - the `c_first c_last w` runs of a CID font's `/W` are misread: they are expanded to lists;
//! - Type 3 `/Widths` are read as 1/1000 em: they are rescaled by the `/FontMatrix`;
//! - image XObjects and inline images would be parsed as content: they are dropped.
//!
//! pdf-extract still panics on some inputs; panics are caught page by page.

use std::any::Any;
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pdf_extract::content::{Content, Operation};
use pdf_extract::encryption::DecryptionError::IncorrectPassword;
use pdf_extract::{
    ColorSpace, Dictionary, Document, Error, LoadOptions, MediaBox, Object, ObjectId, OutputDev,
    OutputError, Path, PathOp, Stream, Transform,
};
use unicode_normalization::UnicodeNormalization;

/// Glyph box below and above the baseline, in units of the font size.
const DESCENT: f64 = -0.2;
const ASCENT: f64 = 0.8;
/// x of the empty rectangle filled around each form invocation (y = 1 opens, y = 0 closes).
const FORM_MARK: i64 = -31_337;
/// Deepest nesting of Form XObjects that is followed.
const MAX_FORM_DEPTH: usize = 32;

/// Where a searched text was found.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// 1-based page number.
    pub page: usize,
    /// Bounding box [llx, lly, urx, ury] in the page's default user space (PDF points,
    /// the MediaBox coordinate system, before /Rotate is applied).
    pub rect: [f32; 4],
}

/// Why text could not be searched.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// The needle is empty or only whitespace.
    #[error("the text to find is empty")]
    EmptyNeedle,
    /// The bytes are not a PDF that can be read.
    #[error("cannot read the PDF: {0}")]
    Unreadable(String),
    /// The PDF is encrypted and the password does not open it.
    #[error("the PDF is encrypted and the password is wrong")]
    BadPassword,
    /// The text of a page could not be extracted and the needle was found on no other page.
    #[error("cannot extract the text of page {page}: {reason}")]
    Extraction {
        /// 1-based number of the first page that failed.
        page: usize,
        /// What went wrong.
        reason: String,
    },
}

/// Every occurrence of `needle` in document order (page, then drawing order).
///
/// Whitespace is ignored on both sides (and both are NFKC-normalised, so e.g. Kangxi radicals
/// match the usual ideographs), so a match may span several text operators and lines of one
/// page. Encrypted PDFs are opened with the user `password` (None = empty password). A page
/// whose text cannot be fully extracted contributes what was read before the failure; if the
/// needle is then found nowhere, the failure is returned instead of an empty list.
pub fn find_text(
    pdf: &[u8],
    password: Option<&str>,
    needle: &str,
) -> Result<Vec<TextMatch>, LocateError> {
    let needle: Vec<char> = needle.nfkc().filter(|c| !c.is_whitespace()).collect();
    if needle.is_empty() {
        return Err(LocateError::EmptyNeedle);
    }
    let options = LoadOptions::with_password(password.unwrap_or(""));
    let loaded = catch_unwind(|| -> Result<Document, Error> {
        let mut doc = Document::load_mem_with_options(pdf, options)?;
        let (stack, done) = (Vec::new(), HashSet::new());
        Rewriter {
            doc: &mut doc,
            stack,
            done,
        }
        .run();
        Ok(doc)
    });
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(Error::InvalidPassword | Error::Decryption(IncorrectPassword))) => {
            return Err(LocateError::BadPassword)
        }
        Ok(Err(e)) => return Err(LocateError::Unreadable(e.to_string())),
        Err(panic) => return Err(LocateError::Unreadable(panic_message(panic.as_ref()))),
    };
    let mut failure = None;
    let mut found = Vec::new();
    for page in doc.get_pages().into_keys() {
        let mut collector = Collector::default();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            pdf_extract::output_doc_page(&doc, &mut collector, page)
        }));
        let reason = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(panic) => Some(panic_message(panic.as_ref())),
        };
        let page = page as usize;
        if let Some(reason) = reason {
            failure.get_or_insert(LocateError::Extraction { page, reason });
        }
        found.extend(
            occurrences(&collector.glyphs, &needle)
                .into_iter()
                .map(|rect| TextMatch { page, rect }),
        );
    }
    match failure {
        Some(failure) if found.is_empty() => Err(failure),
        _ => Ok(found),
    }
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned());
    format!("pdf-extract panicked: {}", message.unwrap_or_default())
}

/// Boxes of the non-overlapping occurrences of `needle` in `glyphs`, whitespace skipped.
fn occurrences(glyphs: &[(String, [f64; 4])], needle: &[char]) -> Vec<[f32; 4]> {
    let chars: Vec<(char, usize)> = glyphs
        .iter()
        .enumerate()
        .flat_map(|(i, (text, _))| {
            text.nfkc()
                .filter(|c| !c.is_whitespace())
                .map(move |c| (c, i))
        })
        .collect();
    let mut found = Vec::new();
    let mut start = 0;
    while start + needle.len() <= chars.len() {
        let window = &chars[start..start + needle.len()];
        if !window.iter().map(|&(c, _)| c).eq(needle.iter().copied()) {
            start += 1;
            continue;
        }
        let rect = window
            .iter()
            .fold(EMPTY, |r, &(_, g)| union(r, glyphs[g].1));
        found.push(rect.map(|v| v as f32));
        start += needle.len();
    }
    found
}

const INF: f64 = f64::INFINITY;
/// Neutral element of [`union`].
const EMPTY: [f64; 4] = [INF, INF, -INF, -INF];

/// Smallest box around boxes `a` and `b` (min of the lower corners, max of the upper ones).
fn union(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
    std::array::from_fn(|i| [f64::min, f64::max][i / 2](a[i], b[i]))
}

/// Receives pdf-extract's glyphs of one page.
#[derive(Default)]
struct Collector {
    /// Decoded text and box (default user space) of every glyph, in drawing order.
    glyphs: Vec<(String, [f64; 4])>,
    /// Placement of the Form XObjects being run, innermost last.
    forms: Vec<Transform>,
}

impl Collector {
    /// `m`, given in the space of the form being run, in default user space.
    fn placed(&self, m: &Transform) -> Transform {
        self.forms.last().map_or(*m, |form| m.post_transform(form))
    }
}

impl OutputDev for Collector {
    fn begin_page(
        &mut self,
        _page: u32,
        _media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    /// `trm` maps text space without the font size to user space (of the form being run);
    /// `width` is the advance in units of the font size.
    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        text: &str,
    ) -> Result<(), OutputError> {
        let m = self.placed(trm);
        let (w, low, high) = (width * font_size, DESCENT * font_size, ASCENT * font_size);
        let rect = [(0.0, low), (w, low), (0.0, high), (w, high)]
            .iter()
            .map(|&(x, y)| {
                let (ux, uy) = (m.m11 * x + m.m21 * y + m.m31, m.m12 * x + m.m22 * y + m.m32);
                [ux, uy, ux, uy]
            })
            .fold(EMPTY, union);
        if rect.iter().all(|v| v.is_finite()) {
            self.glyphs.push((text.to_owned(), rect));
        }
        Ok(())
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }

    /// Tracks the form markers written by [`Rewriter::content`]; `ctm` then is the form's
    /// placement relative to the enclosing form.
    fn fill(
        &mut self,
        ctm: &Transform,
        _colorspace: &ColorSpace,
        _color: &[f64],
        path: &Path,
    ) -> Result<(), OutputError> {
        if let [PathOp::Rect(x, open, _, _)] = path.ops[..] {
            if x == FORM_MARK as f64 && open > 0.0 {
                self.forms.push(self.placed(ctm));
            } else if x == FORM_MARK as f64 {
                self.forms.pop();
            }
        }
        Ok(())
    }
}

fn deref<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Object> {
    doc.dereference(object).ok().map(|(_, o)| o)
}

fn number(doc: &Document, object: &Object) -> Option<f64> {
    match deref(doc, object)? {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

fn dict<'a>(doc: &'a Document, parent: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
    deref(doc, parent.get(key).ok()?)?.as_dict().ok()
}

fn array<'a>(doc: &'a Document, parent: &'a Dictionary, key: &[u8]) -> Option<&'a Vec<Object>> {
    deref(doc, parent.get(key).ok()?)?.as_array().ok()
}

/// A CID font's `/W` with its `c_first c_last w` runs expanded, None if it has none.
fn cid_widths(doc: &Document, font: &Dictionary) -> Option<Object> {
    let w = array(doc, font, b"W")?;
    let (mut out, mut expanded, mut i) = (Vec::new(), 0usize, 0);
    while i + 1 < w.len() {
        if let Some(Object::Array(list)) = deref(doc, &w[i + 1]) {
            out.extend([w[i].clone(), Object::Array(list.clone())]);
            i += 2;
            continue;
        }
        let first = number(doc, &w[i])?;
        let count = (number(doc, &w[i + 1])? - first + 1.0).max(0.0) as usize;
        let width = Object::Real(number(doc, w.get(i + 2)?)? as f32);
        expanded += count;
        if expanded > 1 << 17 {
            return None;
        }
        out.extend([w[i].clone(), Object::Array(vec![width; count])]);
        i += 3;
    }
    (expanded > 0).then_some(Object::Array(out))
}

/// A Type 3 font's `/Widths` in thousandths of text space, None if already so.
fn type3_widths(doc: &Document, font: &Dictionary) -> Option<Object> {
    let scale = number(doc, array(doc, font, b"FontMatrix")?.first()?)? * 1000.0;
    if (scale - 1.0).abs() < 1e-9 {
        return None;
    }
    let widths = array(doc, font, b"Widths")?.iter();
    let scaled = widths.map(|w| Object::Real((number(doc, w).unwrap_or(0.0) * scale) as f32));
    Some(Object::Array(scaled.collect()))
}

/// The resources of a page, inherited from the page tree if need be.
fn page_resources(doc: &Document, page: ObjectId) -> Option<Dictionary> {
    let mut node = doc.get_dictionary(page).ok()?;
    for _ in 0..64 {
        if let Some(resources) = dict(doc, node, b"Resources") {
            return Some(resources.clone());
        }
        node = doc
            .get_dictionary(node.get(b"Parent").ok()?.as_reference().ok()?)
            .ok()?;
    }
    None
}

/// The `/Matrix` of a form as `cm` operands.
fn form_matrix(doc: &Document, form: &Dictionary) -> Vec<Object> {
    let matrix = array(doc, form, b"Matrix")
        .and_then(|m| m.iter().map(|v| number(doc, v)).collect::<Option<Vec<_>>>())
        .filter(|m| m.len() == 6)
        .unwrap_or_else(|| vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    matrix.into_iter().map(|v| Object::Real(v as f32)).collect()
}

/// Rewrites a document in memory around pdf-extract's gaps (see the module documentation).
struct Rewriter<'a> {
    doc: &'a mut Document,
    /// Forms being rewritten, outermost first: a form calling one of them is not drawn.
    stack: Vec<ObjectId>,
    /// Forms already rewritten.
    done: HashSet<ObjectId>,
}

impl Rewriter<'_> {
    fn run(mut self) {
        let doc = &mut *self.doc;
        let is_font = |o: &Object| o.as_dict().is_ok_and(|d| d.has_type(b"Font"));
        let fonts: Vec<ObjectId> = doc
            .objects
            .iter()
            .filter(|(_, o)| is_font(o))
            .map(|(id, _)| *id)
            .collect();
        for id in fonts {
            let Ok(font) = doc.get_dictionary(id) else {
                continue;
            };
            let fixed = match font.get(b"Subtype").and_then(Object::as_name) {
                Ok(b"CIDFontType0" | b"CIDFontType2") => cid_widths(doc, font).map(|w| ("W", w)),
                Ok(b"Type3") => type3_widths(doc, font).map(|w| ("Widths", w)),
                _ => None,
            };
            if let (Some((key, value)), Ok(font)) = (fixed, doc.get_dictionary_mut(id)) {
                font.set(key, value);
            }
        }
        for page in self.doc.get_pages().into_values() {
            let resources = page_resources(self.doc, page).unwrap_or_default();
            let Ok(content) = self.doc.get_page_content(page) else {
                continue;
            };
            if let Some(content) = self.content(&content, &resources) {
                let id = self.doc.add_object(Stream::new(Dictionary::new(), content));
                if let Ok(page) = self.doc.get_dictionary_mut(page) {
                    page.set("Contents", id);
                }
            }
        }
    }

    /// `content` with the constructs pdf-extract mishandles rewritten, None if it has none.
    fn content(&mut self, content: &[u8], resources: &Dictionary) -> Option<Vec<u8>> {
        let operations = Content::decode(content).ok()?.operations;
        let op = Operation::new;
        let mark = |open| {
            [
                op("re", [FORM_MARK, open, 0, 0].map(Object::Integer).into()),
                op("f", vec![]),
            ]
        };
        let mut out = Vec::with_capacity(operations.len());
        let mut changed = false;
        for Operation {
            operator,
            mut operands,
        } in operations
        {
            match operator.as_str() {
                "'" | "\"" => {
                    let text = operands.pop();
                    if let [word_spacing, char_spacing] = &operands[..] {
                        out.push(op("Tw", vec![word_spacing.clone()]));
                        out.push(op("Tc", vec![char_spacing.clone()]));
                    }
                    out.push(op("T*", vec![]));
                    out.extend(text.map(|text| op("Tj", vec![text])));
                }
                "Do" => {
                    let name = operands.first().and_then(|n| n.as_name().ok());
                    if let Some(matrix) = name
                        .map(<[u8]>::to_vec)
                        .and_then(|n| self.form(&n, resources))
                    {
                        out.extend([op("q", vec![]), op("cm", matrix)]);
                        out.extend(mark(1));
                        out.push(op("Do", operands));
                        out.extend(mark(0));
                        out.push(op("Q", vec![]));
                    }
                }
                "BI" => {}
                _ => {
                    out.push(Operation { operator, operands });
                    continue;
                }
            }
            changed = true;
        }
        changed
            .then(|| Content { operations: out }.encode().ok())
            .flatten()
    }

    /// The `/Matrix` of the Form XObject `name` stands for in `resources`, None if it is no
    /// form or calls itself. The form is rewritten once; if it has no resources it is given
    /// those of its first caller, which pdf-extract would use.
    fn form(&mut self, name: &[u8], resources: &Dictionary) -> Option<Vec<Object>> {
        let id = dict(self.doc, resources, b"XObject")?
            .get(name)
            .ok()?
            .as_reference()
            .ok()?;
        let form = self.doc.get_object(id).ok()?.as_stream().ok()?;
        let is_form = form.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form");
        if !is_form || self.stack.contains(&id) || self.stack.len() >= MAX_FORM_DEPTH {
            return None;
        }
        let matrix = form_matrix(self.doc, &form.dict);
        if !self.done.insert(id) {
            return Some(matrix);
        }
        let own = dict(self.doc, &form.dict, b"Resources").cloned();
        let content = form
            .decompressed_content()
            .unwrap_or_else(|_| form.content.clone());
        let resources = own.clone().unwrap_or_else(|| resources.clone());
        self.stack.push(id);
        let rewritten = self.content(&content, &resources);
        self.stack.pop();
        if let Ok(form) = self.doc.get_object_mut(id).and_then(Object::as_stream_mut) {
            if let Some(content) = rewritten {
                form.set_plain_content(content);
            }
            if own.is_none() {
                form.dict.set("Resources", resources);
            }
        }
        Some(matrix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of the shared corpus, which the calling test has found present.
    fn corpus(file: &str) -> Vec<u8> {
        crate::test_needs::corpus(file).unwrap_or_else(|| panic!("{file} is in the corpus"))
    }

    fn find(file: &str, password: Option<&str>, needle: &str) -> Vec<TextMatch> {
        find_text(&corpus(file), password, needle).expect(file)
    }

    /// Where pdftotext (`-bbox`, converted to default user space) puts a text: file | needle |
    /// page | box. Vertical extents differ by up to ~2 pt: poppler uses the fonts' own ascent
    /// and descent. The arabic file has /Rotate 90, 180, 270 and 360 on pages 1 to 4 over the
    /// same drawing; the AutoCAD one /Rotate 270 over text drawn downwards in user space.
    const POPPLER: &str = "
        sf-libreoffice-writer.pdf | Lorem ipsum dolor | 1 | 56.8 771.64 150.24 783.27
        sf-libreoffice-writer.pdf | Lorem ipsum dolor | 1 | 56.8 730.94 534.54 756.17
        sf-pdflatex-4-pages.pdf | written | 3 | 471.41 162.01 505.99 171.7
        sf-google-docs.pdf | Beautiful is better than ugly. | 1 | 72 719.97 206.84 732.26
        pypdf-chinese-excel-table.pdf | 雨润白条猪肉 | 1 | 159.77 821.56 214.19 830.63
        pypdf-chinese-excel-table.pdf | 商品 编码 | 1 | 70.47 883.04 106.74 894.75
        sf-arabic-rotated.pdf | habibi | 1 | 62.25 765.68 100.15 779.64
        sf-arabic-rotated.pdf | habibi | 3 | 62.25 765.68 100.15 779.64
        pypdf-autocad-a3-rotate270.pdf | Strip the cable | 1 | 627.47 1093.29 639.13 1173.83
        pypdf-enc-aes256-empty-userpw.pdf | encryption | 1 | 107.4 756 155.43 770.9";

    #[test]
    fn boxes_agree_with_poppler() {
        if crate::test_needs::shared("corpus").is_none() {
            return;
        }
        for row in POPPLER.trim().lines() {
            let [file, needle, page, rect] =
                [0, 1, 2, 3].map(|i| row.split('|').nth(i).unwrap().trim());
            let page: usize = page.parse().unwrap();
            let expected: Vec<f32> = rect.split(' ').map(|v| v.parse().unwrap()).collect();
            let near = |m: &TextMatch| {
                let mut deltas = m.rect.iter().zip(&expected).map(|(a, e)| (a - e).abs());
                m.page == page && deltas.all(|d| d <= 3.0)
            };
            let found = find(file, None, needle);
            assert!(found.iter().any(near), "{row}: not in {found:?}");
        }
    }

    #[test]
    fn occurrences_in_document_order() {
        if crate::test_needs::shared("corpus").is_none() {
            return;
        }
        let lorem = find("sf-libreoffice-writer.pdf", None, "Lorem ipsum dolor");
        assert_eq!(lorem.len(), 4);
        assert_eq!(
            lorem,
            find("sf-libreoffice-writer.pdf", None, "Loremipsum\ndolor")
        );
        let encrypted = find(
            "sf-libreoffice-password.pdf",
            Some("openpassword"),
            "Lorem ipsum dolor",
        );
        assert_eq!(lorem, encrypted);
        assert_eq!(
            find("sf-google-docs.pdf", None, "Beautiful is better").len(),
            1
        );
        let pages: Vec<usize> = find("sf-pdflatex-4-pages.pdf", None, "written")
            .iter()
            .map(|m| m.page)
            .collect();
        assert_eq!(
            (pages.len(), pages.first(), pages.last()),
            (46, Some(&1), Some(&4))
        );
        assert!(pages.windows(2).all(|w| w[0] <= w[1]), "{pages:?}");
    }

    #[test]
    fn absent_blank_unreadable_and_locked() {
        if crate::test_needs::shared("corpus").is_none() {
            return;
        }
        let pdf = corpus("sf-google-docs.pdf");
        assert_eq!(find_text(&pdf, None, "Zhengyin 证印").unwrap(), []);
        assert!(matches!(
            find_text(&pdf, None, " \n\t"),
            Err(LocateError::EmptyNeedle)
        ));
        let not_pdf = find_text(b"<html>not a pdf</html>", None, "pdf");
        assert!(matches!(not_pdf, Err(LocateError::Unreadable(_))));
        let truncated = find_text(&pdf[..pdf.len() / 2], None, "Example");
        assert!(matches!(truncated, Ok(_) | Err(LocateError::Unreadable(_))));
        let locked = find_text(&corpus("sf-libreoffice-password.pdf"), None, "Lorem");
        assert!(matches!(locked, Err(LocateError::BadPassword)));
    }

    #[test]
    fn every_corpus_file_is_searched_without_panicking() {
        let Some(dir) = crate::test_needs::shared("corpus") else {
            return;
        };
        let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
        for line in manifest.lines().skip(1) {
            let columns: Vec<&str> = line.split('\t').collect();
            let (file, features) = (columns[0], columns[10]);
            let password = features
                .split("user pw \"")
                .nth(1)
                .and_then(|s| s.split('"').next());
            let result = find_text(&corpus(file), password, "the");
            assert!(
                result.is_ok() || features.contains("BROKEN"),
                "{file}: {result:?}"
            );
        }
    }

    /// A PDF of `objects`, separated by blank lines and numbered from 1 (1 is the catalog);
    /// stream lengths are filled in.
    fn assemble(objects: &str) -> Vec<u8> {
        let mut pdf = String::from("%PDF-1.7\n");
        let mut offsets = Vec::new();
        for (i, body) in objects.split("\n\n").enumerate() {
            offsets.push(pdf.len());
            let body = match body.split_once("\nstream\n") {
                Some((dict, data)) => {
                    let data = data.strip_suffix("\nendstream").unwrap_or(data);
                    let dict = dict.strip_suffix(">>").unwrap_or(dict);
                    format!("{dict}/Length {} >>\nstream\n{data}\nendstream", data.len())
                }
                None => body.to_owned(),
            };
            pdf += &format!("{} 0 obj\n{body}\nendobj\n", i + 1);
        }
        let (xref, size) = (pdf.len(), offsets.len() + 1);
        pdf += &format!("xref\n0 {size}\n0000000000 65535 f \n");
        for offset in offsets {
            pdf += &format!("{offset:010} 00000 n \n");
        }
        pdf += &format!("trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n");
        pdf.into_bytes()
    }

    /// Each construct that [`Rewriter`] rewrites, on one page: `'`, a form placed by `cm` and
    /// `/Matrix`, a form calling itself, `/W` runs, a Type 3 `/FontMatrix` of 1/2000.
    const TRICKY: &str = r"<< /Type /Catalog /Pages 2 0 R >>

<< /Type /Pages /Kids [3 0 R] /Count 1 >>

<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R /Resources <<
/Font << /F1 5 0 R /F2 8 0 R /F3 11 0 R >> /XObject << /Fm 6 0 R /Loop 7 0 R >> >> >>

<< >>
stream
BT /F1 10 Tf 100 700 Td (Alpha) Tj 12 TL (Gamma) ' ET
q 1 0 0 1 200 300 cm /Fm Do Q /Loop Do
BT /F2 10 Tf 100 500 Td <000100020003> Tj ET
BT /F3 10 Tf 100 400 Td (AB) Tj ET
endstream

<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>

<< /Subtype /Form /BBox [0 0 100 100] /Matrix [2 0 0 2 50 0] /Resources << /Font << /F1 5 0 R >> >> >>
stream
BT /F1 10 Tf 10 20 Td (Beta) Tj ET
endstream

<< /Subtype /Form /BBox [0 0 10 10] /Resources << /Font << /F1 5 0 R >> /XObject << /Loop 7 0 R >> >> >>
stream
/Loop Do BT /F1 10 Tf (Omega) Tj ET
endstream

<< /Type /Font /Subtype /Type0 /BaseFont /T /Encoding /Identity-H /DescendantFonts [9 0 R]
/ToUnicode 10 0 R >>

<< /Type /Font /Subtype /CIDFontType2 /BaseFont /T /FontDescriptor 12 0 R /DW 1000
/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /W [1 2 500 3 [250]] >>

<< >>
stream
/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /T def /CMapType 2 def
1 begincodespacerange <0000> <FFFF> endcodespacerange 1 beginbfrange <0001> <0003> <0058> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end
endstream

<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] /FontMatrix [0.0005 0 0 0.0005 0 0]
/CharProcs << /A 13 0 R /B 13 0 R >> /Encoding << /Type /Encoding /Differences [65 /A /B] >>
/FirstChar 65 /LastChar 66 /Widths [2000 1000] /Resources << >> >>

<< /Type /FontDescriptor /FontName /T /Flags 4 /FontBBox [0 0 1000 1000] /ItalicAngle 0
/Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>

<< >>
stream
1000 0 0 0 1000 1000 d1
endstream";

    #[test]
    fn constructs_pdf_extract_mishandles() {
        let pdf = assemble(TRICKY);
        let find = |needle| find_text(&pdf, None, needle).unwrap();
        let exact = |needle, rect: [f32; 4]| {
            let found = find(needle);
            assert_eq!(found.len(), 1, "{needle}: {found:?}");
            let mut deltas = found[0].rect.iter().zip(rect).map(|(a, e)| (a - e).abs());
            assert!(
                deltas.all(|d| d < 0.01),
                "{needle}: {found:?}, not {rect:?}"
            );
        };
        // Helvetica widths: A B 667, G O 778, l 222, a e g h p 556, m 833, t 278.
        exact("Alpha", [100.0, 698.0, 125.57, 708.0]);
        exact("Gamma", [100.0, 686.0, 135.56, 696.0]);
        exact("Beta", [270.0, 336.0, 311.14, 356.0]);
        exact("Omega", [0.0, -2.0, 32.79, 8.0]);
        exact("XYZ", [100.0, 498.0, 112.5, 508.0]);
        exact("AB", [100.0, 398.0, 115.0, 408.0]);
    }
}
