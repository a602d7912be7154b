//! Whether a PDF's cross-reference table says one thing: every entry in use points at the
//! object it names.
//!
//! A viewer finds object N through entry N. lopdf 0.44 instead reads every entry's offset and
//! files what it finds there under the `N G obj` header written at that offset, so an entry
//! that points at another object's header puts that copy in the other object's place. A later
//! unsigned update that replaces a page's content and adds one extra entry pointing at the
//! page's old content makes lopdf (and so anything built on it) see the old content while
//! every viewer shows the new: verification would call the altered file valid, and sealing
//! would sign a page other than the one shown. Such a file is ambiguous: it is found here,
//! never verifies as valid, and is not sealed.

use lopdf::xref::XrefEntry;
use lopdf::Document;

/// An entry in use that points at the header of another object, and so makes lopdf see that
/// copy in the other object's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisdirectedEntry {
    /// The entry's object number.
    pub entry: u32,
    /// Where it points.
    pub offset: u32,
    /// The object whose header is there.
    pub found: u32,
}

impl std::fmt::Display for MisdirectedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cross-reference entry {} points at object {} (byte {})",
            self.entry, self.found, self.offset
        )
    }
}

/// The entries of `doc`'s cross-reference table (as lopdf merged it from every section) that
/// point at a copy of another object other than the one that object's own entry points at.
/// An entry pointing at the very copy its object's own entry points at changes nothing and is
/// not listed.
pub fn misdirected_entries(pdf: &[u8], doc: &Document) -> Vec<MisdirectedEntry> {
    let entries = &doc.reference_table.entries;
    let header_at = |entry: &XrefEntry| match *entry {
        XrefEntry::Normal { offset, .. } => {
            let (number, at) = object_header_at(pdf, offset as usize)?;
            Some((number, at, offset))
        }
        _ => None,
    };
    entries
        .iter()
        .filter_map(|(&entry, xref)| {
            let (found, at, offset) = header_at(xref)?;
            let own_copy = entries
                .get(&found)
                .and_then(header_at)
                .is_some_and(|(own, own_at, _)| own == found && own_at == at);
            (found != entry && !own_copy).then_some(MisdirectedEntry {
                entry,
                offset,
                found,
            })
        })
        .collect()
}

/// The number of the object whose `N G obj` header is at `offset` (after white space, as
/// lopdf reads it), if one is, and where the header starts.
fn object_header_at(pdf: &[u8], offset: usize) -> Option<(u32, usize)> {
    let rest = pdf.get(offset..)?;
    let skipped = rest.iter().position(|b| !b" \t\r\n".contains(b))?;
    let rest = &rest[skipped..];
    let (number, rest) = leading_digits(rest)?;
    let rest = rest.strip_prefix(b" ")?.trim_ascii_start();
    let (_generation, rest) = leading_digits(rest)?;
    rest.trim_ascii_start().starts_with(b"obj").then_some(())?;
    let number = std::str::from_utf8(number).ok()?.parse().ok()?;
    Some((number, offset + skipped))
}

/// The ASCII digits at the start of `bytes` (at least one, at most ten) and what follows.
fn leading_digits(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    (1..=10).contains(&end).then(|| bytes.split_at(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF of `objects` (numbered from 1; 1 is the catalog), then an incremental update that
    /// replaces object `replace.0` with `replace.1` and adds, for each `(entry, target)` in
    /// `extra`, an entry numbered `entry` pointing at the original copy of object `target`.
    fn with_update(objects: &[&str], replace: (u32, &str), extra: &[(u32, u32)]) -> Vec<u8> {
        let mut pdf = b"%PDF-1.7\n".to_vec();
        let mut offsets = vec![];
        for (i, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).into_bytes());
        }
        let size = objects.len() + 1;
        let first_xref = pdf.len();
        pdf.extend(format!("xref\n0 {size}\n0000000000 65535 f\r\n").into_bytes());
        for offset in &offsets {
            pdf.extend(format!("{offset:010} 00000 n\r\n").into_bytes());
        }
        pdf.extend(
            format!("trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{first_xref}\n%%EOF\n")
                .into_bytes(),
        );
        let (number, body) = replace;
        let replaced_at = pdf.len();
        pdf.extend(format!("{number} 0 obj\n{body}\nendobj\n").into_bytes());
        let mut entries = vec![(number, replaced_at)];
        for &(entry, target) in extra {
            entries.push((entry, offsets[target as usize - 1]));
        }
        entries.sort();
        let xref = pdf.len();
        pdf.extend(b"xref\n".to_vec());
        for (entry, offset) in &entries {
            pdf.extend(format!("{entry} 1\n{offset:010} 00000 n\r\n").into_bytes());
        }
        let new_size = entries
            .iter()
            .map(|(e, _)| *e as usize + 1)
            .max()
            .unwrap()
            .max(size);
        pdf.extend(
            format!(
                "trailer\n<< /Size {new_size} /Root 1 0 R /Prev {first_xref} >>\nstartxref\n{xref}\n%%EOF\n"
            )
            .into_bytes(),
        );
        pdf
    }

    const PAGE: [&str; 4] = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        "<< /Length 17 >>\nstream\nBT (paid) Tj ET  \nendstream",
    ];

    #[test]
    fn an_extra_entry_at_an_old_copy_is_found() {
        let changed = "<< /Length 17 >>\nstream\nBT (owed) Tj ET  \nendstream";
        let shadowed = with_update(&PAGE, (4, changed), &[(9, 4)]);
        let doc = Document::load_mem(&shadowed).unwrap();
        // lopdf itself files the old copy under number 4: what this module exists for.
        let content = doc.get_object((4, 0)).unwrap().as_stream().unwrap();
        assert!(content.content.starts_with(b"BT (paid)"));
        let found = misdirected_entries(&shadowed, &doc);
        assert_eq!(
            found,
            [MisdirectedEntry {
                entry: 9,
                offset: u32::try_from(shadowed.windows(7).position(|w| w == b"4 0 obj").unwrap())
                    .unwrap(),
                found: 4,
            }]
        );
        assert!(found[0].to_string().contains("entry 9 points at object 4"));

        let honest = with_update(&PAGE, (4, changed), &[]);
        let doc = Document::load_mem(&honest).unwrap();
        assert_eq!(misdirected_entries(&honest, &doc), []);
    }

    #[test]
    fn entries_at_nothing_or_at_the_same_copy_are_not_misdirected() {
        // Entry 9 points at object 2's only copy, which entry 2 points at too: harmless.
        let pdf = with_update(&PAGE, (4, PAGE[3]), &[(9, 2)]);
        let doc = Document::load_mem(&pdf).unwrap();
        assert_eq!(misdirected_entries(&pdf, &doc), []);
        assert_eq!(object_header_at(&pdf, 0), None);
        assert_eq!(object_header_at(&pdf, pdf.len() + 5), None);
        let at = pdf.windows(7).position(|w| w == b"3 0 obj").unwrap();
        assert_eq!(object_header_at(&pdf, at), Some((3, at)));
        assert_eq!(object_header_at(b"\n 12  0 obj <<>>", 0), Some((12, 2)));
        assert_eq!(object_header_at(b"12 0 ob", 0), None);
        assert_eq!(object_header_at(b"99999999999 0 obj", 0), None);
    }
}
