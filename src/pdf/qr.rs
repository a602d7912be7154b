//! QR codes (ISO/IEC 18004) at error-correction level M, as printed on licences and served as
//! images.
//!
//! qrcodegen encodes the payload once, with mask 0. Any other mask gives the same symbol but
//! for its data modules' pattern and its format information, and neither depends on the
//! payload: each of the other seven symbols is the first XOR a difference taken once per
//! version from a reference symbol ([`MaskDifferences`]). The eight are then scored by the
//! standard's penalty rules (N1–N4) and the lowest kept, the first of equals.
//!
//! The scoring is written here because no crate does it both fully and fast: for a licence's
//! version-18 symbol qrcodegen took 1.6 ms, scoring as the standard describes, and fast_qr
//! 0.55 ms (a seventh of issuing a licence), scoring the column rules on the symbol before
//! masking; this takes about 0.44 ms, most of it walking the runs of 178 lines eight times.
//! The rules are read as qrcodegen reads them, and a unit test checks that both choose the
//! same mask and modules for a hundred payloads of every size.

use std::sync::OnceLock;

use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};

/// Penalty for each run of five same-coloured modules in a row or column (N1), plus one for
/// each module beyond five.
const RUN_OF_FIVE: u32 = 3;
/// Penalty for each 2×2 block of one colour (N2).
const BLOCK: u32 = 3;
/// Penalty for each finder-like 1:1:3:1:1 pattern with four light modules on a side (N3).
const FINDER_LIKE: u32 = 40;
/// Penalty for each 5% step of dark modules away from half, beyond the first (N4).
const IMBALANCE_STEP: u32 = 10;

/// The modules of an encoded QR code, without its quiet zone.
pub struct QrModules {
    width: usize,
    dark: Vec<bool>,
}

impl QrModules {
    /// Encodes `payload` as bytes at level M; `None` if it does not fit version 40 (2331 bytes).
    pub fn encode(payload: &[u8]) -> Option<QrModules> {
        let first = encode_with_mask(payload, Version::MIN, Version::MAX, 0)?;
        let base = Lines::of(&first);
        let differences = MaskDifferences::of(first.version());

        let mut best = base.clone();
        let mut best_score = base.penalty();
        let mut candidate = base.clone();
        for difference in &differences.0 {
            candidate.set_xor(&base, difference);
            let score = candidate.penalty();
            if score < best_score {
                best_score = score;
                std::mem::swap(&mut best, &mut candidate);
            }
        }
        let width = best.width;
        let dark = best
            .rows
            .iter()
            .flat_map(|row| (0..width).map(|column| row.bit(column)))
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

/// For one version, what turns its mask-0 symbol into the symbol with mask 1, 2, … 7: the
/// modules that differ.
struct MaskDifferences([Lines; 7]);

impl MaskDifferences {
    /// The differences for `version`, taken on first use from an empty payload's symbols.
    fn of(version: Version) -> &'static MaskDifferences {
        static BY_VERSION: [OnceLock<MaskDifferences>; 40] = [const { OnceLock::new() }; 40];
        BY_VERSION[usize::from(version.value() - 1)].get_or_init(|| {
            let reference = |mask| {
                let code = encode_with_mask(&[], version, version, mask)
                    .expect("an empty payload fits every version");
                Lines::of(&code)
            };
            let first = reference(0);
            MaskDifferences(std::array::from_fn(|n| {
                let mut difference = first.clone();
                difference.set_xor(&first, &reference(n as u8 + 1));
                difference
            }))
        })
    }
}

/// Encodes at level M with `mask` (0–7), in the smallest version from `min` to `max` that fits.
fn encode_with_mask(payload: &[u8], min: Version, max: Version, mask: u8) -> Option<QrCode> {
    let segments = [QrSegment::make_bytes(payload)];
    QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Medium,
        min,
        max,
        Some(Mask::new(mask)),
        false,
    )
    .ok()
}

/// One row or column of up to 192 modules (version 40 has 177), bit `i` for module `i`, set
/// for dark; bits past the symbol's width are clear.
#[derive(Clone, Copy, Default)]
struct Line([u64; 3]);

impl Line {
    fn bit(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn xor(&self, other: &Line) -> Line {
        Line(std::array::from_fn(|w| self.0[w] ^ other.0[w]))
    }

    /// Bit `i` becomes bit `i + 1`'s.
    fn shifted_down(&self) -> Line {
        let w = &self.0;
        Line([w[0] >> 1 | w[1] << 63, w[1] >> 1 | w[2] << 63, w[2] >> 1])
    }

    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Bit `i` becomes bit `i - 1`'s (bit 0 clear).
    fn shifted_up(&self) -> Line {
        let w = &self.0;
        Line([w[0] << 1, w[1] << 1 | w[0] >> 63, w[2] << 1 | w[1] >> 63])
    }

    /// N1 and N3 of this row or column, taken run by run. Beyond either end the symbol is light
    /// (its quiet zone), so the first and last light runs count as reaching that far.
    fn penalty(&self, width: usize) -> u32 {
        let mut score = 0;
        let mut history = RunHistory::new(width as u32);
        // Where a run starts: a module whose colour differs from the one before it, the first
        // module counting as following a light one (a line may start with a light run of none).
        let starts = self.xor(&self.shifted_up());
        let mut start = 0;
        let mut light = true;
        for (w, &word) in starts.0.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let at = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if at >= width {
                    break;
                }
                let length = (at - start) as u32;
                if length >= 5 {
                    score += RUN_OF_FIVE + (length - 5);
                }
                history.push(length);
                if light {
                    score += history.finder_like() * FINDER_LIKE;
                }
                light = !light;
                start = at;
            }
        }
        let mut length = (width - start) as u32;
        if length >= 5 {
            score += RUN_OF_FIVE + (length - 5);
        }
        if !light {
            history.push(length);
            length = 0;
        }
        history.push(length + history.border);
        score + history.finder_like() * FINDER_LIKE
    }
}

/// A symbol as bit rows and bit columns, so that a mask difference is a few word operations
/// and scoring walks runs, not modules.
#[derive(Clone)]
struct Lines {
    width: usize,
    rows: Vec<Line>,
    columns: Vec<Line>,
}

impl Lines {
    fn of(code: &QrCode) -> Lines {
        let size = code.size();
        let width = usize::try_from(size).unwrap_or(0);
        let mut lines = Lines {
            width,
            rows: vec![Line::default(); width],
            columns: vec![Line::default(); width],
        };
        for (y, row) in (0..size).zip(0..width) {
            for (x, column) in (0..size).zip(0..width) {
                if code.get_module(x, y) {
                    lines.rows[row].set(column);
                    lines.columns[column].set(row);
                }
            }
        }
        lines
    }

    /// Makes this `a` XOR `b` (all three the same width).
    fn set_xor(&mut self, a: &Lines, b: &Lines) {
        for ((out, a), b) in self.rows.iter_mut().zip(&a.rows).zip(&b.rows) {
            *out = a.xor(b);
        }
        for ((out, a), b) in self.columns.iter_mut().zip(&a.columns).zip(&b.columns) {
            *out = a.xor(b);
        }
    }

    /// The standard's penalty score.
    fn penalty(&self) -> u32 {
        let width = self.width;
        let lines = self.rows.iter().chain(&self.columns);
        let mut score: u32 = lines.map(|line| line.penalty(width)).sum();

        // A 2×2 block at columns c, c + 1 of two rows: both columns the same colour down, and
        // the upper row the same colour across (the last column has no right neighbour).
        let mut pairs = Line::default();
        for c in 0..width - 1 {
            pairs.set(c);
        }
        for two in self.rows.windows(2) {
            let down = two[0].xor(&two[1]);
            let across = two[0].xor(&two[0].shifted_down());
            let blocks: [u64; 3] = std::array::from_fn(|w| {
                !down.0[w] & !down.shifted_down().0[w] & !across.0[w] & pairs.0[w]
            });
            score += Line(blocks).count() * BLOCK;
        }

        let total = (width * width) as i64;
        let dark = i64::from(self.rows.iter().map(Line::count).sum::<u32>());
        let steps = ((dark * 20 - total * 10).abs() + total - 1) / total - 1;
        score + u32::try_from(steps).unwrap_or(0) * IMBALANCE_STEP
    }
}

/// The last seven runs of a line, for spotting a finder-like pattern as its last light run
/// closes. A ring: shifting an array on every run cost more than all the rest of scoring.
struct RunHistory {
    ring: [u32; 8],
    /// Where the newest run is.
    newest: usize,
    runs: usize,
    /// What the quiet zone adds to the first and last light runs: the line's length is enough
    /// for any pattern's four light modules.
    border: u32,
}

impl RunHistory {
    fn new(border: u32) -> RunHistory {
        RunHistory {
            ring: [0; 8],
            newest: 0,
            runs: 0,
            border,
        }
    }

    fn push(&mut self, length: u32) {
        self.newest = (self.newest + 7) % 8;
        self.ring[self.newest] = if self.runs == 0 {
            length + self.border
        } else {
            length
        };
        self.runs += 1;
    }

    /// The `age`-th newest run (0 the newest); 0 before the line had that many.
    fn run(&self, age: usize) -> u32 {
        if age < self.runs {
            self.ring[(self.newest + age) % 8]
        } else {
            0
        }
    }

    /// How many finder-like patterns (dark:light:dark:light:dark = 1:1:3:1:1 with four light
    /// modules before or after) end at the newest run: 0, 1 or 2.
    fn finder_like(&self) -> u32 {
        let n = self.run(1);
        let core = n > 0
            && self.run(2) == n
            && self.run(3) == 3 * n
            && self.run(4) == n
            && self.run(5) == n;
        if !core {
            return 0;
        }
        let (after, before) = (self.run(0), self.run(6));
        u32::from(after >= 4 * n && before >= n) + u32::from(before >= 4 * n && after >= n)
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
    fn the_mask_chosen_is_the_one_qrcodegen_chooses_by_scoring_every_mask() {
        // Payloads of many lengths (so many versions) and contents: letters as in a token,
        // and bytes from a digest chain.
        let mut digest = ring::digest::digest(&ring::digest::SHA256, b"qr");
        let mut masks_seen = [false; 8];
        for length in (0..700).step_by(7).chain([1200, 2331]) {
            let mut payload = Vec::with_capacity(length);
            while payload.len() < length {
                digest = ring::digest::digest(&ring::digest::SHA256, digest.as_ref());
                if length % 2 == 0 {
                    payload.extend(digest.as_ref().iter().map(|b| b'A' + b % 58));
                } else {
                    payload.extend_from_slice(digest.as_ref());
                }
            }
            payload.truncate(length);

            let ours = QrModules::encode(&payload).expect("fits");
            let theirs = QrCode::encode_segments_advanced(
                &[QrSegment::make_bytes(&payload)],
                QrCodeEcc::Medium,
                Version::MIN,
                Version::MAX,
                None,
                false,
            )
            .expect("fits");
            assert_eq!(ours.width() as i32, theirs.size(), "length {length}");
            masks_seen[usize::from(theirs.mask().value())] = true;
            let differing = (0..theirs.size())
                .flat_map(|y| (0..theirs.size()).map(move |x| (x, y)))
                .filter(|&(x, y)| ours.is_dark(y as usize, x as usize) != theirs.get_module(x, y))
                .count();
            assert_eq!(
                differing,
                0,
                "length {length}: qrcodegen chose mask {}",
                theirs.mask().value()
            );
        }
        assert!(
            masks_seen.iter().filter(|&&seen| seen).count() >= 6,
            "the payloads exercise most masks: {masks_seen:?}"
        );
    }

    #[test]
    fn too_long_a_payload_is_refused() {
        assert!(QrModules::encode(&[b'a'; 2332]).is_none());
        assert!(QrModules::encode(&[b'a'; 2331]).is_some());
    }
}
