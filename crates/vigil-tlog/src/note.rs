//! C2SP signed notes with Ed25519 keys.
//!
//! A note is its text (ending in a newline), a blank line, then one line per signature:
//! `— <key name> base64(key_id[4] || signature)`. The key id is the first four bytes of
//! `SHA-256(name || "\n" || 0x01 || public_key)`. A verifier key is written `name+hex(key_id)+base64(0x01 ||
//! public_key)`; vigil stores its signing key in the matching private form, `PRIVATE+KEY+name+hex(id)+base64(0x01
//! || seed)`. Signatures by keys a verifier does not know are ignored, so witnesses can cosign the same note.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("the note has no signature by {0}")]
    Unsigned(String),
    #[error("the signature by {0} is invalid")]
    BadSignature(String),
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    key_id_of(name, ALG_ED25519, public)
}

/// A key's id: `SHA-256(name || "\n" || algorithm || public key)[:4]` (signed-note; cosignatures use 0x04).
pub(crate) fn key_id_of(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control()) {
        return Err(NoteError::Key(format!("key name `{name}` must be non-empty, without `+` or spaces")));
    }
    Ok(())
}

/// A signing key and its name (for a log, the origin).
pub struct SignerKey {
    name: String,
    key: SigningKey,
}

impl SignerKey {
    pub fn generate(name: &str) -> Result<SignerKey, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Key(format!("no randomness for a new key: {e}")))?;
        Ok(SignerKey { name: name.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    /// Parses `PRIVATE+KEY+name+hex(id)+base64(0x01 || seed)`.
    pub fn parse(text: &str) -> Result<SignerKey, NoteError> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::Key("a signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id_hex, material) = split_key(rest)?;
        let seed: [u8; 32] = material.try_into().map_err(|_| NoteError::Key("an Ed25519 seed is 32 bytes".into()))?;
        let key = SigningKey::from_bytes(&seed);
        if hex_id(&key_id(name, key.verifying_key().as_bytes())) != id_hex {
            return Err(NoteError::Key("the key id does not match the key".into()));
        }
        Ok(SignerKey { name: name.to_owned(), key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn to_text(&self) -> String {
        let id = key_id(&self.name, self.key.verifying_key().as_bytes());
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex_id(&id), B64.encode(material))
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey::new(&self.name, self.key.verifying_key())
    }

    /// Signs `text` (which must end with a newline) into a note.
    pub fn sign(&self, text: &str) -> String {
        assert!(text.ends_with('\n'), "note text ends with a newline");
        let sig = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, self.key.verifying_key().as_bytes()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{DASH}{} {}\n", self.name, B64.encode(blob))
    }
}

pub(crate) fn hex_id(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name+hexid+base64(alg || key)` → (name, hexid, key bytes without the algorithm byte).
fn split_key(s: &str) -> Result<(&str, &str, Vec<u8>), NoteError> {
    split_key_of(s, ALG_ED25519)
}

/// `name+id+base64(alg || material)`, checked for the algorithm byte `alg`.
pub(crate) fn split_key_of(s: &str, alg: u8) -> Result<(&str, &str, Vec<u8>), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::Key("expected name+id+key".into()));
    };
    check_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(NoteError::Key("the key id is eight lowercase hex digits".into()));
    }
    let raw = B64.decode(b64).map_err(|_| NoteError::Key("the key is not base64".into()))?;
    match raw.split_first() {
        Some((&a, key)) if a == alg => Ok((name, id, key.to_vec())),
        _ => Err(NoteError::Key(format!("expected a key of algorithm {alg:#04x}"))),
    }
}

/// A public key that verifies notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    fn new(name: &str, key: VerifyingKey) -> VerifierKey {
        VerifierKey { name: name.to_owned(), id: key_id(name, key.as_bytes()), key }
    }

    /// Parses `name+hex(id)+base64(0x01 || public_key)`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let (name, id_hex, material) = split_key(text.trim())?;
        let bytes: [u8; 32] =
            material.try_into().map_err(|_| NoteError::Key("an Ed25519 public key is 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::Key("not an Ed25519 public key".into()))?;
        let vk = VerifierKey::new(name, key);
        if hex_id(&vk.id) != id_hex {
            return Err(NoteError::Key("the key id does not match the key".into()));
        }
        Ok(vk)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn to_text(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex_id(&self.id), B64.encode(material))
    }

    /// Checks this key's signature on `note` and returns the note's text. Other keys' signatures are ignored.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note.find("\n\n").ok_or_else(|| NoteError::Malformed("no blank line before signatures".into()))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed("the signature block must end with a newline".into()));
        }
        let mut found = false;
        for line in sigs.lines() {
            let rest =
                line.strip_prefix(DASH).ok_or_else(|| NoteError::Malformed(format!("bad signature line `{line}`")))?;
            let (name, b64) =
                rest.split_once(' ').ok_or_else(|| NoteError::Malformed(format!("bad signature line `{line}`")))?;
            let blob = B64.decode(b64).map_err(|_| NoteError::Malformed("a signature is not base64".into()))?;
            if name != self.name || blob.len() < 4 || blob[..4] != self.id {
                continue;
            }
            found = true;
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            self.key.verify(text.as_bytes(), &sig).map_err(|_| NoteError::BadSignature(self.name.clone()))?;
        }
        if found {
            Ok(text)
        } else {
            Err(NoteError::Unsigned(self.to_text()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_notes_verify() {
        let signer = SignerKey::generate("registry.test/audit").unwrap();
        let again = SignerKey::parse(&signer.to_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let vk = VerifierKey::parse(&signer.verifier().to_text()).unwrap();
        let note = signer.sign("registry.test/audit\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
        assert_eq!(vk.open(&note).unwrap(), "registry.test/audit\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");

        let forged = note.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(vk.open(&forged), Err(NoteError::BadSignature("registry.test/audit".into())));
        let other = SignerKey::generate("registry.test/audit").unwrap();
        assert!(matches!(other.verifier().open(&note), Err(NoteError::Unsigned(_))));
        assert!(VerifierKey::parse("a+00000000+AQ==").is_err());
        assert!(SignerKey::generate("has space").is_err());
    }
}
