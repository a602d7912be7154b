//! Modification analysis for signed PDFs: what each incremental update after a signed revision
//! changed, in the spirit of pyHanko's `diff_analysis` and EU DSS's modification detection.
//!
//! Each revision prefix `pdf[..end]` is loaded as a document of its own and compared with the
//! revision before it. Objects that are new, freed or changed in value (streams by decoded
//! content, references by object number, generations ignored) are *dirty*; XRef and object
//! streams are plumbing and ignored. The new revision is then walked from its trailer along
//! what objects mean — catalog, page tree, pages and their annotations, the form and its
//! fields, signatures, the document security store — and every dirty object is judged by where
//! it is used: a new signature's appearance stream is signature-only, the same stream used by
//! page content is a content change. Dirty objects nothing uses (orphans) change nothing.
//!
//! Metadata: pyHanko accepts any change to `/Info` and any well-formed XMP `/Metadata` as a
//! long-term-archival update. We are stricter: what readers are shown the document is (title,
//! author, subject, keywords, creator…) may not change after sealing, so only the bookkeeping
//! every writer updates (pyHanko's signer too: modification and metadata dates, producer,
//! instance id) is let through, at level `None`; any other `/Info` entry or XMP property that
//! changes is a content change, as is XMP that cannot be read.

use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use lopdf::{Dictionary, Document, LoadOptions, Object, Stream};

/// Deepest page tree or field hierarchy walked; deeper structures count as a content change.
const MAX_DEPTH: usize = 64;
/// Largest decoded stream (bytes) loaded or compared; larger ones compare as stored.
const MAX_DECODED: usize = 64 << 20;
/// Most findings listed per revision.
const MAX_DETAILS: usize = 64;
/// XMP properties (local names) and `/Info` keys that writers update as bookkeeping.
const BOOKKEEPING: [&str; 6] = [
    "ModDate",
    "ModifyDate",
    "MetadataDate",
    "Producer",
    "InstanceID",
    "xmptk",
];

/// What an incremental update changed, from harmless to serious (ordered).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Nothing a reader sees: identical rewrites, unused objects, metadata bookkeeping.
    None,
    /// Signatures, document timestamps and their fields, widgets and appearances; the
    /// document security store (`/DSS`); form `/SigFlags` and `/DR`.
    SignatureOnly,
    /// Values and appearances of existing non-signature form fields.
    FormFill,
    /// Annotations other than signature widgets added, changed or removed; new form fields.
    Annotation,
    /// Anything else: page content or resources, pages, catalog, metadata, signed fields.
    ContentChange,
}

/// One incremental update after the signed revision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RevisionChange {
    /// Byte offset where this revision ends (just past its %%EOF line).
    pub end: usize,
    /// The most serious change in it.
    pub kind: ChangeKind,
    /// Human-readable findings, e.g. "page 1: /Contents changed", "new annotation /FreeText on
    /// page 1", "field 'name' value set".
    pub details: Vec<String>,
}

/// Why the revisions of a file could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// No `%PDF-` header near the start: not a PDF at all.
    #[error("the file is not a PDF (no %PDF- header)")]
    NotPdf,
    /// The signed range does not end where a revision of the file ends.
    #[error("the signed range ends at byte {0}, which is not the end of a revision")]
    NotRevisionEnd(usize),
    /// Encrypted, and no (correct) user password was given.
    #[error("the PDF is encrypted: give its user password")]
    Encrypted,
    /// A revision the parser cannot read.
    #[error("the revision ending at byte {end} cannot be read: {reason}")]
    Unreadable {
        /// Where that revision ends.
        end: usize,
        /// What the parser said.
        reason: String,
    },
}

/// End offsets of each revision of the file (after each %%EOF and its end-of-line), in order.
///
/// Only a `%%EOF` right after `startxref N` counts, with `N` not 0: linearized files end their
/// first-page section with `startxref 0`, and a `%%EOF` inside stream data has no `startxref`.
pub fn revision_ends(pdf: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    while let Some(pos) = find(pdf, b"%%EOF", from) {
        from = pos + 5;
        if after_startxref(&pdf[..pos]) {
            let eol = match &pdf[from..] {
                [b'\r', b'\n', ..] => 2,
                [b'\r' | b'\n', ..] => 1,
                _ => 0,
            };
            ends.push(from + eol);
        }
    }
    ends
}

/// Classifies each revision after `signed_end`. `password` is the user password of an
/// encrypted file.
///
/// `signed_end` (where the signature's `/ByteRange` ends) must be a revision end, give or take
/// trailing whitespace. Bytes after the last revision that form no complete revision are
/// reported as a content change.
pub fn changes_after(
    pdf: &[u8],
    signed_end: usize,
    password: Option<&str>,
) -> Result<Vec<RevisionChange>, DiffError> {
    if !pdf
        .get(..1024)
        .unwrap_or(pdf)
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Err(DiffError::NotPdf);
    }
    let ends = revision_ends(pdf);
    let gap_is_blank = |end: usize| {
        pdf.get(signed_end..end)
            .is_some_and(|gap| trim(gap).is_empty())
    };
    let base = ends
        .iter()
        .copied()
        .find(|&end| gap_is_blank(end))
        .ok_or(DiffError::NotRevisionEnd(signed_end))?;
    let mut changes = Vec::new();
    let mut old: Option<Revision> = None;
    for end in ends.into_iter().filter(|&end| end > base) {
        let previous = match old.take() {
            Some(previous) => previous,
            None => Revision::load(pdf, base, password)?,
        };
        let new = Revision::load(pdf, end, password)?;
        changes.push(Diff::run(&previous, &new, end));
        old = Some(new);
    }
    let last = changes.last().map_or(base, |change| change.end);
    if !trim(&pdf[last..]).is_empty() {
        let detail = format!(
            "{} bytes after the last %%EOF form no complete revision",
            pdf.len() - last
        );
        changes.push(RevisionChange {
            end: pdf.len(),
            kind: ChangeKind::ContentChange,
            details: vec![detail],
        });
    }
    Ok(changes)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let found = haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle);
    found.map(|pos| pos + from)
}

/// `bytes` without trailing PDF whitespace.
fn trim(bytes: &[u8]) -> &[u8] {
    let spaces = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace() || **b == 0)
        .count();
    &bytes[..bytes.len() - spaces]
}

/// Whether `before` ends with `startxref N`, `N` > 0.
fn after_startxref(before: &[u8]) -> bool {
    let text = trim(before);
    let digits = text.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let (head, number) = text.split_at(text.len() - digits);
    let keyword = trim(head);
    number.iter().any(|&b| b != b'0')
        && keyword.len() < head.len()
        && keyword.ends_with(b"startxref")
}

/// The objects of one revision by object number, and its trailer.
struct Revision {
    objects: BTreeMap<u32, Object>,
    trailer: Dictionary,
}

impl Revision {
    /// Loads `pdf[..end]`, decrypting it; a parser panic becomes an error.
    fn load(pdf: &[u8], end: usize, password: Option<&str>) -> Result<Self, DiffError> {
        let options = LoadOptions {
            password: password.map(str::to_owned),
            max_decompressed_size: Some(MAX_DECODED),
            ..LoadOptions::default()
        };
        let unreadable = |reason: String| DiffError::Unreadable { end, reason };
        let prefix = &pdf[..end];
        let doc = catch_unwind(AssertUnwindSafe(move || {
            Document::load_mem_with_options(prefix, options)
        }))
        .map_err(|_| unreadable("the PDF parser crashed".into()))?
        .map_err(|e| match e {
            lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => DiffError::Encrypted,
            e => unreadable(e.to_string()),
        })?;
        if doc.trailer.has(b"Encrypt") && doc.encryption_state.is_none() {
            return Err(DiffError::Encrypted);
        }
        let objects = doc
            .objects
            .into_iter()
            .map(|((num, _), obj)| (num, obj))
            .collect();
        Ok(Self {
            objects,
            trailer: doc.trailer,
        })
    }

    /// `obj`, or what it refers to.
    fn resolve<'r>(&'r self, obj: &'r Object) -> Option<&'r Object> {
        match obj {
            Object::Reference((num, _)) => self.objects.get(num),
            obj => Some(obj),
        }
    }

    fn dict<'r>(&'r self, obj: Option<&'r Object>) -> Option<&'r Dictionary> {
        obj.and_then(|obj| self.resolve(obj)).and_then(dict)
    }

    fn array<'r>(&'r self, obj: Option<&'r Object>) -> &'r [Object] {
        let array = obj
            .and_then(|obj| self.resolve(obj))
            .and_then(|obj| obj.as_array().ok());
        array.map_or(&[], Vec::as_slice)
    }
}

/// Where a dirty object is used, which decides how serious its change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Bookkeeping,
    Signature,
    Form,
    Annotation,
    Content,
    /// Appearance of a field signed before this update: new objects are fine, changed ones not.
    SealedAppearance,
}

impl Scope {
    fn kind(self, new_object: bool) -> ChangeKind {
        match self {
            Scope::Bookkeeping => ChangeKind::None,
            Scope::Signature => ChangeKind::SignatureOnly,
            Scope::Form => ChangeKind::FormFill,
            Scope::Annotation => ChangeKind::Annotation,
            Scope::SealedAppearance if new_object => ChangeKind::SignatureOnly,
            Scope::Content | Scope::SealedAppearance => ChangeKind::ContentChange,
        }
    }
}

/// A form field as seen from one of its widgets or from the field tree.
struct Field {
    name: String,
    sig: bool,
    /// Had a value (a signature, for signature fields) before this update.
    signed_before: bool,
}

/// The comparison of one update with the revision before it.
struct Diff<'a> {
    old: &'a Revision,
    new: &'a Revision,
    dirty: HashSet<u32>,
    visited: HashSet<(u32, Scope)>,
    kind: ChangeKind,
    details: Vec<String>,
}

impl<'a> Diff<'a> {
    fn run(old: &'a Revision, new: &'a Revision, end: usize) -> RevisionChange {
        let plumbing = |obj: &Object| {
            matches!(
                dict(obj).and_then(|d| name_of(d, b"Type")),
                Some(b"XRef" | b"ObjStm")
            )
        };
        let changed = |num, obj| old.objects.get(num).is_none_or(|was| !same(was, obj, 0));
        let mut dirty = HashSet::new();
        for (num, obj) in &new.objects {
            if !plumbing(obj) && changed(num, obj) {
                dirty.insert(*num);
            }
        }
        for (num, obj) in &old.objects {
            if !plumbing(obj) && !new.objects.contains_key(num) {
                dirty.insert(*num);
            }
        }
        let (visited, kind, details) = (HashSet::new(), ChangeKind::None, Vec::new());
        let mut diff = Diff {
            old,
            new,
            dirty,
            visited,
            kind,
            details,
        };
        diff.catalog();
        diff.info();
        RevisionChange {
            end,
            kind: diff.kind,
            details: diff.details,
        }
    }

    fn note(&mut self, kind: ChangeKind, detail: impl Into<String>) {
        let detail = detail.into();
        self.kind = self.kind.max(kind);
        if self.details.len() < MAX_DETAILS && !self.details.contains(&detail) {
            self.details.push(detail);
        }
    }

    /// The old object with the same number as the new `obj`, if `obj` is a reference.
    fn old_twin(&self, obj: &Object) -> Option<&'a Dictionary> {
        self.old.objects.get(&number(obj)?).and_then(dict)
    }

    /// Visits what `value` (of the new revision) reaches, stopping at pages, annotations,
    /// fields and signatures (judged where they are used), and reports dirty objects met.
    fn visit(&mut self, value: &'a Object, scope: Scope, label: &str) {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                Object::Reference((num, _)) => {
                    let target = self.new.objects.get(num);
                    let node = target.and_then(dict).is_some_and(is_node);
                    if node || !self.visited.insert((*num, scope)) {
                        continue;
                    }
                    let existed = self.old.objects.contains_key(num);
                    if self.dirty.contains(num) {
                        let detail = match (target, existed) {
                            (None, _) => format!("{label}: object {num} removed"),
                            (Some(_), false) => format!("{label}: new objects"),
                            (Some(_), true) => format!("{label}: object {num} changed"),
                        };
                        self.note(scope.kind(!existed), detail);
                    }
                    stack.extend(target);
                }
                Object::Array(items) => stack.extend(items),
                Object::Dictionary(d) | Object::Stream(Stream { dict: d, .. }) => {
                    let up = |key: &[u8]| matches!(key, b"Parent" | b"P");
                    stack.extend(d.iter().filter(|(k, _)| !up(k)).map(|(_, v)| v));
                }
                _ => {}
            }
        }
    }

    /// Compares the entry `key` of an object `owner` (shallowly) and visits the new value.
    fn entry(
        &mut self,
        old: Option<&Object>,
        new: Option<&'a Object>,
        scope: Scope,
        owner: &str,
        key: &[u8],
    ) {
        let key = text(key);
        let change = match (old, new) {
            (Some(_), None) => "removed",
            (None, Some(_)) => "added",
            (Some(old), Some(new)) if !same(old, new, 0) => "changed",
            _ => "",
        };
        if !change.is_empty() {
            self.note(scope.kind(false), format!("{owner}: /{key} {change}"));
        }
        if let Some(new) = new {
            self.visit(new, scope, &format!("{owner} /{key}"));
        }
    }

    /// The dictionary `key` of the old and of the new trailer.
    fn trailer(&self, key: &[u8]) -> (Option<&'a Dictionary>, Option<&'a Dictionary>) {
        let (old, new) = (self.old, self.new);
        (
            old.dict(get(&old.trailer, key)),
            new.dict(get(&new.trailer, key)),
        )
    }

    fn catalog(&mut self) {
        let (old, new) = self.trailer(b"Root");
        if new.is_none() {
            return self.note(ChangeKind::ContentChange, "the document catalog is missing");
        }
        for (key, o, n) in entries(old, new) {
            let scope = match key {
                b"Pages" => {
                    self.page_tree(o, n, 0, &mut 0, &mut HashSet::new());
                    continue;
                }
                b"AcroForm" => {
                    self.form(o, n);
                    continue;
                }
                b"DSS" | b"Extensions" | b"Perms" | b"Version" => Scope::Signature,
                b"Metadata" => {
                    let props = |rev: &Revision, obj: Option<&Object>| match obj
                        .and_then(|o| rev.resolve(o))
                    {
                        Some(Object::Stream(s)) => {
                            let xml = s.get_plain_content_with_limit(MAX_DECODED).ok()?;
                            xmp_properties(std::str::from_utf8(&xml).ok()?)
                        }
                        _ => None,
                    };
                    match (props(self.old, o), props(self.new, n)) {
                        (Some(was), Some(now)) if was == now => Scope::Bookkeeping,
                        _ => Scope::Content,
                    }
                }
                _ => Scope::Content,
            };
            self.entry(o, n, scope, "catalog", key);
        }
    }

    fn info(&mut self) {
        let (old, new) = self.trailer(b"Info");
        if old.is_some() && !self.new.trailer.has(b"Info") {
            // Readers fall back to the previous trailer's /Info (pypdf's updates omit it).
            return self.note(ChangeKind::None, "trailer: /Info omitted");
        }
        for (key, o, n) in entries(old, new) {
            let (o, n) = (
                o.and_then(|o| self.old.resolve(o)),
                n.and_then(|n| self.new.resolve(n)),
            );
            let bookkeeping = BOOKKEEPING.contains(&text(key).as_str());
            let scope = if bookkeeping {
                Scope::Bookkeeping
            } else {
                Scope::Content
            };
            self.entry(o, n, scope, "document information", key);
        }
    }

    /// Walks the page tree node `new` (was `old`), counting pages in `pages`.
    fn page_tree(
        &mut self,
        old: Option<&'a Object>,
        new: Option<&'a Object>,
        depth: usize,
        pages: &mut usize,
        seen: &mut HashSet<u32>,
    ) {
        let old = self.old.dict(old);
        if new.and_then(number).is_some_and(|num| !seen.insert(num)) || depth > MAX_DEPTH {
            return self.note(
                ChangeKind::ContentChange,
                "page tree is cyclic or nested too deeply",
            );
        }
        let Some(node) = self.new.dict(new) else {
            return self.note(ChangeKind::ContentChange, "page tree node missing");
        };
        let is_page = !node.has(b"Kids") && name_of(node, b"Type") != Some(b"Pages");
        *pages += usize::from(is_page);
        let owner = if is_page {
            format!("page {pages}")
        } else {
            "page tree".to_owned()
        };
        if is_page && old.is_none() {
            self.note(ChangeKind::ContentChange, format!("{owner} added"));
        }
        for (key, o, n) in entries(old, Some(node)) {
            match key {
                b"Parent" => {}
                b"Annots" if is_page => self.annots(*pages, o, n),
                b"Kids" if !is_page => {
                    let (was, now) = (self.old.array(o), self.new.array(n));
                    if was.len() != now.len() || was.iter().zip(now).any(|(a, b)| !same(a, b, 0)) {
                        self.note(
                            ChangeKind::ContentChange,
                            "page tree: pages added, removed or moved",
                        );
                    }
                    for kid in now {
                        let twin = number(kid).and_then(|num| self.old.objects.get(&num));
                        self.page_tree(twin, Some(kid), depth + 1, pages, seen);
                    }
                }
                _ => self.entry(o, n, Scope::Content, &owner, key),
            }
        }
    }

    fn annots(&mut self, page: usize, old: Option<&'a Object>, new: Option<&'a Object>) {
        let (old_items, new_items) = (self.old.array(old), self.new.array(new));
        let old_refs: HashSet<u32> = old_items.iter().filter_map(number).collect();
        let new_refs: HashSet<u32> = new_items.iter().filter_map(number).collect();
        for num in old_refs.difference(&new_refs) {
            let widget = self.old.objects.get(num).and_then(dict);
            let parent = widget.and_then(|w| self.old.dict(get(w, b"Parent")));
            match widget
                .into_iter()
                .chain(parent)
                .any(|d| name_of(d, b"FT") == Some(b"Sig"))
            {
                true => self.note(
                    ChangeKind::ContentChange,
                    format!("page {page}: signature widget removed"),
                ),
                false => self.note(
                    ChangeKind::Annotation,
                    format!("page {page}: annotation removed"),
                ),
            }
        }
        for (index, item) in new_items.iter().enumerate() {
            let Some(annot) = self.new.resolve(item).and_then(dict) else {
                continue;
            };
            let twin = match number(item) {
                Some(num) if old_refs.contains(&num) => self.old_twin(item),
                Some(_) => None,
                None => old_items
                    .get(index)
                    .filter(|old| number(old).is_none())
                    .and_then(dict),
            };
            self.annotation(page, number(item), twin, annot);
        }
    }

    fn annotation(
        &mut self,
        page: usize,
        num: Option<u32>,
        old: Option<&'a Dictionary>,
        new: &'a Dictionary,
    ) {
        let subtype = name_of(new, b"Subtype").unwrap_or(b"?");
        let merged = new.has(b"T") || new.has(b"FT");
        if subtype == b"Widget" || merged {
            let owner = match get(new, b"Parent").filter(|_| !merged) {
                Some(parent) => self
                    .new
                    .dict(Some(parent))
                    .map(|field| (field, self.old_twin(parent))),
                None if !merged => num.and_then(|num| self.kids_owner(num)),
                None => None,
            };
            let field = match owner {
                Some((field, old_field)) => self.field_info(old_field, field),
                None => self.field_info(old, new),
            };
            if old.is_none() {
                self.new_widget(&field, &format!(" on page {page}"));
            }
            return self.field_entries(old, new, &field);
        }
        let label = format!("annotation /{} on page {page}", text(subtype));
        match old {
            None => self.note(ChangeKind::Annotation, format!("new {label}")),
            Some(old) if !same_dict(old, new, &[], 0) => {
                self.note(ChangeKind::Annotation, format!("{label} changed"))
            }
            Some(_) => {}
        }
        for (key, value) in new.iter() {
            if !matches!(key.as_slice(), b"P" | b"Parent") {
                self.visit(value, Scope::Annotation, &label);
            }
        }
    }

    /// The field (new and previous version) whose `/Kids` lists widget `num`: how a widget
    /// without `/Parent` is tied to its field (see `embed`'s cross-page seals).
    fn kids_owner(&self, num: u32) -> Option<(&'a Dictionary, Option<&'a Dictionary>)> {
        let (owner, field) = self.new.objects.iter().find_map(|(owner, obj)| {
            let field = dict(obj)?;
            let kids = self.new.array(get(field, b"Kids"));
            kids.iter()
                .any(|kid| number(kid) == Some(num))
                .then_some((*owner, field))
        })?;
        Some((field, self.old.objects.get(&owner).and_then(dict)))
    }

    fn new_widget(&mut self, field: &Field, place: &str) {
        let (kind, what) = match (field.sig, field.signed_before) {
            (true, false) => (ChangeKind::SignatureOnly, "new signature widget"),
            (true, true) => (ChangeKind::ContentChange, "new widget of signed field"),
            (false, _) => (ChangeKind::Annotation, "new widget of field"),
        };
        self.note(kind, format!("{what} '{}'{place}", field.name));
    }

    /// Name and state of the field `new` (and `old`, its previous version).
    fn field_info(&self, old: Option<&Dictionary>, new: &'a Dictionary) -> Field {
        let (mut names, mut ft, mut cur) = (Vec::new(), None, Some(new));
        for _ in 0..MAX_DEPTH {
            let Some(d) = cur else { break };
            if let Some(Object::String(t, _)) = get(d, b"T") {
                names.push(text(t));
            }
            ft = ft.or_else(|| name_of(d, b"FT"));
            cur = self.new.dict(get(d, b"Parent"));
        }
        names.reverse();
        let signed_before = old
            .and_then(|o| get(o, b"V"))
            .is_some_and(|v| *v != Object::Null);
        Field {
            name: names.join("."),
            sig: ft == Some(b"Sig"),
            signed_before,
        }
    }

    fn form(&mut self, old: Option<&'a Object>, new: Option<&'a Object>) {
        let old = self.old.dict(old);
        let Some(new) = self.new.dict(new) else {
            let kind = if old.is_some() {
                ChangeKind::ContentChange
            } else {
                ChangeKind::None
            };
            return self.note(kind, "catalog: /AcroForm missing");
        };
        for (key, o, n) in entries(old, Some(new)) {
            let scope = match key {
                b"Fields" => {
                    self.field_list(o, n, None, 0);
                    continue;
                }
                // Signers drop /NeedAppearances: viewers must not regenerate signed appearances.
                b"NeedAppearances" if n.is_none_or(|n| *n == Object::Boolean(false)) => {
                    Scope::Signature
                }
                b"SigFlags" | b"DR" => Scope::Signature,
                b"NeedAppearances" | b"DA" | b"Q" => Scope::Form,
                _ => Scope::Content,
            };
            self.entry(o, n, scope, "form", key);
        }
    }

    /// Compares a `/Fields` or `/Kids` array; `parent` is the field owning `/Kids`.
    fn field_list(
        &mut self,
        old: Option<&'a Object>,
        new: Option<&'a Object>,
        parent: Option<&Field>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return self.note(ChangeKind::ContentChange, "form fields nested too deeply");
        }
        let (old_items, new_items) = (self.old.array(old), self.new.array(new));
        let new_refs: HashSet<u32> = new_items.iter().filter_map(number).collect();
        for item in old_items
            .iter()
            .filter(|i| number(i).is_some_and(|n| !new_refs.contains(&n)))
        {
            let what = match self.old_twin(item).and_then(|d| get(d, b"T")) {
                Some(Object::String(t, _)) => format!("field '{}'", text(t)),
                _ => "a field widget".to_owned(),
            };
            self.note(ChangeKind::ContentChange, format!("{what} removed"));
        }
        for item in new_items {
            let Some(new_field) = self.new.resolve(item).and_then(dict) else {
                continue;
            };
            let twin = self.old_twin(item);
            if let Some(parent) = parent.filter(|_| !new_field.has(b"T")) {
                if twin.is_none() {
                    self.new_widget(parent, "");
                }
                self.field_entries(twin, new_field, parent);
                continue;
            }
            let field = self.field_info(twin, new_field);
            if twin.is_none() {
                let (kind, what) = match field.sig {
                    true => (ChangeKind::SignatureOnly, "signature field"),
                    false => (ChangeKind::Annotation, "form field"),
                };
                self.note(kind, format!("new {what} '{}'", field.name));
            }
            self.field_entries(twin, new_field, &field);
            let kids = |d: Option<&'a Dictionary>| d.and_then(|d| get(d, b"Kids"));
            self.field_list(kids(twin), kids(Some(new_field)), Some(&field), depth + 1);
        }
    }

    /// Compares the entries of a field or widget dictionary (`/Kids` aside).
    fn field_entries(&mut self, old: Option<&'a Dictionary>, new: &'a Dictionary, field: &Field) {
        let (sig, signed, name) = (field.sig, field.signed_before, &field.name);
        let owner = format!("{}field '{name}'", if sig { "signature " } else { "" });
        if sig {
            self.signature_value(old, new, field);
        }
        for (key, o, n) in entries(old, Some(new)) {
            let scope = match key {
                b"Kids" | b"Parent" | b"P" => continue,
                b"V" if sig => continue,
                b"Ff" | b"Type" if sig => Scope::Signature,
                b"AP" | b"MK" if sig && signed => Scope::SealedAppearance,
                _ if sig && signed => Scope::Content,
                _ if sig => Scope::Signature,
                _ if old.is_none() => Scope::Annotation,
                b"V" | b"AS" | b"AP" | b"I" | b"DA" | b"Q" | b"MK" | b"F" | b"Ff" | b"Type"
                | b"M" | b"DS" | b"RV" => Scope::Form,
                b"Rect" | b"Border" | b"BS" | b"C" | b"H" | b"NM" | b"Contents"
                | b"StructParent" => Scope::Annotation,
                _ => Scope::Content,
            };
            match (old, key, n) {
                (None, _, Some(n)) => self.visit(n, scope, &format!("{owner} /{}", text(key))),
                (Some(_), b"V", Some(v)) if !sig && !o.is_some_and(|o| same(o, v, 0)) => {
                    let blank = o.is_none_or(|o| matches!(o, Object::String(s, _) if s.is_empty()));
                    let change = if blank { "set" } else { "changed" };
                    self.note(
                        ChangeKind::FormFill,
                        format!("field '{name}' value {change}"),
                    );
                    self.visit(v, scope, &owner);
                }
                _ => self.entry(o, n, scope, &owner, key),
            }
        }
    }

    /// Judges the `/V` of a signature field: a new signature in an unsigned field is fine.
    fn signature_value(&mut self, old: Option<&'a Dictionary>, new: &'a Dictionary, field: &Field) {
        let value = |d: Option<&'a Dictionary>| {
            d.and_then(|d| get(d, b"V")).filter(|v| **v != Object::Null)
        };
        let (old_v, name) = (value(old), &field.name);
        let Some(new_v) = value(Some(new)) else {
            if old_v.is_some() {
                self.note(
                    ChangeKind::ContentChange,
                    format!("signature removed from field '{name}'"),
                );
            }
            return;
        };
        let target = self.new.resolve(new_v).and_then(dict);
        let num = number(new_v);
        let fresh = num.map_or(old_v.is_none(), |num| !self.old.objects.contains_key(&num));
        let dirty = num.is_some_and(|num| self.dirty.contains(&num));
        match old_v {
            None if fresh => {
                let stamp = target.and_then(|d| name_of(d, b"Type")) == Some(b"DocTimeStamp");
                let what = if stamp {
                    "document timestamp"
                } else {
                    "signature"
                };
                self.note(ChangeKind::SignatureOnly, format!("{what} '{name}' added"));
            }
            Some(o) if !dirty && same(o, new_v, 0) => {}
            _ => self.note(
                ChangeKind::ContentChange,
                format!("signature value of field '{name}' altered"),
            ),
        }
        for (_, value) in target.into_iter().flat_map(Dictionary::iter) {
            self.visit(value, Scope::Signature, &format!("signature '{name}'"));
        }
    }
}

fn get<'o>(d: &'o Dictionary, key: &[u8]) -> Option<&'o Object> {
    d.get(key).ok()
}

fn name_of<'o>(d: &'o Dictionary, key: &[u8]) -> Option<&'o [u8]> {
    get(d, key).and_then(|v| v.as_name().ok())
}

fn dict(obj: &Object) -> Option<&Dictionary> {
    match obj {
        Object::Dictionary(d) | Object::Stream(Stream { dict: d, .. }) => Some(d),
        _ => None,
    }
}

fn number(obj: &Object) -> Option<u32> {
    obj.as_reference().ok().map(|(num, _)| num)
}

/// One key of two versions of a dictionary, with its old and new value.
type Entry<'o> = (&'o [u8], Option<&'o Object>, Option<&'o Object>);

/// The entries of `new`, then those only `old` has.
fn entries<'o>(old: Option<&'o Dictionary>, new: Option<&'o Dictionary>) -> Vec<Entry<'o>> {
    let mut seen = HashSet::new();
    let all = new.into_iter().chain(old).flat_map(Dictionary::iter);
    let keys = all
        .map(|(key, _)| key.as_slice())
        .filter(|key| seen.insert(*key));
    let value = |d: Option<&'o Dictionary>, key| d.and_then(|d| get(d, key));
    keys.map(|key| (key, value(old, key), value(new, key)))
        .collect()
}

/// A PDF text string or name as text: UTF-16BE after a byte order mark, else UTF-8 if
/// valid, else one character per byte (close to PDFDocEncoding).
fn text(bytes: &[u8]) -> String {
    match bytes {
        [0xFE, 0xFF, rest @ ..] => {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => std::str::from_utf8(bytes).map_or_else(
            |_| bytes.iter().map(|&b| char::from(b)).collect(),
            str::to_owned,
        ),
    }
}

/// Pages, annotations, fields and signatures: judged where they are used, not where reached.
fn is_node(d: &Dictionary) -> bool {
    let typed = matches!(
        name_of(d, b"Type"),
        Some(b"Page" | b"Pages" | b"Catalog" | b"Annot" | b"Sig" | b"DocTimeStamp")
    );
    typed
        || d.has(b"FT")
        || (d.has(b"Subtype") && d.has(b"Rect"))
        || (d.has(b"T") && (d.has(b"Kids") || d.has(b"Parent")))
}

/// Value equality of two objects: references by object number, numbers by value, strings by
/// bytes or text (UTF-16 and 8-bit forms of the same text are equal), streams by decoded content.
fn same(a: &Object, b: &Object, depth: usize) -> bool {
    let as_number = |obj: &Object| match obj {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    };
    match (a, b) {
        _ if depth > 2 * MAX_DEPTH => false,
        (Object::Reference(x), Object::Reference(y)) => x.0 == y.0,
        (Object::String(x, _), Object::String(y, _)) => x == y || text(x) == text(y),
        (Object::Array(x), Object::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y, depth + 1))
        }
        (Object::Dictionary(x), Object::Dictionary(y)) => same_dict(x, y, &[], depth),
        (Object::Stream(x), Object::Stream(y)) => {
            let coding = |s: &Stream| {
                (
                    get(&s.dict, b"Filter").cloned(),
                    get(&s.dict, b"DecodeParms").cloned(),
                )
            };
            let decoded = |s: &Stream| s.get_plain_content_with_limit(MAX_DECODED).ok();
            same_dict(
                &x.dict,
                &y.dict,
                &[b"Length", b"Filter", b"DecodeParms", b"DL"],
                depth,
            ) && ((x.content == y.content && coding(x) == coding(y))
                || decoded(x).is_some_and(|p| Some(p) == decoded(y)))
        }
        _ => match (as_number(a), as_number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
    }
}

fn same_dict(x: &Dictionary, y: &Dictionary, ignore: &[&[u8]], depth: usize) -> bool {
    let counted = |d: &Dictionary| {
        d.iter()
            .filter(|(k, _)| !ignore.contains(&k.as_slice()))
            .count()
    };
    let mut entries = x.iter().filter(|(k, _)| !ignore.contains(&k.as_slice()));
    counted(x) == counted(y)
        && entries.all(|(k, v)| get(y, k).is_some_and(|w| same(v, w, depth + 1)))
}

/// The properties of an XMP packet as sorted (path of local names, value) pairs, element and
/// attribute forms alike, bookkeeping left out; `None` if it is not XML this reads.
fn xmp_properties(xml: &str) -> Option<Vec<(String, String)>> {
    const CONTAINERS: [&str; 7] = ["xmpmeta", "RDF", "Description", "Seq", "Bag", "Alt", "li"];
    let local = |name: &str| name.rsplit(':').next().unwrap_or(name).to_owned();
    let key = |path: &[String], attr: Option<String>| {
        let names = path
            .iter()
            .map(String::as_str)
            .filter(|n| !CONTAINERS.contains(n));
        names.chain(attr.as_deref()).collect::<Vec<_>>().join("/")
    };
    let (mut path, mut props, mut rest) = (Vec::<String>::new(), Vec::new(), xml);
    while let Some(open) = rest.find('<') {
        let content = rest[..open].trim();
        if !content.is_empty() {
            props.push((key(&path, None), content.to_owned()));
        }
        let close = open + rest[open..].find('>')?;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with("!DOCTYPE") || tag.starts_with("!ENTITY") {
            return None;
        } else if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        } else if let Some(name) = tag.strip_prefix('/') {
            if path.pop() != Some(local(name.trim())) {
                return None;
            }
            continue;
        }
        let body = tag.strip_suffix('/').unwrap_or(tag);
        let (name, mut attrs) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        path.push(local(name));
        while let Some(eq) = attrs.find('=') {
            let (attr, value) = (attrs[..eq].trim(), attrs[eq + 1..].trim_start());
            let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
            let end = 1 + value[1..].find(quote)?;
            if !attr.starts_with("xmlns") && attr != "rdf:about" {
                props.push((key(&path, Some(local(attr))), value[1..end].to_owned()));
            }
            attrs = &value[end + 1..];
        }
        if body.len() < tag.len() {
            path.pop();
        }
    }
    props.retain(|(k, _)| !BOOKKEEPING.iter().any(|b| k.ends_with(b)));
    props.sort();
    Some(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_needs::corpus;
    use ChangeKind::{Annotation, ContentChange, FormFill, SignatureOnly};

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn fixture(name: &str) -> Vec<u8> {
        read(&(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/revisions/").to_owned() + name))
    }

    /// Where each signature's `/ByteRange` ends, in file order.
    fn signed_ends(pdf: &[u8]) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut from = 0;
        while let Some(pos) = find(pdf, b"/ByteRange", from) {
            from = find(pdf, b"]", pos).unwrap();
            let range = std::str::from_utf8(&pdf[find(pdf, b"[", pos).unwrap() + 1..from]).unwrap();
            let numbers: Vec<usize> = range
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect();
            ends.push(numbers[2] + numbers[3]);
        }
        ends
    }

    /// The one update after the first signature of `pdf`, and whether it has `detail`.
    fn single(pdf: &[u8], password: Option<&str>, detail: &str) -> (ChangeKind, bool) {
        let changes = changes_after(pdf, signed_ends(pdf)[0], password).unwrap();
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert_eq!(changes[0].end, pdf.len());
        println!("{:#?}", changes[0]);
        (
            changes[0].kind,
            changes[0].details.iter().any(|d| d == detail),
        )
    }

    #[test]
    fn lta_updates_after_a_signature_are_signature_only() {
        let Some(pdf) = corpus("pyhanko-pades-lta-dss.pdf") else {
            return;
        };
        let ends = revision_ends(&pdf);
        assert_eq!(ends.len(), 5);
        assert_eq!(ends.last(), Some(&pdf.len()));
        assert!(ends
            .iter()
            .all(|&end| trim(&pdf[..end]).ends_with(b"%%EOF")));
        let signed = signed_ends(&pdf);
        let changes = changes_after(&pdf, signed[0], None).unwrap();
        assert_eq!(changes.len(), 2, "{changes:#?}");
        assert!(
            changes.iter().all(|c| c.kind == SignatureOnly),
            "{changes:#?}"
        );
        let details = changes.iter().flat_map(|c| &c.details).collect::<Vec<_>>();
        assert!(details.iter().any(|d| d.starts_with("document timestamp")));
        assert!(details.iter().any(|d| d.as_str() == "catalog: /DSS added"));
        assert_eq!(changes_after(&pdf, signed[1], None).unwrap().len(), 1);
        assert_eq!(changes_after(&pdf, pdf.len(), None), Ok(vec![]));
    }

    #[test]
    fn classifies_updates_after_signing() {
        let annotation = "new annotation /FreeText on page 1";
        let annotated = fixture("signed-annotated.pdf");
        assert_eq!(single(&annotated, None, annotation), (ContentChange, true));
        assert!(single(&annotated, None, "document information: /Title added").1);
        assert_eq!(
            single(&fixture("signed-annot-only.pdf"), None, annotation),
            (Annotation, true)
        );
        let twice = fixture("signed-twice.pdf");
        assert_eq!(
            single(&twice, None, "signature 'SecondSeal' added"),
            (SignatureOnly, true)
        );
        assert_eq!(
            changes_after(&twice, signed_ends(&twice)[1], None),
            Ok(vec![])
        );
        let filled = fixture("form-signed-filled.pdf");
        assert_eq!(
            single(&filled, None, "field 'Name' value set"),
            (FormFill, true)
        );
        let content = fixture("signed-content-changed.pdf");
        assert_eq!(
            single(&content, None, "page 1: /Contents changed"),
            (ContentChange, true)
        );
        let json =
            serde_json::to_value(changes_after(&content, signed_ends(&content)[0], None).unwrap());
        assert_eq!(json.unwrap()[0]["kind"], "content_change");
    }

    #[test]
    fn encrypted_updates_need_the_password() {
        let pdf = fixture("enc-signed-twice.pdf");
        assert_eq!(
            single(&pdf, Some("openpassword"), "signature 'SecondSeal' added"),
            (SignatureOnly, true)
        );
        assert_eq!(
            changes_after(&pdf, signed_ends(&pdf)[0], None),
            Err(DiffError::Encrypted)
        );
    }

    #[test]
    fn xmp_bookkeeping_is_no_change() {
        let before = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="A"><rdf:RDF>
            <rdf:Description rdf:about=""><xmp:ModifyDate>2020</xmp:ModifyDate>
            <dc:title><rdf:Alt><rdf:li xml:lang="x-default">T</rdf:li></rdf:Alt></dc:title>
            </rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let after = r#"<?xpacket begin=""?><x:xmpmeta x:xmptk="B"><rdf:RDF>
            <rdf:Description xmp:ModifyDate="2026" pdf:Producer="P"><dc:title><rdf:Alt>
            <rdf:li xml:lang='x-default'>T</rdf:li></rdf:Alt></dc:title></rdf:Description>
            </rdf:RDF></x:xmpmeta><?xpacket end="r"?>"#;
        assert_eq!(xmp_properties(before), xmp_properties(after));
        assert_ne!(
            xmp_properties(before),
            xmp_properties(&after.replace(">T<", ">U<"))
        );
        assert_eq!(xmp_properties("<a><b></a></b>"), None);
    }

    #[test]
    fn linearized_first_page_section_is_no_revision() {
        let Some(pdf) = corpus("pdfjs-linearized-pdftex.pdf") else {
            return;
        };
        assert_eq!(revision_ends(&pdf), vec![pdf.len()]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(
            changes_after(b"hello, world", 5, None),
            Err(DiffError::NotPdf)
        );
        assert!(revision_ends(b"").is_empty());
        let pdf = fixture("signed-annotated.pdf");
        let signed = signed_ends(&pdf)[0];
        for end in [signed - 100, pdf.len() + 1] {
            assert_eq!(
                changes_after(&pdf, end, None),
                Err(DiffError::NotRevisionEnd(end))
            );
        }
        for cut in (0..pdf.len()).step_by(331) {
            let _ = changes_after(&pdf[..cut], signed, None);
        }
        let mut junk = pdf[..signed].to_vec();
        junk.extend_from_slice(b"\n1 0 obj << /Type /Catalog >> endobj\n");
        let changes = changes_after(&junk, signed, None).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.kind).collect::<Vec<_>>(),
            vec![ContentChange]
        );
        let Some(mut damaged) = corpus("pyhanko-pades-lta-dss.pdf") else {
            return;
        };
        let signed = signed_ends(&damaged)[0];
        for at in (signed..damaged.len()).step_by(97) {
            damaged[at] ^= 0x5A;
            let _ = changes_after(&damaged, signed, None);
        }
    }
}
