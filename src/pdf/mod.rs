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
pub mod structure;
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
    /// The cross-reference table can be read two ways ([`structure`]): viewers and this
    /// service would read different documents.
    #[error("the PDF's cross-reference table is ambiguous ({0}): a viewer may show other content than would be sealed; repair the file first (for example with `qpdf in.pdf out.pdf`)")]
    Ambiguous(String),
}

/// Opens a PDF from memory, safely: a panic in the parser on hostile input becomes
/// [`LoadError::Unreadable`], and encrypted files are refused (even with an empty user
/// password, which lopdf would silently apply).
pub fn load(pdf: &[u8]) -> Result<Document, LoadError> {
    let doc = parse(pdf, LoadOptions::default())?;
    if declares_encryption(&doc) || doc.encryption_state.is_some() {
        return Err(LoadError::Encrypted);
    }
    Ok(doc)
}

/// Opens a PDF that may be encrypted, decrypting it with the user `password` (the empty
/// password when none is given). The document keeps its encryption state, so that what is
/// added to it can be encrypted the same way.
pub fn load_for_update(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    parse_decrypted(pdf, password, None)
}

/// Opens a PDF to sign it: as [`load_for_update`], but without what a signature update
/// neither reads nor writes back: streams (page contents, images, embedded files) and fonts
/// (whose width arrays lopdf holds at many times their size in the file). The document then
/// holds little more than the page tree and the forms, however large the file. Object streams
/// are kept, for lopdf reads the objects packed in them afterwards. An encrypted file is still
/// read whole: lopdf 0.44 applies no filter when it decrypts. An ambiguous file is refused:
/// what is signed must be what a viewer shows.
pub fn load_for_signing(pdf: &[u8], password: Option<&str>) -> Result<Document, LoadError> {
    let doc = parse_decrypted(pdf, password, Some(signing_filter))?;
    match structure::ambiguities(pdf, &doc).first() {
        Some(ambiguity) => Err(LoadError::Ambiguous(ambiguity.to_string())),
        None => Ok(doc),
    }
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

/// Whether the trailer names an encryption dictionary (`/Encrypt null` does not).
fn declares_encryption(doc: &Document) -> bool {
    doc.trailer
        .get(b"Encrypt")
        .is_ok_and(|encrypt| !matches!(encrypt, Object::Null))
}

/// Parses `pdf`, decrypting it with the user `password` (the empty one when `None`). lopdf
/// takes a trailer's `/Encrypt null` for encryption and fails to decrypt: such a file is read
/// again as the unencrypted file it is.
fn parse_decrypted(
    pdf: &[u8],
    password: Option<&str>,
    filter: Option<lopdf::FilterFunc>,
) -> Result<Document, LoadError> {
    let options = LoadOptions {
        filter,
        ..LoadOptions::with_password(password.unwrap_or(""))
    };
    let doc = match parse(pdf, options) {
        Err(LoadError::Encrypted) => {
            let plain = parse(
                pdf,
                LoadOptions {
                    filter,
                    ..LoadOptions::default()
                },
            )?;
            if declares_encryption(&plain) {
                return Err(LoadError::Encrypted);
            }
            plain
        }
        parsed => parsed?,
    };
    if declares_encryption(&doc) && doc.encryption_state.is_none() {
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
    thread_local! {
        /// One compressor per thread, reset for each stream: making one allocates and zeroes
        /// about 300 KB of tables, a third of the instructions spent deflating a licence.
        static DEFLATE: std::cell::RefCell<flate2::Compress> =
            std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), true));
    }
    if stream.dict.has(b"Filter") {
        return;
    }
    let compressed = DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        // Only a result smaller than the content is kept, so the output can stop short of it;
        // a compression that does not finish within it leaves the stream as it is.
        let mut out = Vec::with_capacity(stream.content.len());
        match deflate.compress_vec(&stream.content, &mut out, flate2::FlushCompress::Finish) {
            Ok(flate2::Status::StreamEnd) => Some(out),
            _ => None,
        }
    });
    if let Some(compressed) = compressed {
        if compressed.len() < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(content: Vec<u8>) -> lopdf::Stream {
        lopdf::Stream::new(lopdf::Dictionary::new(), content)
    }

    #[test]
    fn flate_keeps_a_compression_only_when_it_is_smaller_and_reads_back() {
        let text: Vec<u8> = (0..2000)
            .flat_map(|n| format!("{n} 0 1 1 re\n").into_bytes())
            .collect();
        // Each stream compressed on this thread reuses one compressor: the second must come
        // out as the first did.
        for _ in 0..2 {
            let mut page = stream(text.clone());
            flate(&mut page);
            assert!(page.dict.has(b"Filter"));
            assert!(page.content.len() < text.len() / 3);
            assert_eq!(page.decompressed_content().expect("inflates"), text);
        }

        // Bytes that do not compress (a digest chain) stay as they were, unfiltered.
        let mut noise = Vec::new();
        let mut block = ring::digest::digest(&ring::digest::SHA256, b"seed");
        for _ in 0..200 {
            noise.extend_from_slice(block.as_ref());
            block = ring::digest::digest(&ring::digest::SHA256, block.as_ref());
        }
        let mut random = stream(noise.clone());
        flate(&mut random);
        assert!(!random.dict.has(b"Filter"));
        assert_eq!(random.content, noise);

        let mut empty = stream(Vec::new());
        flate(&mut empty);
        assert!(!empty.dict.has(b"Filter"));
    }

    #[test]
    fn a_filtered_stream_is_left_alone() {
        let mut filtered = stream(b"0 0 1 1 re\n".repeat(100));
        filtered.dict.set("Filter", "ASCIIHexDecode");
        flate(&mut filtered);
        assert_eq!(filtered.content, b"0 0 1 1 re\n".repeat(100));
    }
}
