//! Licence PDFs kept compressed against a reference PDF: zstd with the reference as a
//! raw-content dictionary.
//!
//! Licences sealed with one seal from one template share most of their bytes: the template
//! text's font subset, the seal's impression and font, the certificate chain inside the
//! signature, the page's fixed content. Each file alone cannot use that (its streams are deflated
//! already), so a province's library stored every copy: 59 KB a business licence. The first PDF
//! sealed for a seal and kind is kept as sealed and becomes their *reference*; later ones are
//! kept as a zstd frame whose dictionary is the reference, which leaves what is their own.
//! Unpacking gives back the sealed bytes exactly; the frame carries a checksum that zstd checks.

use std::sync::OnceLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use super::StorageError;

/// zstd level for packing: the savings are the matches against the reference, which the
/// fastest level finds as well as slower ones; the rest is deflated already.
const LEVEL: i32 = 1;

/// The largest PDF a packed frame may unpack to; a frame claiming more is not one we wrote.
const MAX_UNPACKED: u64 = 256 << 20;

/// A reference PDF and the dictionaries made from it, each prepared once, when first needed.
pub struct PdfReference {
    identifier: String,
    pdf: Vec<u8>,
    encoder: OnceLock<EncoderDictionary<'static>>,
    decoder: OnceLock<DecoderDictionary<'static>>,
}

impl std::fmt::Debug for PdfReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfReference")
            .field("identifier", &self.identifier)
            .field("len", &self.pdf.len())
            .finish()
    }
}

impl PdfReference {
    /// The stored PDF of the licence version `identifier`, as a reference for others.
    pub fn new(identifier: &str, pdf: Vec<u8>) -> PdfReference {
        PdfReference {
            identifier: identifier.to_string(),
            pdf,
            encoder: OnceLock::new(),
            decoder: OnceLock::new(),
        }
    }

    /// Identifier of the licence version whose PDF this is.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// Compresses `pdf` against the reference.
    pub fn pack(&self, pdf: &[u8]) -> Result<Vec<u8>, StorageError> {
        let dictionary = self
            .encoder
            .get_or_init(|| EncoderDictionary::copy(&self.pdf, LEVEL));
        let mut compressor = Compressor::with_prepared_dictionary(dictionary)
            .and_then(|mut c| c.include_checksum(true).map(|()| c))
            .map_err(|e| packing_failed(&self.identifier, &e))?;
        compressor
            .compress(pdf)
            .map_err(|e| packing_failed(&self.identifier, &e))
    }

    /// The PDF that [`PdfReference::pack`] made `packed` from.
    pub fn unpack(&self, packed: &[u8]) -> Result<Vec<u8>, StorageError> {
        let corrupt = |why: &dyn std::fmt::Display| {
            StorageError::Corrupt(format!(
                "a PDF packed against {} does not unpack: {why}",
                self.identifier
            ))
        };
        let len = match zstd::zstd_safe::get_frame_content_size(packed) {
            Ok(Some(len)) if len <= MAX_UNPACKED => len,
            Ok(Some(len)) => return Err(corrupt(&format_args!("it claims {len} bytes"))),
            Ok(None) | Err(_) => return Err(corrupt(&"no zstd frame with its size")),
        };
        let dictionary = self
            .decoder
            .get_or_init(|| DecoderDictionary::copy(&self.pdf));
        let mut decompressor =
            Decompressor::with_prepared_dictionary(dictionary).map_err(|e| corrupt(&e))?;
        let pdf = decompressor
            .decompress(packed, usize::try_from(len).map_err(|e| corrupt(&e))?)
            .map_err(|e| corrupt(&e))?;
        if pdf.len() as u64 != len {
            return Err(corrupt(&"it is shorter than its frame says"));
        }
        Ok(pdf)
    }
}

fn packing_failed(reference: &str, e: &std::io::Error) -> StorageError {
    StorageError::Corrupt(format!("cannot pack a PDF against {reference}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two "PDFs" sharing a long stretch that neither compresses alone, as licences share
    /// their deflated font subsets.
    fn twins() -> (Vec<u8>, Vec<u8>) {
        let shared: Vec<u8> = (0u32..40_000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let own = |seed: u32| -> Vec<u8> {
            (0u32..2_000)
                .map(|i| (i.wrapping_add(seed).wrapping_mul(40_503) >> 7) as u8)
                .collect()
        };
        let mut first = b"%PDF-1.7\n".to_vec();
        first.extend_from_slice(&own(1));
        first.extend_from_slice(&shared);
        let mut second = b"%PDF-1.7\n".to_vec();
        second.extend_from_slice(&own(7));
        second.extend_from_slice(&shared);
        (first, second)
    }

    #[test]
    fn a_pdf_packed_against_a_reference_keeps_only_its_own_bytes_and_unpacks_exactly() {
        let (first, second) = twins();
        let reference = PdfReference::new("L1", first.clone());
        let packed = reference.pack(&second).unwrap();
        assert!(
            packed.len() < 2_500,
            "{} bytes packed of {}",
            packed.len(),
            second.len()
        );
        assert_eq!(reference.unpack(&packed).unwrap(), second);
        assert_ne!(packed[4] & 0b100, 0, "the frame carries a checksum");
        assert!(reference.pack(&first).unwrap().len() < 100);
    }

    #[test]
    fn a_frame_packed_against_another_reference_or_damaged_is_refused() {
        let (first, second) = twins();
        let packed = PdfReference::new("L1", first).pack(&second).unwrap();
        let other = PdfReference::new("L2", second.clone());
        assert!(matches!(
            other.unpack(&packed),
            Err(StorageError::Corrupt(_))
        ));
        let reference = PdfReference::new("L1", twins().0);
        let mut damaged = packed.clone();
        let last = damaged.len() - 6;
        damaged[last] ^= 0x20;
        assert!(matches!(
            reference.unpack(&damaged),
            Err(StorageError::Corrupt(_))
        ));
        assert!(matches!(
            reference.unpack(b"%PDF-1.7"),
            Err(StorageError::Corrupt(_))
        ));
    }
}
