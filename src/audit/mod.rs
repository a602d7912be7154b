//! The audit log (全程留痕) as a Merkle tree, the way Certificate Transparency logs are
//! (RFC 9162): every entry is a leaf; the log key under the root signs the root after every
//! entry and, periodically and on demand, a tree head to publish. Anyone holding a signed head
//! can check that an entry is in the log (inclusion proof) and that a later head extends it
//! (consistency proof); `zhengyin audit check` recomputes the tree from the database and names
//! the first entry that was altered, removed or reordered.

pub mod merkle;
pub mod receipt;

use serde::Serialize;

/// One entry as it is hashed into the tree: the leaf is `SHA-256(0x00 || the JSON of this)`,
/// fields in this order, so the hash covers the entry's place in the log as well as its
/// content.
#[derive(Debug, Clone, Serialize)]
pub struct Leaf<'a> {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Random id of the entry.
    pub id: &'a str,
    /// When, RFC 3339 UTC.
    pub at: &'a str,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// On what.
    pub object: &'a str,
    /// Digest of the object's bytes.
    pub digest: Option<&'a str>,
    /// How it ended.
    pub outcome: &'a str,
    /// The HTTP request it was made in.
    pub request_id: Option<&'a str>,
}

impl Leaf<'_> {
    /// The leaf hash.
    pub fn hash(&self) -> merkle::Hash {
        // Serialising strings and integers to JSON cannot fail.
        merkle::leaf_hash(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// What the log key signs: the tree of `size` entries has `root`, as of `at`.
pub fn tree_head_statement(size: u64, root: &merkle::Hash, at: &str) -> String {
    format!(
        "zhengyin audit tree head\nsize {size}\nroot {}\nat {at}\n",
        hex(root)
    )
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The bytes of lower-case or upper-case hex of a hash; `None` if it is not 64 hex digits.
pub fn parse_hash(text: &str) -> Option<merkle::Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(out)
}
