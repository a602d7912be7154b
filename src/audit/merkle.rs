//! The Merkle tree of RFC 9162 §2.1 over the audit log, as pure functions over node hashes.
//!
//! The service stores the hash of every *perfect* subtree (2^level leaves starting at a
//! multiple of 2^level) as entries are appended; any tree head or proof is then a fold of
//! O(log n) stored nodes. The proofs are built here rather than with a crate because they are
//! computed from nodes in the database, which no Merkle crate reads; they are verified in the
//! tests with `ct-merkle`, an independent implementation of the same RFC.

use ring::digest::{Context, SHA256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves.
    pub level: u32,
    /// Position among the subtrees of this level.
    pub index: u64,
}

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[0]);
    context.update(data);
    finish(context)
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[1]);
    context.update(left);
    context.update(right);
    finish(context)
}

fn finish(context: Context) -> Hash {
    let mut out = [0; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The hash of the empty tree: `SHA-256()`.
pub fn empty_root() -> Hash {
    finish(Context::new(&SHA256))
}

/// The perfect subtrees that make up leaves `start..end`, left to right (largest first).
/// `start` must be a multiple of the largest power of two not above `end - start`, as every
/// range in RFC 9162's definitions is.
pub fn blocks(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let level = 63 - (end - at).leading_zeros();
        out.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1 << level;
    }
    out
}

/// MTH of a range from the hashes of its [`blocks`], in the same order.
pub fn fold(block_hashes: &[Hash]) -> Hash {
    match block_hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose MTHs form the inclusion proof of leaf `m` in the tree of `size` leaves
/// (RFC 9162 §2.1.3.1, PATH), in proof order.
pub fn inclusion_ranges(m: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut start, mut end, mut m) = (0, size, m);
    while end - start > 1 {
        let k = split(end - start);
        if m < k {
            out.push((start + k, end));
            end = start + k;
        } else {
            out.push((start, start + k));
            start += k;
            m -= k;
        }
    }
    out.reverse();
    out
}

/// The ranges whose MTHs form the consistency proof between the trees of `old` and `new`
/// leaves (RFC 9162 §2.1.4.1, PROOF), in proof order; empty when `old` is 0 or equals `new`.
pub fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if old == 0 || old >= new {
        return out;
    }
    let (mut start, mut end, mut m, mut whole) = (0, new, old, true);
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                out.push((start, end));
            }
            break;
        }
        let k = split(n);
        if m <= k {
            out.push((start + k, end));
            end = start + k;
        } else {
            out.push((start, start + k));
            start += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    out
}

/// Appending leaves, one at a time, keeping only the perfect subtrees of the right edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// The blocks of `0..size`, largest first, with their hashes.
    blocks: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves from the hashes of its blocks
    /// (`blocks(0, size)`); `None` if the count does not match.
    pub fn new(size: u64, block_hashes: &[Hash]) -> Option<Frontier> {
        let ids = blocks(0, size);
        (ids.len() == block_hashes.len()).then(|| Frontier {
            blocks: ids
                .iter()
                .zip(block_hashes)
                .map(|(id, hash)| (id.level, *hash))
                .collect(),
            size,
        })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of the blocks, largest first.
    pub fn block_hashes(&self) -> Vec<Hash> {
        self.blocks.iter().map(|(_, hash)| *hash).collect()
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> Hash {
        fold(&self.block_hashes())
    }

    /// Appends a leaf; returns every perfect subtree it completes, the leaf itself first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut completed = vec![(
            NodeId {
                level: 0,
                index: self.size,
            },
            leaf,
        )];
        let (mut level, mut hash) = (0, leaf);
        while let Some(&(left_level, left)) = self.blocks.last() {
            if left_level != level {
                break;
            }
            self.blocks.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push((
                NodeId {
                    level,
                    index: self.size >> level,
                },
                hash,
            ));
        }
        self.blocks.push((level, hash));
        self.size += 1;
        completed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
    use sha2::Sha256;

    /// The stored perfect subtrees of a log, its frontier after every entry, and the same log
    /// in ct-merkle.
    type Logs = (
        HashMap<NodeId, Hash>,
        Vec<Frontier>,
        MemoryBackedTree<Sha256, Vec<u8>>,
    );

    /// A log of `n` leaves.
    fn logs(n: u64) -> Logs {
        let mut nodes = HashMap::new();
        let mut frontier = Frontier::default();
        let mut history = vec![frontier.clone()];
        let mut reference = MemoryBackedTree::new();
        for i in 0..n {
            let data = format!("entry {i}").into_bytes();
            nodes.extend(frontier.push(leaf_hash(&data)));
            history.push(frontier.clone());
            reference.push(data);
        }
        (nodes, history, reference)
    }

    fn mth(nodes: &HashMap<NodeId, Hash>, (start, end): (u64, u64)) -> Hash {
        let hashes: Vec<Hash> = blocks(start, end).iter().map(|id| nodes[id]).collect();
        fold(&hashes)
    }

    fn proof_bytes(nodes: &HashMap<NodeId, Hash>, ranges: &[(u64, u64)]) -> Vec<u8> {
        ranges.iter().flat_map(|r| mth(nodes, *r)).collect()
    }

    #[test]
    fn roots_and_proofs_agree_with_ct_merkle() {
        let (nodes, history, reference) = logs(70);
        let mut references = Vec::new();
        for size in 1..=70u64 {
            let mut tree = MemoryBackedTree::<Sha256, Vec<u8>>::new();
            for i in 0..size {
                tree.push(format!("entry {i}").into_bytes());
            }
            references.push(tree);
        }
        assert_eq!(history[0].root(), empty_root());
        for size in 1..=70u64 {
            let tree = &references[size as usize - 1];
            let root = tree.root();
            assert_eq!(
                history[size as usize].root().as_slice(),
                root.as_bytes().as_slice()
            );
            assert_eq!(mth(&nodes, (0, size)), history[size as usize].root());
            for m in 0..size {
                let proof = InclusionProof::<Sha256>::try_from_bytes(proof_bytes(
                    &nodes,
                    &inclusion_ranges(m, size),
                ))
                .unwrap();
                let leaf = format!("entry {m}").into_bytes();
                root.verify_inclusion(&leaf, m, &proof)
                    .unwrap_or_else(|e| panic!("inclusion of {m} in {size}: {e:?}"));
            }
            for old in 1..=size {
                let proof = ConsistencyProof::<Sha256>::try_from_bytes(proof_bytes(
                    &nodes,
                    &consistency_ranges(old, size),
                ))
                .unwrap();
                let old_root = references[old as usize - 1].root();
                root.verify_consistency(&old_root, &proof)
                    .unwrap_or_else(|e| panic!("consistency {old} → {size}: {e:?}"));
            }
        }
        // A proof for another leaf, or a wrong old root, does not verify.
        let root = reference.root();
        let proof =
            InclusionProof::<Sha256>::try_from_bytes(proof_bytes(&nodes, &inclusion_ranges(5, 70)))
                .unwrap();
        assert!(root
            .verify_inclusion(&b"entry 6".to_vec(), 5, &proof)
            .is_err());
        let stale = RootHash::<Sha256>::new(*references[9].root().as_bytes(), 11);
        let proof = ConsistencyProof::<Sha256>::try_from_bytes(proof_bytes(
            &nodes,
            &consistency_ranges(11, 70),
        ))
        .unwrap();
        assert!(root.verify_consistency(&stale, &proof).is_err());
    }

    #[test]
    fn a_frontier_is_rebuilt_from_its_block_hashes() {
        let (_, history, _) = logs(13);
        let thirteen = &history[13];
        assert_eq!(blocks(0, 13).len(), 3);
        let rebuilt = Frontier::new(13, &thirteen.block_hashes()).unwrap();
        assert_eq!(&rebuilt, thirteen);
        assert!(Frontier::new(13, &thirteen.block_hashes()[..2]).is_none());
    }
}
