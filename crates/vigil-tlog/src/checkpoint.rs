//! C2SP tlog-checkpoint: the body of the signed note a log publishes for each tree head.

use crate::hash::{from_base64, to_base64, Hash};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, to_base64(&self.root))
    }

    /// Parses a checkpoint body (extension lines after the third are allowed and ignored).
    pub fn parse(body: &str) -> Result<Checkpoint, String> {
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or("a checkpoint must start with its origin")?;
        let size_line = lines.next().ok_or("a checkpoint must give its tree size")?;
        let size: u64 = size_line.parse().map_err(|_| format!("bad tree size `{size_line}`"))?;
        if size_line != size.to_string() {
            return Err(format!("bad tree size `{size_line}`"));
        }
        let root_line = lines.next().ok_or("a checkpoint must give its root hash")?;
        let root = from_base64(root_line).ok_or_else(|| format!("bad root hash `{root_line}`"))?;
        if !body.ends_with('\n') {
            return Err("a checkpoint body must end with a newline".into());
        }
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips() {
        let c = Checkpoint { origin: "example.test/audit".into(), size: 42, root: [7; 32] };
        assert_eq!(c.body(), "example.test/audit\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n");
        assert_eq!(Checkpoint::parse(&c.body()).unwrap(), c);
        assert!(Checkpoint::parse("o\n042\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n").is_err());
        assert!(Checkpoint::parse("o\n42\nnot-base64\n").is_err());
    }
}
