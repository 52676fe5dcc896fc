//! C2SP tlog-proof: a portable receipt that an entry is in the log, verifiable offline with the log's public key.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the entry's bytes>
//! index <leaf index>
//! <base64 inclusion proof hash, one per line>
//!
//! <signed checkpoint>
//! ```
//! vigil puts the entry itself in `extra`, so the receipt alone shows what was logged.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::checkpoint::Checkpoint;
use crate::hash::{from_base64, leaf_hash, to_base64, Hash};
use crate::note::VerifierKey;
use crate::proof::verify_inclusion;

const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub entry: Vec<u8>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl Receipt {
    pub fn to_text(&self) -> String {
        let mut out = format!("{HEADER}\nextra {}\nindex {}\n", B64.encode(&self.entry), self.index);
        for h in &self.proof {
            out.push_str(&to_base64(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Receipt, String> {
        let (head, checkpoint) = text.split_once("\n\n").ok_or("a receipt needs a blank line before its checkpoint")?;
        let mut lines = head.lines();
        if lines.next() != Some(HEADER) {
            return Err(format!("a receipt starts with `{HEADER}`"));
        }
        let mut entry = None;
        let mut index = None;
        let mut proof = Vec::new();
        for line in lines {
            if let Some(b64) = line.strip_prefix("extra ") {
                entry = Some(B64.decode(b64).map_err(|_| "the extra data is not base64")?);
            } else if let Some(i) = line.strip_prefix("index ") {
                index = Some(i.parse::<u64>().map_err(|_| format!("bad index `{i}`"))?);
            } else {
                proof.push(from_base64(line).ok_or_else(|| format!("bad proof hash `{line}`"))?);
            }
        }
        Ok(Receipt {
            entry: entry.ok_or("the receipt does not carry the entry (extra)")?,
            index: index.ok_or("the receipt has no index")?,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Checks the checkpoint's signature with `key` and the entry's inclusion in that tree.
    pub fn verify(&self, key: &VerifierKey) -> Result<Checkpoint, String> {
        let body = key.open(&self.checkpoint).map_err(|e| e.to_string())?;
        let checkpoint = Checkpoint::parse(body)?;
        verify_inclusion(self.index, checkpoint.size, &leaf_hash(&self.entry), &self.proof, &checkpoint.root)
            .map_err(|e| e.to_string())?;
        Ok(checkpoint)
    }
}
