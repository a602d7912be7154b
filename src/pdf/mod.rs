//! PDF work, in the four separate steps pyHanko also separates: make a signature (`sign`),
//! lay out the appearance (`appearance`, with `font`), embed into the PDF (`embed`), and
//! validate (`validate`); plus `dss`, which adds validation data for long-term validity, and
//! `render`, which writes new documents (licences).

pub mod appearance;
pub mod dss;
pub mod embed;
pub mod font;
pub mod render;
pub mod revisions;
pub mod sign;
pub mod text_locate;
pub mod validate;

use lopdf::Document;

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
    let doc = parse(pdf, None)?;
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() {
        return Err(LoadError::Encrypted);
    }
    Ok(doc)
}

/// Opens a PDF that may be encrypted, decrypting it with the user `password` (the empty
/// password when none is given). The document keeps its encryption state, so that what is
/// added to it can be encrypted the same way.
pub fn load_for_update(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    let doc = parse(pdf, Some(password.unwrap_or("")))?;
    if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
        return Err(LoadError::Encrypted);
    }
    Ok(doc)
}

fn parse(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    let head = pdf.get(..1024).unwrap_or(pdf);
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(LoadError::NotPdf);
    }
    let loaded = std::panic::catch_unwind(|| match password {
        Some(password) => {
            Document::load_mem_with_options(pdf, lopdf::LoadOptions::with_password(password))
        }
        None => Document::load_mem(pdf),
    })
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
