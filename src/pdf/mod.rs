//! PDF work, in the four separate steps pyHanko also separates: make a signature (`sign`),
//! lay out the appearance (`appearance`, with `font`), embed into the PDF (`embed`), and
//! validate (`validate`); plus `dss`, which adds validation data for long-term validity, and
//! `render`, which writes new documents (licences), with `qr` for their QR codes.

pub mod appearance;
pub mod dss;
pub mod embed;
pub mod font;
pub mod qr;
pub mod render;
pub mod revisions;
pub mod sign;
pub mod text_locate;
pub mod validate;

use lopdf::{Document, LoadOptions, Object, ObjectId};

/// Why a PDF could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// No `%PDF-` header near the start: not a PDF at all.
    #[error("the file is not a PDF (no %PDF- header)")]
    NotPdf,
    /// Encrypted, and no (correct) user password was given.
    #[error("the PDF is encrypted (password-protected): give its user password, or remove the protection")]
    Encrypted,
    /// A PDF whose structure the parser cannot read (broken cross-reference table, …).
    #[error("the PDF cannot be read: {0}")]
    Unreadable(String),
}

/// Opens a PDF from memory, safely: a panic in the parser on hostile input becomes
/// [`LoadError::Unreadable`], and encrypted files are refused (even with an empty user
/// password, which lopdf would silently apply).
pub fn load(pdf: &[u8]) -> Result<Document, LoadError> {
    let doc = parse(pdf, LoadOptions::default())?;
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() {
        return Err(LoadError::Encrypted);
    }
    Ok(doc)
}

/// Opens a PDF that may be encrypted, decrypting it with the user `password` (the empty
/// password when none is given). The document keeps its encryption state, so that what is
/// added to it can be encrypted the same way.
pub fn load_for_update(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    let options = LoadOptions::with_password(password.unwrap_or(""));
    decrypted(parse(pdf, options)?)
}

/// Opens a PDF to sign it: as [`load_for_update`], but without what a signature update
/// neither reads nor writes back: streams (page contents, images, embedded files) and fonts
/// (whose width arrays lopdf holds at many times their size in the file). The document then
/// holds little more than the page tree and the forms, however large the file. Object streams
/// are kept, for lopdf reads the objects packed in them afterwards. An encrypted file is still
/// read whole: lopdf 0.44 applies no filter when it decrypts.
pub fn load_for_signing(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    let options = LoadOptions {
        filter: Some(signing_filter),
        ..LoadOptions::with_password(password.unwrap_or(""))
    };
    decrypted(parse(pdf, options)?)
}

/// The filter of [`load_for_signing`]. lopdf 0.44 keeps the object it passed in and only
/// looks whether the answer is `None`; the clone is what the filter's signature asks for.
fn signing_filter(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    match object {
        Object::Stream(stream) if !stream.dict.has_type(b"ObjStm") => None,
        Object::Dictionary(dict) if dict.has_type(b"Font") || dict.has_type(b"FontDescriptor") => {
            None
        }
        _ => Some((id, object.clone())),
    }
}

/// `doc`, unless it is encrypted and could not be decrypted.
fn decrypted(doc: Document) -> Result<Document, LoadError> {
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return Err(LoadError::Encrypted);
    }
    Ok(doc)
}

fn parse(pdf: &[u8], options: LoadOptions) -> Result<Document, LoadError> {
    let head = pdf.get(..1024).unwrap_or(pdf);
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(LoadError::NotPdf);
    }
    let loaded = std::panic::catch_unwind(|| Document::load_mem_with_options(pdf, options))
        .map_err(|_| LoadError::Unreadable("the PDF parser crashed".into()))?;
    loaded.map_err(|e| match e {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => LoadError::Encrypted,
        e => LoadError::Unreadable(e.to_string()),
    })
}

/// Flate-compresses a stream that has no filter yet, when that makes it smaller. Uses the
/// fastest level: lopdf's own `Stream::compress` uses level 9, and deflating the page content
/// and font subset at that level was a third of the time of issuing a licence; level 1 takes a
/// fifth of the time for files about 12% larger.
pub(crate) fn flate(stream: &mut lopdf::Stream) {
    use std::io::Write;
    if stream.dict.has(b"Filter") {
        return;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(stream.content.len() / 2),
        flate2::Compression::fast(),
    );
    // Writing to memory cannot fail; if it did, the stream stays uncompressed, still valid.
    if encoder.write_all(&stream.content).is_err() {
        return;
    }
    if let Ok(compressed) = encoder.finish() {
        if compressed.len() < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
}
