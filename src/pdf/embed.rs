//! "Embed into the PDF": append one incremental update carrying a signature field, its widget
//! and a signature dictionary with a reserved `/Contents` placeholder, then fill the placeholder
//! with the CMS once it exists (as pyHanko's `fields` + `PdfByteRangeDigest` do).
//!
//! The original bytes are never touched, so earlier signatures stay valid. Only the objects
//! this update adds or changes are written after them, followed by a cross-reference section
//! of the same kind as the original's (table or stream) whose `/Prev` points at the original.

use std::io::Write;

use lopdf::xref::XrefType;
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use ring::digest;
use time::OffsetDateTime;

/// Everything that can go wrong while preparing or completing a signature update.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The requested page does not exist.
    #[error("the document has {pages} page(s); page {requested} does not exist")]
    NoSuchPage {
        /// Pages in the document.
        pages: usize,
        /// 1-based page asked for.
        requested: usize,
    },
    /// The document's structure lacks something every PDF must have (catalog, page tree).
    #[error("the PDF structure is damaged: {0}")]
    Damaged(String),
    /// The document is encrypted; updates to encrypted files are not written.
    #[error("the PDF is encrypted")]
    Encrypted,
    /// The CMS is larger than the space reserved for it.
    #[error("the signature ({needed} bytes) does not fit the reserved space ({reserved} bytes)")]
    SignatureTooLarge {
        /// Bytes of DER the signature needs.
        needed: usize,
        /// Bytes reserved in `/Contents`.
        reserved: usize,
    },
}

/// The signature field: one name, one signature, shown in one or more places (a cross-page
/// seal shows on every page).
///
/// One place: the field and its widget are one dictionary. Several places (a cross-page
/// seal): the field lists one locked widget per place in `/Kids`, all written in the same
/// signed update, so removing or changing one breaks the signature. The kids carry no
/// `/Parent`: poppler 22.12 takes a kid with `/Parent` for a field of its own, reports a
/// signature per page and finds none of them signed; without it, poppler, pyHanko and qpdf
/// all read one signature with several widgets (pyHanko then also accepts the kids as part
/// of a new signature when the field is added after other signatures).
#[derive(Debug, Clone)]
pub struct SignatureField {
    /// Fully qualified field name (`/T`), unique within the document.
    pub name: String,
    /// Where the signature shows; at least one.
    pub widgets: Vec<Widget>,
}

/// One visible appearance of the signature field on a page.
#[derive(Debug, Clone)]
pub struct Widget {
    /// 1-based page number carrying the widget.
    pub page: usize,
    /// Widget rectangle in the page's default user space, points: `[x1 y1 x2 y2]`.
    pub rect: [f32; 4],
    /// The widget's normal appearance (a form XObject already added to the document).
    pub appearance: ObjectId,
}

/// Descriptive entries of the signature dictionary.
#[derive(Debug, Clone)]
pub struct SignatureInfo {
    /// Claimed signing time (`/M`); PAdES puts it here rather than in the CMS.
    pub signing_time: OffsetDateTime,
    /// Signer name (`/Name`).
    pub signer_name: String,
    /// Why the document is signed (`/Reason`).
    pub reason: String,
    /// Where it is signed (`/Location`).
    pub location: String,
}

/// What the signature dictionary is.
#[derive(Debug, Clone, Copy)]
pub enum SignatureKind<'a> {
    /// A CAdES signature (`/Type/Sig`, SubFilter `ETSI.CAdES.detached`) with its entries.
    Signature(&'a SignatureInfo),
    /// A document time-stamp (`/Type/DocTimeStamp`, SubFilter `ETSI.RFC3161`): an RFC 3161
    /// token over the byte ranges, as PAdES B-LTA adds.
    DocumentTimestamp,
}

/// A PDF with an incremental update: the original bytes, untouched, followed by the update.
/// The two are kept apart, so that updating a large file never copies it: the file is hashed
/// and written out part by part, and joined only for a caller that wants one buffer.
#[derive(Debug, Clone)]
pub struct UpdatedPdf {
    original: Vec<u8>,
    update: Vec<u8>,
}

impl UpdatedPdf {
    /// Starts an update of `original` on a line of its own, with room for `extra` bytes.
    pub(super) fn start(original: Vec<u8>, extra: usize) -> UpdatedPdf {
        let mut update = Vec::with_capacity(extra + 64 * 1024);
        if !original.ends_with(b"\n") {
            update.push(b'\n');
        }
        UpdatedPdf { original, update }
    }

    /// The offset in the file of the next byte written to the update.
    fn offset(&self) -> usize {
        self.original.len() + self.update.len()
    }

    /// SHA-256 of the whole file.
    pub fn sha256(&self) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.original);
        ctx.update(&self.update);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Writes the whole file to `out`.
    pub fn write_to(&self, mut out: impl Write) -> std::io::Result<()> {
        out.write_all(&self.original)?;
        out.write_all(&self.update)
    }

    /// The whole file in one buffer (the original's, grown by the update).
    pub fn into_vec(self) -> Vec<u8> {
        let mut bytes = self.original;
        bytes.extend_from_slice(&self.update);
        bytes
    }
}

/// An updated file whose `/Contents` is still a run of zeros.
#[derive(Debug)]
pub struct PreparedUpdate {
    file: UpdatedPdf,
    /// Where the hex digits inside `<` … `>` of `/Contents` are in the update.
    contents_start: usize,
    contents_end: usize,
}

impl PreparedUpdate {
    /// The byte ranges the signature covers: everything except the `/Contents` hex string
    /// including its angle brackets.
    pub fn byte_range(&self) -> [usize; 4] {
        let base = self.file.original.len();
        let gap_start = base + self.contents_start - 1;
        let gap_end = base + self.contents_end + 1;
        [0, gap_start, gap_end, self.file.offset() - gap_end]
    }

    /// SHA-256 over the signed byte ranges: the original, then the update around the gap
    /// (`/Contents` is in the update), without joining them.
    pub fn digest(&self) -> [u8; 32] {
        let update = &self.file.update;
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.file.original);
        ctx.update(&update[..self.contents_start - 1]);
        ctx.update(&update[self.contents_end + 1..]);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    /// Writes `cms` (DER) into the reserved space and returns the finished file.
    pub fn finish(mut self, cms: &[u8]) -> Result<UpdatedPdf, EmbedError> {
        let reserved = (self.contents_end - self.contents_start) / 2;
        if cms.len() > reserved {
            return Err(EmbedError::SignatureTooLarge {
                needed: cms.len(),
                reserved,
            });
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for (i, byte) in cms.iter().enumerate() {
            let at = self.contents_start + 2 * i;
            self.file.update[at] = HEX[usize::from(byte >> 4)];
            self.file.update[at + 1] = HEX[usize::from(byte & 0x0f)];
        }
        Ok(self.file)
    }
}

/// Width of each number in the `/ByteRange` placeholder: enough for files up to 10 GB.
const BYTE_RANGE_DIGITS: usize = 10;

/// Appends a signature update to `original`.
///
/// `doc` must be `original` as loaded by lopdf (streams may be left out: none of them is
/// written back), possibly with new objects (the appearance) already added; every object with
/// an id above `original_max_id` is written as new.
/// `contents_capacity` is the number of DER bytes reserved for the CMS.
pub fn prepare(
    original: Vec<u8>,
    doc: &mut Document,
    original_max_id: u32,
    field: &SignatureField,
    kind: SignatureKind<'_>,
    contents_capacity: usize,
) -> Result<PreparedUpdate, EmbedError> {
    // An encrypted original must have been decrypted on loading; what this update adds is
    // then encrypted with the same keys.
    let encryption = doc.encryption_state.clone();
    if doc.trailer.get(b"Encrypt").is_ok() && encryption.is_none() {
        return Err(EmbedError::Encrypted);
    }
    let pages = doc.get_pages();
    let page_of = |widget: &Widget| {
        u32::try_from(widget.page)
            .ok()
            .and_then(|n| pages.get(&n).copied())
            .ok_or(EmbedError::NoSuchPage {
                pages: pages.len(),
                requested: widget.page,
            })
    };
    let catalog_id = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| EmbedError::Damaged("the trailer has no /Root catalog reference".into()))?;

    let sig_id = doc.new_object_id();
    let mut changed = vec![];
    let field_id = match field.widgets.as_slice() {
        [] => {
            return Err(EmbedError::Damaged(
                "a signature field needs a widget".into(),
            ))
        }
        [only] => {
            let page_id = page_of(only)?;
            let mut merged = widget_dictionary(only, page_id);
            merged.extend(&field_dictionary(field, sig_id));
            let field_id = doc.add_object(merged);
            changed.push(add_annotation(doc, page_id, field_id)?);
            field_id
        }
        widgets => {
            let field_id = doc.new_object_id();
            let mut kids = Vec::with_capacity(widgets.len());
            for widget in widgets {
                let page_id = page_of(widget)?;
                let kid_id = doc.add_object(widget_dictionary(widget, page_id));
                changed.push(add_annotation(doc, page_id, kid_id)?);
                kids.push(Object::Reference(kid_id));
            }
            let mut dict = field_dictionary(field, sig_id);
            dict.set("Kids", kids);
            doc.objects.insert(field_id, Object::Dictionary(dict));
            field_id
        }
    };
    changed.extend(register_field(doc, catalog_id, field_id)?);

    let mut ids: Vec<ObjectId> = doc
        .objects
        .keys()
        .copied()
        .filter(|(id, _)| *id > original_max_id)
        .filter(|id| *id != sig_id)
        .chain(changed)
        .collect();
    ids.sort_unstable();
    ids.dedup();

    let mut out = UpdatedPdf::start(original, contents_capacity * 2);
    let mut offsets = write_objects(&mut out, doc, &ids, encryption.as_ref())?;
    offsets.push((sig_id.0, sig_id.1, out.offset()));
    let (contents_start, contents_end) = write_signature_dictionary(
        &mut out.update,
        sig_id,
        kind,
        contents_capacity,
        encryption.as_ref(),
    )?;
    finish_update(&mut out, doc, catalog_id, offsets, encryption.as_ref());

    let mut update = PreparedUpdate {
        file: out,
        contents_start,
        contents_end,
    };
    patch_byte_range(&mut update);
    Ok(update)
}

/// Writes the objects `ids` of `doc` (encrypted as the document is); returns their offsets.
pub(super) fn write_objects(
    out: &mut UpdatedPdf,
    doc: &Document,
    ids: &[ObjectId],
    encryption: Option<&lopdf::EncryptionState>,
) -> Result<Vec<(u32, u16, usize)>, EmbedError> {
    let mut offsets = Vec::with_capacity(ids.len() + 2);
    for &id in ids {
        let object = doc
            .objects
            .get(&id)
            .ok_or_else(|| EmbedError::Damaged(format!("object {} {} vanished", id.0, id.1)))?;
        offsets.push((id.0, id.1, out.offset()));
        match encryption {
            Some(state) => {
                let mut encrypted = object.clone();
                lopdf::encryption::encrypt_object(state, id, &mut encrypted)
                    .map_err(|e| EmbedError::Damaged(format!("cannot encrypt: {e}")))?;
                write_indirect(&mut out.update, id, &encrypted);
            }
            None => write_indirect(&mut out.update, id, object),
        }
    }
    Ok(offsets)
}

/// Ends an update: the cross-reference section for `offsets`, of the original's kind, and a
/// trailer whose `/Prev` points at the original's.
pub(super) fn finish_update(
    out: &mut UpdatedPdf,
    doc: &Document,
    catalog_id: ObjectId,
    mut offsets: Vec<(u32, u16, usize)>,
    encryption: Option<&lopdf::EncryptionState>,
) {
    let prev = doc.xref_start;
    let size = doc.max_id + 1;
    let mut trailer = Dictionary::new();
    trailer.set("Size", i64::from(size));
    trailer.set("Root", catalog_id);
    for key in [b"Info".as_slice(), b"ID", b"Encrypt"] {
        if let Ok(value) = doc.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    // lopdf takes /Encrypt out of the trailer when it decrypts; every update must repeat it.
    if let Some(encrypt_id) = encryption.and_then(|s| s.encrypt_object_id()) {
        trailer.set("Encrypt", encrypt_id);
    }
    trailer.set("Prev", prev as i64);
    match doc.reference_table.cross_reference_type {
        XrefType::CrossReferenceTable => write_xref_table(out, &offsets, &trailer),
        XrefType::CrossReferenceStream => write_xref_stream(out, &mut offsets, trailer, size),
    }
}

/// The field part of the signature: type, name, value.
fn field_dictionary(field: &SignatureField, sig_id: ObjectId) -> Dictionary {
    let mut dict = Dictionary::new();
    dict.set("FT", Object::Name(b"Sig".to_vec()));
    dict.set("T", text_string(&field.name));
    dict.set("V", sig_id);
    dict
}

/// A printable, locked widget annotation with its appearance.
fn widget_dictionary(widget: &Widget, page_id: ObjectId) -> Dictionary {
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"Annot".to_vec()));
    dict.set("Subtype", Object::Name(b"Widget".to_vec()));
    dict.set("F", 132); // Print + Locked
    dict.set("P", page_id);
    dict.set(
        "Rect",
        Object::Array(widget.rect.iter().map(|v| Object::Real(*v)).collect()),
    );
    let mut ap = Dictionary::new();
    ap.set("N", widget.appearance);
    dict.set("AP", ap);
    dict
}

/// Adds the widget to the page's `/Annots`; returns the id of the object that changed.
fn add_annotation(
    doc: &mut Document,
    page_id: ObjectId,
    widget_id: ObjectId,
) -> Result<ObjectId, EmbedError> {
    let annots = doc
        .get_dictionary(page_id)
        .map_err(|_| EmbedError::Damaged("a page is not a dictionary".into()))?
        .get(b"Annots")
        .ok()
        .cloned();
    match annots {
        Some(Object::Reference(array_id)) => {
            let array = doc
                .get_object_mut(array_id)
                .and_then(Object::as_array_mut)
                .map_err(|_| EmbedError::Damaged("a page's /Annots is not an array".into()))?;
            array.push(Object::Reference(widget_id));
            Ok(array_id)
        }
        other => {
            let mut array = match other {
                Some(Object::Array(array)) => array,
                _ => vec![],
            };
            array.push(Object::Reference(widget_id));
            let page = doc
                .get_dictionary_mut(page_id)
                .map_err(|_| EmbedError::Damaged("a page is not a dictionary".into()))?;
            page.set("Annots", array);
            Ok(page_id)
        }
    }
}

/// Lists the field in the catalog's `/AcroForm` (creating it if needed) with `/SigFlags 3`;
/// returns the ids of the objects that changed (the form or catalog, and `/Fields` when that
/// array is an object of its own).
fn register_field(
    doc: &mut Document,
    catalog_id: ObjectId,
    widget_id: ObjectId,
) -> Result<Vec<ObjectId>, EmbedError> {
    let acroform = doc
        .get_dictionary(catalog_id)
        .map_err(|_| EmbedError::Damaged("the catalog is not a dictionary".into()))?
        .get(b"AcroForm")
        .ok()
        .cloned();
    let (form_id, mut form) = match acroform {
        Some(Object::Reference(form_id)) => {
            let form = doc
                .get_dictionary(form_id)
                .map_err(|_| EmbedError::Damaged("/AcroForm is not a dictionary".into()))?
                .clone();
            (Some(form_id), form)
        }
        Some(Object::Dictionary(form)) => (None, form),
        _ => (None, Dictionary::new()),
    };
    let mut changed = vec![];
    match form.get(b"Fields").ok().cloned() {
        Some(Object::Reference(fields_id)) => {
            doc.get_object_mut(fields_id)
                .and_then(Object::as_array_mut)
                .map_err(|_| EmbedError::Damaged("/AcroForm /Fields is not an array".into()))?
                .push(Object::Reference(widget_id));
            changed.push(fields_id);
        }
        other => {
            let mut array = match other {
                Some(Object::Array(array)) => array,
                _ => vec![],
            };
            array.push(Object::Reference(widget_id));
            form.set("Fields", array);
        }
    }
    form.set("SigFlags", 3);
    match form_id {
        Some(form_id) => {
            doc.objects.insert(form_id, Object::Dictionary(form));
            changed.push(form_id);
        }
        None => {
            doc.get_dictionary_mut(catalog_id)
                .map_err(|_| EmbedError::Damaged("the catalog is not a dictionary".into()))?
                .set("AcroForm", form);
            changed.push(catalog_id);
        }
    }
    Ok(changed)
}

/// A PDF text string: PDFDocEncoding-compatible ASCII as a literal, anything else UTF-16BE.
fn text_string(text: &str) -> Object {
    if text.is_ascii() {
        Object::String(text.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// PDF date string `D:YYYYMMDDHHmmSS+HH'mm'`.
pub fn pdf_date(at: OffsetDateTime) -> String {
    let offset = at.offset();
    let (h, m, _) = offset.as_hms();
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{}{:02}'{:02}'",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        if offset.is_negative() { '-' } else { '+' },
        h.unsigned_abs(),
        m.unsigned_abs(),
    )
}

/// Writes the signature dictionary with a zeroed `/Contents` of `capacity` bytes and a
/// fixed-width `/ByteRange` placeholder; returns the offsets of the hex digits. In an
/// encrypted document its text strings are encrypted, `/Contents` never is (ISO 32000-2
/// 7.6.2).
fn write_signature_dictionary(
    out: &mut Vec<u8>,
    id: ObjectId,
    kind: SignatureKind<'_>,
    capacity: usize,
    encryption: Option<&lopdf::EncryptionState>,
) -> Result<(usize, usize), EmbedError> {
    let mut texts = Dictionary::new();
    let (type_name, sub_filter) = match kind {
        SignatureKind::Signature(info) => {
            texts.set("M", text_string(&pdf_date(info.signing_time)));
            texts.set("Name", text_string(&info.signer_name));
            texts.set("Reason", text_string(&info.reason));
            texts.set("Location", text_string(&info.location));
            ("Sig", "ETSI.CAdES.detached")
        }
        SignatureKind::DocumentTimestamp => ("DocTimeStamp", "ETSI.RFC3161"),
    };
    let mut texts = Object::Dictionary(texts);
    if let Some(state) = encryption {
        lopdf::encryption::encrypt_object(state, id, &mut texts)
            .map_err(|e| EmbedError::Damaged(format!("cannot encrypt: {e}")))?;
    }
    let placeholder = format!("{:>width$}", 0, width = BYTE_RANGE_DIGITS);
    let _ = write!(
        out,
        "{} {} obj\n<</Type/{type_name}/Filter/Adobe.PPKLite/SubFilter/{sub_filter}/ByteRange [0 {p} {p} {p}]/Contents <",
        id.0,
        id.1,
        p = placeholder
    );
    let contents_start = out.len();
    out.resize(contents_start + capacity * 2, b'0');
    let contents_end = out.len();
    out.push(b'>');
    if let Object::Dictionary(texts) = &texts {
        for (key, value) in texts.iter() {
            write_name(out, key);
            out.push(b' ');
            write_object(out, value);
        }
    }
    out.extend_from_slice(b">>\nendobj\n");
    Ok((contents_start, contents_end))
}

/// Fills the `/ByteRange` placeholder (which sits just before `/Contents`) with the real
/// numbers, right-aligned in the reserved width so that no byte moves.
fn patch_byte_range(update: &mut PreparedUpdate) {
    let [_, b1, c1, d1] = update.byte_range();
    let marker = b"/ByteRange [0 ";
    let search_from = update.contents_start.saturating_sub(256);
    let Some(found) = update.file.update[search_from..update.contents_start]
        .windows(marker.len())
        .rposition(|w| w == marker)
    else {
        return;
    };
    let mut at = search_from + found + marker.len();
    for value in [b1, c1, d1] {
        let text = format!("{:>width$}", value, width = BYTE_RANGE_DIGITS);
        update.file.update[at..at + BYTE_RANGE_DIGITS].copy_from_slice(text.as_bytes());
        at += BYTE_RANGE_DIGITS + 1;
    }
}

/// `id gen obj … endobj`.
fn write_indirect(out: &mut Vec<u8>, id: ObjectId, object: &Object) {
    let _ = writeln!(out, "{} {} obj", id.0, id.1);
    write_object(out, object);
    out.extend_from_slice(b"\nendobj\n");
}

/// Classic cross-reference table for the update, grouped into runs of consecutive ids.
fn write_xref_table(file: &mut UpdatedPdf, offsets: &[(u32, u16, usize)], trailer: &Dictionary) {
    let start = file.offset();
    let out = &mut file.update;
    let mut entries = offsets.to_vec();
    entries.sort_unstable();
    out.extend_from_slice(b"xref\n");
    for run in runs(&entries) {
        let _ = writeln!(out, "{} {}", run[0].0, run.len());
        for (_, generation, offset) in run {
            let _ = write!(out, "{offset:010} {generation:05} n\r\n");
        }
    }
    out.extend_from_slice(b"trailer\n");
    write_object(out, &Object::Dictionary(trailer.clone()));
    let _ = write!(out, "\nstartxref\n{start}\n%%EOF\n");
}

/// Cross-reference stream for the update (for originals that use one), uncompressed.
fn write_xref_stream(
    file: &mut UpdatedPdf,
    offsets: &mut Vec<(u32, u16, usize)>,
    mut trailer: Dictionary,
    size: u32,
) {
    let start = file.offset();
    let out = &mut file.update;
    offsets.push((size, 0, start));
    offsets.sort_unstable();
    let mut index = vec![];
    let mut data = Vec::with_capacity(offsets.len() * 7);
    for run in runs(offsets) {
        index.push(Object::Integer(i64::from(run[0].0)));
        index.push(Object::Integer(run.len() as i64));
        for (_, generation, offset) in run {
            data.push(1);
            data.extend_from_slice(&(*offset as u32).to_be_bytes());
            data.extend_from_slice(&generation.to_be_bytes());
        }
    }
    trailer.set("Type", Object::Name(b"XRef".to_vec()));
    trailer.set("Size", i64::from(size + 1));
    trailer.set("Index", index);
    trailer.set(
        "W",
        vec![Object::Integer(1), Object::Integer(4), Object::Integer(2)],
    );
    let stream = lopdf::Stream::new(trailer, data);
    write_indirect(out, (size, 0), &Object::Stream(stream));
    let _ = write!(out, "startxref\n{start}\n%%EOF\n");
}

/// Splits sorted entries into runs of consecutive object numbers.
fn runs(entries: &[(u32, u16, usize)]) -> Vec<&[(u32, u16, usize)]> {
    let mut runs = vec![];
    let mut begin = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].0 != entries[i - 1].0 + 1 {
            runs.push(&entries[begin..i]);
            begin = i;
        }
    }
    runs
}

/// Serialises one PDF object.
///
/// Hand-written because lopdf 0.44 keeps its `Writer` private and its `IncrementalDocument`
/// copies the whole input and re-emits a `%PDF` header inside the update; a signature needs
/// byte-exact control of what follows the original.
fn write_object(out: &mut Vec<u8>, object: &Object) {
    match object {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Boolean(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
        Object::Integer(value) => {
            let _ = write!(out, "{value}");
        }
        Object::Real(value) => write_real(out, *value),
        Object::Name(name) => write_name(out, name),
        Object::String(bytes, format) => write_string(out, bytes, *format),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item);
            }
            out.push(b']');
        }
        Object::Dictionary(dict) => write_dictionary(out, dict),
        Object::Stream(stream) => {
            let mut dict = stream.dict.clone();
            dict.set("Length", stream.content.len() as i64);
            write_dictionary(out, &dict);
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&stream.content);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Reference((id, generation)) => {
            let _ = write!(out, "{id} {generation} R");
        }
    }
}

fn write_dictionary(out: &mut Vec<u8>, dict: &Dictionary) {
    out.extend_from_slice(b"<<");
    for (key, value) in dict.iter() {
        write_name(out, key);
        out.push(b' ');
        write_object(out, value);
    }
    out.extend_from_slice(b">>");
}

/// The shortest decimal that reads back as the same `f32` (Rust prints floats without an
/// exponent, which PDF does not allow), so that a value the update copies from an earlier revision, such as a page's
/// `/MediaBox [0 0 595.27563 841.88983]`, keeps its value: rounding it would be a change to
/// the document that every earlier signature's validator reports.
fn write_real(out: &mut Vec<u8>, value: f32) {
    if value.is_finite() && value != 0.0 {
        let _ = write!(out, "{value}");
    } else {
        out.push(b'0');
    }
}

fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    out.push(b'/');
    for &byte in name {
        let regular = byte.is_ascii_graphic() && !b"#()<>[]{}/%".contains(&byte);
        if regular {
            out.push(byte);
        } else {
            let _ = write!(out, "#{byte:02X}");
        }
    }
}

fn write_string(out: &mut Vec<u8>, bytes: &[u8], format: StringFormat) {
    match format {
        StringFormat::Hexadecimal => {
            out.push(b'<');
            for byte in bytes {
                let _ = write!(out, "{byte:02X}");
            }
            out.push(b'>');
        }
        StringFormat::Literal => {
            out.push(b'(');
            for &byte in bytes {
                match byte {
                    b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    _ => out.push(byte),
                }
            }
            out.push(b')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_real;

    #[test]
    fn reals_read_back_as_the_same_value() {
        let written = |value: f32| {
            let mut out = Vec::new();
            write_real(&mut out, value);
            String::from_utf8(out).unwrap()
        };
        for value in [595.275_63_f32, 841.889_83, 0.1, 1.0e-7, 123_456.79, -72.5] {
            let text = written(value);
            assert!(!text.contains('e'), "{text}");
            assert_eq!(text.parse::<f32>().unwrap(), value, "{text}");
        }
        assert_eq!(written(595.275_63), "595.27563");
        assert_eq!(written(600.0), "600");
        assert_eq!(written(-0.0), "0");
        assert_eq!(written(f32::NAN), "0");
    }
}
