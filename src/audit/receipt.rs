//! Audit receipts: one log entry, a tree head signed by the log key, and the inclusion proof
//! between them. Whoever holds a receipt and the installation's published certificates can
//! check, with no network and no database, that the entry is in the log: the tree head is
//! signed by the log key, the log key chains to the root, the leaf hashes to the proven leaf,
//! and the proof leads to the signed root. For an issuance or a stamping, the leaf's digest is
//! the SHA-256 of the PDF, so the check also ties the receipt to the file.
//!
//! A licence PDF cannot carry its own entry's index: the entry commits to the PDF's digest,
//! so the PDF exists first and the receipt travels beside it.

use base64::Engine;
use ct_merkle::{InclusionProof, RootHash};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::merkle::leaf_hash;
use super::{hex, parse_hash, tree_head_statement};
use crate::pki::chain::{chain_to_anchor, CertificateSet};

/// Common name of the log key's certificate.
pub const LOG_KEY_NAME: &str = "证印 zhengyin 审计日志";

/// A tree head signed by the log key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignedTreeHead {
    /// Entries in the tree.
    pub tree_size: u64,
    /// Hex root hash (RFC 9162 MTH).
    pub root_hash: String,
    /// When it was signed, RFC 3339.
    pub timestamp: String,
    /// Base64 DER ECDSA P-256/SHA-256 signature of the log key over [`SignedTreeHead::statement`].
    pub signature: String,
    /// The signed text ([`tree_head_statement`] of the three fields above).
    pub statement: String,
    /// The log key's certificate (PEM), under the installation's root.
    pub log_certificate: String,
}

/// One entry of the log with the proof that a signed tree head includes it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The entry's position in the log.
    pub entry: u64,
    /// The entry exactly as hashed into the tree: the JSON of [`super::Leaf`].
    pub leaf: String,
    /// Hex leaf hash, `SHA-256(0x00 || leaf)`.
    pub leaf_hash: String,
    /// Hex hashes of the inclusion proof (RFC 9162 §2.1.3), bottom up.
    pub inclusion: Vec<String>,
    /// The signed tree head the proof leads to.
    pub tree_head: SignedTreeHead,
}

/// What a receipt that checked out says.
#[derive(Debug, Clone, Serialize)]
pub struct CheckedReceipt {
    /// The entry's position.
    pub entry: u64,
    /// The logged entry.
    pub leaf: serde_json::Value,
    /// Entries in the signed tree.
    pub tree_size: u64,
    /// When the tree head was signed.
    pub signed_at: String,
    /// Subject of the root the log key chains to.
    pub root: String,
    /// Whether the given file's SHA-256 is the entry's digest; `None` when no file was given.
    pub file_matches: Option<bool>,
}

/// Why a receipt does not check out.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// A field does not parse.
    #[error("the receipt is malformed: {0}")]
    Malformed(String),
    /// The tree head's certificate is not the log key's or does not chain to a trusted root.
    #[error("the tree head is not signed by a trusted log key: {0}")]
    Untrusted(String),
    /// The tree head's signature does not hold over its fields.
    #[error("the tree head's signature is invalid")]
    BadSignature,
    /// The leaf, its hash and the proof do not lead to the signed root.
    #[error("the entry is not proven to be in the signed tree: {0}")]
    NotIncluded(String),
}

impl Receipt {
    /// Checks the receipt against the trusted roots in `certificates`, and, given a file, that
    /// the entry's digest is the file's SHA-256.
    pub fn check(
        &self,
        certificates: &CertificateSet,
        file: Option<&[u8]>,
    ) -> Result<CheckedReceipt, ReceiptError> {
        let head = &self.tree_head;
        let root_hash = parse_hash(&head.root_hash)
            .ok_or_else(|| ReceiptError::Malformed("root_hash is not a hex SHA-256".into()))?;
        let signed_at = OffsetDateTime::parse(&head.timestamp, &Rfc3339)
            .map_err(|e| ReceiptError::Malformed(format!("timestamp: {e}")))?;
        let root = self.check_log_certificate(certificates, signed_at)?;

        let statement = tree_head_statement(head.tree_size, &root_hash, &head.timestamp);
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&head.signature)
            .map_err(|e| ReceiptError::Malformed(format!("signature: {e}")))?;
        let certificate = self.log_certificate_der()?;
        let (_, certificate) = X509Certificate::from_der(&certificate)
            .map_err(|e| ReceiptError::Malformed(format!("log certificate: {e}")))?;
        UnparsedPublicKey::new(
            &ECDSA_P256_SHA256_ASN1,
            certificate.public_key().subject_public_key.data.as_ref(),
        )
        .verify(statement.as_bytes(), &signature)
        .map_err(|_| ReceiptError::BadSignature)?;

        let leaf: serde_json::Value = serde_json::from_str(&self.leaf)
            .map_err(|e| ReceiptError::Malformed(format!("leaf: {e}")))?;
        if leaf["seq"].as_u64() != Some(self.entry) {
            return Err(ReceiptError::NotIncluded(format!(
                "the leaf is entry {} but the receipt names entry {}",
                leaf["seq"], self.entry
            )));
        }
        if hex(&leaf_hash(self.leaf.as_bytes())) != self.leaf_hash.to_ascii_lowercase() {
            return Err(ReceiptError::NotIncluded(
                "the leaf does not hash to leaf_hash".into(),
            ));
        }
        self.check_inclusion(root_hash)?;

        let file_matches = file.map(|bytes| {
            let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
            leaf["digest"].as_str() == Some(hex(digest.as_ref()).as_str())
        });
        Ok(CheckedReceipt {
            entry: self.entry,
            leaf,
            tree_size: head.tree_size,
            signed_at: head.timestamp.clone(),
            root,
            file_matches,
        })
    }

    fn log_certificate_der(&self) -> Result<Vec<u8>, ReceiptError> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(self.tree_head.log_certificate.as_bytes())
            .map_err(|e| ReceiptError::Malformed(format!("log certificate: {e}")))?;
        Ok(pem.contents)
    }

    /// The log certificate is the log key's and chains to a trusted root at `signed_at`;
    /// returns the root's subject.
    fn check_log_certificate(
        &self,
        certificates: &CertificateSet,
        signed_at: OffsetDateTime,
    ) -> Result<String, ReceiptError> {
        let der = self.log_certificate_der()?;
        let (_, certificate) = X509Certificate::from_der(&der)
            .map_err(|e| ReceiptError::Malformed(format!("log certificate: {e}")))?;
        let common_name = certificate
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok());
        if common_name != Some(LOG_KEY_NAME) {
            return Err(ReceiptError::Untrusted(format!(
                "{} is not the audit log's key",
                certificate.subject()
            )));
        }
        chain_to_anchor(&certificate, &[], &certificates.roots(), signed_at)
            .map_err(ReceiptError::Untrusted)
    }

    /// The proof, checked with ct-merkle (an independent RFC 6962/9162 implementation), leads
    /// from the leaf to `root_hash`.
    fn check_inclusion(&self, root_hash: [u8; 32]) -> Result<(), ReceiptError> {
        let mut proof = Vec::with_capacity(32 * self.inclusion.len());
        for hash in &self.inclusion {
            proof.extend(parse_hash(hash).ok_or_else(|| {
                ReceiptError::Malformed(format!("inclusion hash {hash} is not a hex SHA-256"))
            })?);
        }
        let proof = InclusionProof::<Sha256>::try_from_bytes(proof)
            .map_err(|e| ReceiptError::Malformed(format!("inclusion proof: {e:?}")))?;
        if self.entry >= self.tree_head.tree_size {
            return Err(ReceiptError::NotIncluded(format!(
                "entry {} is beyond the signed tree of {}",
                self.entry, self.tree_head.tree_size
            )));
        }
        RootHash::<Sha256>::new(root_hash.into(), self.tree_head.tree_size)
            .verify_inclusion(&self.leaf.as_bytes().to_vec(), self.entry, &proof)
            .map_err(|e| ReceiptError::NotIncluded(format!("{e:?}")))
    }
}
