//! QR codes (ISO/IEC 18004) at error-correction level M, as printed on licences and served as
//! images. fast_qr encodes them: it chooses the mask by the standard's penalty rules, as the
//! `qrcode` crate did, in about a sixth of the time (that choice was a fifth of issuing),
//! though it scores the column rules on the symbol before masking. Scoring is still most of
//! its time (about 0.5 ms for a licence's version-18 symbol); qrcodegen scores fully in three
//! times that, and skips scoring only when told the mask, which the standard does not intend.

use fast_qr::{QRBuilder, ECL};

/// The modules of an encoded QR code, without its quiet zone.
pub struct QrModules {
    width: usize,
    dark: Vec<bool>,
}

impl QrModules {
    /// Encodes `payload` as bytes at level M; `None` if it does not fit version 40 (2331 bytes).
    pub fn encode(payload: &[u8]) -> Option<QrModules> {
        let code = QRBuilder::new(payload).ecl(ECL::M).build().ok()?;
        let width = code.size;
        let dark = code.data[..width * width]
            .iter()
            .map(|m| m.value())
            .collect();
        Some(QrModules { width, dark })
    }

    /// Modules per side.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at `row`, `col` (from the top-left, both below [`QrModules::width`])
    /// is dark.
    pub fn is_dark(&self, row: usize, col: usize) -> bool {
        self.dark[row * self.width + col]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_with_an_independent_decoder() {
        let payload = "https://zhengyin.example/v/BL-91350100M000100Y43-0000001-01?c=eyJhbGciOi";
        let code = QrModules::encode(payload.as_bytes()).expect("fits");
        let quiet = 4;
        let side = code.width() + 2 * quiet;
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(side * 4, side * 4, |x, y| {
            let (row, col) = (y / 4, x / 4);
            let inside = (quiet..quiet + code.width()).contains(&row)
                && (quiet..quiet + code.width()).contains(&col);
            if inside && code.is_dark(row - quiet, col - quiet) {
                0
            } else {
                255
            }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, text) = grids[0].decode().expect("decodes");
        assert_eq!(text, payload);
        assert_eq!(
            meta.ecc_level, 0,
            "level M is ECC level 0 in rqrr's numbering"
        );
    }

    #[test]
    fn too_long_a_payload_is_refused() {
        assert!(QrModules::encode(&[b'a'; 2332]).is_none());
        assert!(QrModules::encode(&[b'a'; 2331]).is_some());
    }
}
