//! The master key that seals every private key at rest (AES-256-GCM, ring).

use std::io::Write;
use std::path::Path;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::PkiError;

/// Environment variable that may carry the master key (base64 of 32 bytes) instead of a file.
pub const MASTER_KEY_ENV: &str = "ZHENGYIN_MASTER_KEY";

/// A 256-bit AES-GCM key; sealed blobs are `nonce ‖ ciphertext ‖ tag`.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A master key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let key = UnboundKey::new(&AES_256_GCM, &bytes).expect("AES-256 takes 32-byte keys");
        MasterKey {
            key: LessSafeKey::new(key),
        }
    }

    /// Loads the master key from [`MASTER_KEY_ENV`] if set, else from `path`, creating that
    /// file (mode 0600, new random key) when it does not exist yet.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, PkiError> {
        if let Ok(encoded) = std::env::var(MASTER_KEY_ENV) {
            return Self::decode(encoded.trim())
                .map_err(|why| PkiError::MasterKey(format!("{MASTER_KEY_ENV}: {why}")));
        }
        match std::fs::read_to_string(path) {
            Ok(encoded) => Self::decode(encoded.trim())
                .map_err(|why| PkiError::MasterKey(format!("{}: {why}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(path),
            Err(e) => Err(PkiError::MasterKey(format!("{}: {e}", path.display()))),
        }
    }

    fn create(path: &Path) -> Result<MasterKey, PkiError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| PkiError::KeyGeneration)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| PkiError::MasterKey(format!("{}: {e}", path.display())))?;
        file.write_all(encoded.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| PkiError::MasterKey(format!("{}: {e}", path.display())))?;
        Ok(Self::from_bytes(bytes))
    }

    fn decode(encoded: &str) -> Result<MasterKey, &'static str> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "not base64")?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| "not 32 bytes")?;
        Ok(Self::from_bytes(bytes))
    }

    /// Encrypts `plaintext`, binding it to `context` (authenticated, not stored).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, PkiError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| PkiError::KeyGeneration)?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed,
            )
            .map_err(|_| PkiError::KeyGeneration)?;
        let mut out = nonce.to_vec();
        out.append(&mut sealed);
        Ok(out)
    }

    /// Decrypts a blob made by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, PkiError> {
        if sealed.len() < NONCE_LEN {
            return Err(PkiError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| PkiError::Unseal)?;
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| PkiError::Unseal)?;
        Ok(plaintext.to_vec())
    }
}
