//! C2SP tlog-cosignature (Ed25519, `cosignature/v1`): a witness's statement that, at a time, the checkpoint is the
//! largest consistent tree it has seen for the log. A cosignature is a signed-note signature line whose key id is
//! `SHA-256(name || "\n" || 0x04 || public key)[:4]` and whose signature, over `cosignature/v1\ntime <t>\n` and the
//! checkpoint's body, is `timestamp (u64 big-endian) || Ed25519 signature`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::note::{check_name, hex_id, key_id_of, split_key_of, NoteError};

const ALG_COSIGNATURE: u8 = 0x04;
const DASH: &str = "\u{2014} ";

fn message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's signing key.
pub struct Cosigner {
    name: String,
    key: SigningKey,
}

impl Cosigner {
    pub fn generate(name: &str) -> Result<Cosigner, NoteError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Key(format!("no randomness for a new key: {e}")))?;
        Ok(Cosigner { name: name.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    /// `PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)`.
    pub fn parse(text: &str) -> Result<Cosigner, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::Key("a signing key starts with PRIVATE+KEY+".into()))?;
        let (name, id, material) = split_key_of(rest, ALG_COSIGNATURE)?;
        let seed: [u8; 32] = material.try_into().map_err(|_| NoteError::Key("an Ed25519 seed is 32 bytes".into()))?;
        let key = SigningKey::from_bytes(&seed);
        if hex_id(&key_id_of(name, ALG_COSIGNATURE, key.verifying_key().as_bytes())) != id {
            return Err(NoteError::Key("the key id does not match the key".into()));
        }
        Ok(Cosigner { name: name.to_owned(), key })
    }

    pub fn to_text(&self) -> String {
        let id = key_id_of(&self.name, ALG_COSIGNATURE, self.key.verifying_key().as_bytes());
        let mut material = vec![ALG_COSIGNATURE];
        material.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex_id(&id), B64.encode(material))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> CosignatureKey {
        CosignatureKey::new(&self.name, self.key.verifying_key())
    }

    /// The cosignature line (with its newline) of the checkpoint whose note body is `body`, made at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let sig = self.key.sign(message(body, timestamp).as_bytes());
        let mut blob = key_id_of(&self.name, ALG_COSIGNATURE, self.key.verifying_key().as_bytes()).to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("{DASH}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A witness's public key, as verifiers pin it: `<name>+<id>+base64(0x04 || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl CosignatureKey {
    fn new(name: &str, key: VerifyingKey) -> CosignatureKey {
        CosignatureKey { name: name.to_owned(), id: key_id_of(name, ALG_COSIGNATURE, key.as_bytes()), key }
    }

    pub fn parse(text: &str) -> Result<CosignatureKey, NoteError> {
        let (name, id, material) = split_key_of(text.trim(), ALG_COSIGNATURE)?;
        let bytes: [u8; 32] =
            material.try_into().map_err(|_| NoteError::Key("an Ed25519 public key is 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::Key("not an Ed25519 public key".into()))?;
        let k = CosignatureKey::new(name, key);
        if hex_id(&k.id) != id {
            return Err(NoteError::Key("the key id does not match the key".into()));
        }
        Ok(k)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn to_text(&self) -> String {
        let mut material = vec![ALG_COSIGNATURE];
        material.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex_id(&self.id), B64.encode(material))
    }

    /// The time of this key's valid cosignature on `note` (a checkpoint with its signature lines); other lines
    /// are ignored.
    pub fn verify(&self, note: &str) -> Result<u64, NoteError> {
        let split = note.find("\n\n").ok_or_else(|| NoteError::Malformed("no blank line before signatures".into()))?;
        let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
        let mut seen = false;
        for line in sigs.lines() {
            let Some((name, b64)) = line.strip_prefix(DASH).and_then(|l| l.split_once(' ')) else { continue };
            if name != self.name {
                continue;
            }
            let Ok(blob) = B64.decode(b64) else { continue };
            if blob.len() != 4 + 8 + 64 || blob[..4] != self.id {
                continue;
            }
            seen = true;
            let timestamp = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
            let sig = Signature::from_bytes(blob[12..].try_into().expect("64 bytes"));
            if self.key.verify(message(body, timestamp).as_bytes(), &sig).is_ok() {
                return Ok(timestamp);
            }
        }
        Err(if seen { NoteError::BadSignature(self.name.clone()) } else { NoteError::Unsigned(self.name.clone()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosignatures_verify_and_bind_the_body_and_time() {
        let w = Cosigner::generate("witness.example/w1").unwrap();
        let key = CosignatureKey::parse(&w.verifier().to_text()).unwrap();
        assert_eq!(Cosigner::parse(&w.to_text()).unwrap().verifier(), key);
        let body = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let note = format!("{body}\n\u{2014} example.com/log c2lnbmF0dXJl\n{}", w.cosign(body, 1_679_315_147));
        assert_eq!(key.verify(&note).unwrap(), 1_679_315_147);
        let other_body = note.replacen("\n5\n", "\n6\n", 1);
        assert!(matches!(key.verify(&other_body), Err(NoteError::BadSignature(_))));
        let stranger = Cosigner::generate("witness.example/w2").unwrap().verifier();
        assert!(matches!(stranger.verify(&note), Err(NoteError::Unsigned(_))));
        // A log key (0x01) is not a cosignature key (0x04).
        let log = crate::note::SignerKey::generate("example.com/log").unwrap();
        assert!(CosignatureKey::parse(&log.verifier().to_text()).is_err());
    }
}
