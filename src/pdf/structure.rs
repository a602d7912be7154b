//! Whether a PDF's cross-reference table says one thing: every entry in use points at the
//! object it names.
//!
//! A viewer finds object N through entry N. lopdf 0.44 instead reads every entry's offset and
//! files what it finds there under the `N G obj` header written at that offset, so an entry
//! that points at another object's header puts that copy in the other object's place. A later
//! unsigned update that replaces a page's content and adds one extra entry pointing at the
//! page's old content makes lopdf (and so anything built on it) see the old content while
//! every viewer shows the new: verification would call the altered file valid, and sealing
//! would sign a page other than the one shown. lopdf also drops the free entries of every
//! section, so an object a later section deletes stays in place for it, while a viewer reads a
//! reference to it as null (a signed field's appearance "deleted" that way disappears). Such
//! files are ambiguous: found here, they never verify as valid and are not sealed.
//!
//! Hand-written: lopdf does not expose the cross-reference sections, and no other crate here
//! reads them; only what decides between the two readings is parsed.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use lopdf::xref::XrefEntry;
use lopdf::{Document, Object};

/// At most this many cross-reference sections are followed (a `/Prev` chain is finite in any
/// file, but a hostile one may loop or be long).
const MAX_SECTIONS: usize = 100_000;

/// A way in which lopdf and a viewer would read different documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ambiguity {
    /// An entry points at another object's copy.
    Misdirected(MisdirectedEntry),
    /// The newest cross-reference section that lists `object` frees it, yet it is still
    /// referenced: a viewer reads those references as null, lopdf as an older copy.
    FreedButReferenced {
        /// The object number.
        object: u32,
    },
}

impl std::fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ambiguity::Misdirected(entry) => entry.fmt(f),
            Ambiguity::FreedButReferenced { object } => write!(
                f,
                "object {object} is deleted by a later cross-reference section but still referenced"
            ),
        }
    }
}

/// Every way in which lopdf's reading of `doc` (loaded from `pdf`) may differ from a viewer's.
pub fn ambiguities(pdf: &[u8], doc: &Document) -> Vec<Ambiguity> {
    let mut found: Vec<Ambiguity> = misdirected_entries(pdf, doc)
        .into_iter()
        .map(Ambiguity::Misdirected)
        .collect();
    found.extend(
        freed_but_referenced(pdf, doc)
            .into_iter()
            .map(|object| Ambiguity::FreedButReferenced { object }),
    );
    found
}

/// The objects lopdf holds whose newest cross-reference entry frees them, and that some other
/// object or the trailer still references.
fn freed_but_referenced(pdf: &[u8], doc: &Document) -> BTreeSet<u32> {
    let freed: BTreeSet<u32> = newest_states(pdf, doc)
        .into_iter()
        .filter(|&(number, in_use)| !in_use && number != 0 && held(doc, number).is_some())
        .map(|(number, _)| number)
        .collect();
    if freed.is_empty() {
        return freed;
    }
    let mut referenced = BTreeSet::new();
    let mut stack: Vec<&Object> = doc.trailer.iter().map(|(_, value)| value).collect();
    for (id, object) in &doc.objects {
        if !freed.contains(&id.0) {
            stack.push(object);
        }
    }
    while let Some(object) = stack.pop() {
        match object {
            Object::Reference(id) if freed.contains(&id.0) => {
                referenced.insert(id.0);
            }
            Object::Array(items) => stack.extend(items),
            Object::Dictionary(dict) => stack.extend(dict.iter().map(|(_, value)| value)),
            Object::Stream(stream) => stack.extend(stream.dict.iter().map(|(_, value)| value)),
            _ => {}
        }
    }
    referenced
}

/// The object lopdf holds under `number` (any generation).
fn held(doc: &Document, number: u32) -> Option<&Object> {
    let mut generations = doc.objects.range((number, 0)..=(number, u16::MAX));
    generations.next().map(|(_, object)| object)
}

/// Whether each object number is in use, as the newest cross-reference section listing it
/// says: the chain from the last `startxref` through `/XRefStm` and `/Prev`, tables and
/// streams alike.
fn newest_states(pdf: &[u8], doc: &Document) -> BTreeMap<u32, bool> {
    let mut states = BTreeMap::new();
    let mut pending: Vec<usize> = last_startxref(pdf).into_iter().collect();
    let mut visited = HashSet::new();
    while let Some(at) = pending.pop() {
        if !visited.insert(at) || visited.len() > MAX_SECTIONS {
            continue;
        }
        let Some(section) = read_section(pdf, doc, at) else {
            continue;
        };
        for (number, in_use) in section.entries {
            states.entry(number).or_insert(in_use);
        }
        // The table's stream (a hybrid file) before the older sections.
        pending.extend(section.prev);
        pending.extend(section.stream);
    }
    states
}

/// One cross-reference section: its entries (number, in use) and where the next ones are.
struct Section {
    entries: Vec<(u32, bool)>,
    prev: Option<usize>,
    stream: Option<usize>,
}

/// The offset the last `startxref` gives.
fn last_startxref(pdf: &[u8]) -> Option<usize> {
    let at = pdf.windows(9).rposition(|w| w == b"startxref")?;
    let (digits, _) = leading_digits(pdf[at + 9..].trim_ascii_start())?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The section at `at`: a table (`xref` … `trailer << … >>`) or a cross-reference stream.
fn read_section(pdf: &[u8], doc: &Document, at: usize) -> Option<Section> {
    let text = pdf.get(at..)?.trim_ascii_start();
    match text.strip_prefix(b"xref") {
        Some(table) => read_table(table),
        None => read_stream(pdf, doc, at),
    }
}

fn read_table(mut text: &[u8]) -> Option<Section> {
    let mut entries = Vec::new();
    loop {
        text = text.trim_ascii_start();
        if text.starts_with(b"trailer") {
            break;
        }
        let (start, rest) = number(text)?;
        let (count, rest) = number(rest.trim_ascii_start())?;
        text = rest;
        for index in 0..count {
            text = text.trim_ascii_start();
            let (_offset, rest) = leading_digits(text)?;
            let (_generation, rest) = leading_digits(rest.trim_ascii_start())?;
            let rest = rest.trim_ascii_start();
            let in_use = match rest.first()? {
                b'n' => true,
                b'f' => false,
                _ => return None,
            };
            entries.push((u32::try_from(start + index).ok()?, in_use));
            text = &rest[1..];
        }
    }
    let trailer = &text[..text
        .windows(9)
        .position(|w| w == b"startxref")
        .unwrap_or(text.len())];
    Some(Section {
        entries,
        prev: integer_after(trailer, b"/Prev"),
        stream: integer_after(trailer, b"/XRefStm"),
    })
}

fn read_stream(pdf: &[u8], doc: &Document, at: usize) -> Option<Section> {
    let (number, _) = object_header_at(pdf, at)?;
    let stream = held(doc, number)?.as_stream().ok()?;
    let integers = |key: &[u8]| -> Option<Vec<usize>> {
        stream
            .dict
            .get(key)
            .ok()?
            .as_array()
            .ok()?
            .iter()
            .map(|n| usize::try_from(n.as_i64().ok()?).ok())
            .collect()
    };
    let widths = integers(b"W")?;
    let [type_width, _, _] = widths[..] else {
        return None;
    };
    let row = widths.iter().sum::<usize>();
    let size = usize::try_from(stream.dict.get(b"Size").ok()?.as_i64().ok()?).ok()?;
    let index = integers(b"Index").unwrap_or_else(|| vec![0, size]);
    let data = stream.decompressed_content().ok()?;
    let mut rows = data.chunks_exact(row.max(1));
    let mut entries = Vec::new();
    for pair in index.chunks_exact(2) {
        for number in pair[0]..pair[0].checked_add(pair[1])? {
            let fields = rows.next()?;
            // A missing type field means type 1 (in use).
            let kind = fields[..type_width]
                .iter()
                .fold(if type_width == 0 { 1 } else { 0 }, |n, &b| {
                    n * 256 + usize::from(b)
                });
            entries.push((u32::try_from(number).ok()?, kind != 0));
        }
    }
    let prev = stream.dict.get(b"Prev").ok().and_then(|p| p.as_i64().ok());
    Some(Section {
        entries,
        prev: prev.and_then(|p| usize::try_from(p).ok()),
        stream: None,
    })
}

/// The unsigned integer after `key` in `text` (a trailer dictionary).
fn integer_after(text: &[u8], key: &[u8]) -> Option<usize> {
    let at = text.windows(key.len()).position(|w| w == key)?;
    number(text[at + key.len()..].trim_ascii_start()).map(|(n, _)| n)
}

/// The unsigned integer at the start of `text`, and what follows.
fn number(text: &[u8]) -> Option<(usize, &[u8])> {
    let (digits, rest) = leading_digits(text)?;
    Some((std::str::from_utf8(digits).ok()?.parse().ok()?, rest))
}

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
fn misdirected_entries(pdf: &[u8], doc: &Document) -> Vec<MisdirectedEntry> {
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
    /// replaces object `replace.0` with `replace.1`, adds, for each `(entry, target)` in
    /// `extra`, an entry numbered `entry` pointing at the original copy of object `target`,
    /// and frees the objects `freed`.
    fn with_update(
        objects: &[&str],
        replace: (u32, &str),
        extra: &[(u32, u32)],
        freed: &[u32],
    ) -> Vec<u8> {
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
        let mut entries = vec![(number, replaced_at, 'n')];
        for &(entry, target) in extra {
            entries.push((entry, offsets[target as usize - 1], 'n'));
        }
        entries.extend(freed.iter().map(|&entry| (entry, 0, 'f')));
        entries.sort();
        let xref = pdf.len();
        pdf.extend(b"xref\n".to_vec());
        for (entry, offset, kind) in &entries {
            pdf.extend(format!("{entry} 1\n{offset:010} 00000 {kind}\r\n").into_bytes());
        }
        let new_size = entries
            .iter()
            .map(|(e, ..)| *e as usize + 1)
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
        let shadowed = with_update(&PAGE, (4, changed), &[(9, 4)], &[]);
        let doc = Document::load_mem(&shadowed).unwrap();
        // lopdf itself files the old copy under number 4: what this module exists for.
        let content = doc.get_object((4, 0)).unwrap().as_stream().unwrap();
        assert!(content.content.starts_with(b"BT (paid)"));
        let found = misdirected_entries(&shadowed, &doc);
        assert_eq!(ambiguities(&shadowed, &doc).len(), 1);
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

        let honest = with_update(&PAGE, (4, changed), &[], &[]);
        let doc = Document::load_mem(&honest).unwrap();
        assert_eq!(misdirected_entries(&honest, &doc), []);
    }

    #[test]
    fn entries_at_nothing_or_at_the_same_copy_are_not_misdirected() {
        // Entry 9 points at object 2's only copy, which entry 2 points at too: harmless.
        let pdf = with_update(&PAGE, (4, PAGE[3]), &[(9, 2)], &[]);
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

    #[test]
    fn a_deleted_object_still_referenced_is_found() {
        // The update frees the page's content: a viewer shows an empty page, lopdf the old one.
        let mut objects = PAGE.to_vec();
        objects.push("<< /Unused true >>");
        let hidden = with_update(&objects, (2, PAGE[1]), &[], &[4]);
        let doc = Document::load_mem(&hidden).unwrap();
        assert!(doc.get_object((4, 0)).is_ok(), "lopdf keeps what was freed");
        assert_eq!(
            ambiguities(&hidden, &doc),
            [Ambiguity::FreedButReferenced { object: 4 }]
        );
        assert!(ambiguities(&hidden, &doc)[0]
            .to_string()
            .contains("object 4 is deleted"));

        // Deleting what nothing references is ordinary editing.
        let tidied = with_update(&objects, (2, PAGE[1]), &[], &[5]);
        let doc = Document::load_mem(&tidied).unwrap();
        assert_eq!(ambiguities(&tidied, &doc), []);
    }
}
