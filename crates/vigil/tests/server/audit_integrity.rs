//! The audit log's integrity against the running binary: the tlog-tiles API, inclusion and consistency proofs,
//! receipts, the checkpoints published into the journal, restarts and crashes, and `vigil audit verify`.
//!
//! Everything the server serves is checked twice: with `vigil_tlog`'s own verification functions, and with the
//! RFC 9162 algorithms written out again below ([`rfc9162`]) straight from the RFC's text, with SHA-256 taken from
//! `vigil_core`, so the server's trees and proofs are also judged by code that shares nothing with the server's.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use vigil_core::Digest;
use vigil_tlog::proof::{verify_consistency, verify_inclusion};
use vigil_tlog::receipt::Receipt;
use vigil_tlog::{Accumulator, Checkpoint, Hash, SignerKey, VerifierKey};

use super::{push_blob, start, vigil, Server, ADMIN_PASSWORD};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// How long a test waits for something the server does within about a second.
const PATIENCE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------------------------
// RFC 9162, written again from the RFC's text
// ---------------------------------------------------------------------------------------------------------------

/// RFC 9162 §2.1: the Merkle tree hash, and the verification algorithms of §2.1.3.2 and §2.1.4.2, step by step as
/// the RFC words them. Nothing here comes from `vigil_tlog`.
mod rfc9162 {
    use vigil_core::Digest;

    pub type H = [u8; 32];

    pub fn sha256(parts: &[&[u8]]) -> H {
        let bytes: Vec<u8> = parts.concat();
        let hex = Digest::sha256_of(&bytes).hex().to_owned();
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// MTH({d(0)}) = SHA-256(0x00 || d(0)).
    pub fn leaf(entry: &[u8]) -> H {
        sha256(&[&[0x00], entry])
    }

    /// SHA-256(0x01 || left || right).
    pub fn node(left: &H, right: &H) -> H {
        sha256(&[&[0x01], left, right])
    }

    /// MTH(D[n]) over leaf hashes, by the recursive definition: the empty tree hashes to SHA-256(); otherwise split
    /// at k, the largest power of two smaller than n.
    pub fn mth(d: &[H]) -> H {
        match d.len() {
            0 => sha256(&[]),
            1 => d[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn lsb(x: u64) -> bool {
        x & 1 == 1
    }

    /// §2.1.3.2: verifying an inclusion proof.
    pub fn verify_inclusion(leaf_index: u64, tree_size: u64, hash: &H, inclusion_path: &[H], root_hash: &H) -> bool {
        // 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to tree_size, then fail.
        if leaf_index >= tree_size {
            return false;
        }
        // 2. Set fn to leaf_index and sn to tree_size - 1.
        let (mut f, mut s) = (leaf_index, tree_size - 1);
        // 3. Set r to hash.
        let mut r = *hash;
        // 4. For each value p in the inclusion_path array:
        for p in inclusion_path {
            // a. If sn is 0, then stop the iteration and fail the proof verification.
            if s == 0 {
                return false;
            }
            // b. If LSB(fn) is set, or if fn is equal to sn, then:
            if lsb(f) || f == s {
                // 1. Set r to HASH(0x01 || p || r).
                r = node(p, &r);
                // 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or
                //    fn is 0.
                if !lsb(f) {
                    while !lsb(f) && f != 0 {
                        f >>= 1;
                        s >>= 1;
                    }
                }
            } else {
                // Otherwise: Set r to HASH(0x01 || r || p).
                r = node(&r, p);
            }
            // c. Finally, right-shift both fn and sn one time.
            f >>= 1;
            s >>= 1;
        }
        // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the root_hash are
        //    equal, then the log has proven the inclusion of hash. Otherwise, fail the proof verification.
        s == 0 && r == *root_hash
    }

    /// §2.1.4.2: verifying consistency between the trees of `first` and `second` leaves. The RFC's algorithm is
    /// for 0 < first < second; equal sizes are consistent with an empty proof and equal roots, and every tree
    /// extends the empty one.
    pub fn verify_consistency(
        first: u64,
        second: u64,
        first_hash: &H,
        second_hash: &H,
        consistency_path: &[H],
    ) -> bool {
        if first > second {
            return false;
        }
        if first == second {
            return consistency_path.is_empty() && first_hash == second_hash;
        }
        if first == 0 {
            return consistency_path.is_empty();
        }
        // 1. If consistency_path is an empty array, stop and fail the proof verification.
        if consistency_path.is_empty() {
            return false;
        }
        // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
        let mut path: Vec<H> = Vec::new();
        if first.is_power_of_two() {
            path.push(*first_hash);
        }
        path.extend_from_slice(consistency_path);
        // 3. Set fn to first - 1 and sn to second - 1.
        let (mut f, mut s) = (first - 1, second - 1);
        // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
        while lsb(f) {
            f >>= 1;
            s >>= 1;
        }
        // 5. Set both fr and sr to the first value in the consistency_path array.
        let (mut fr, mut sr) = (path[0], path[0]);
        // 6. For each subsequent value c in the consistency_path array:
        for c in &path[1..] {
            // a. If sn is 0, then stop the iteration and fail the proof verification.
            if s == 0 {
                return false;
            }
            // b. If LSB(fn) is set, or if fn is equal to sn, then:
            if lsb(f) || f == s {
                // 1. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
                fr = node(c, &fr);
                sr = node(c, &sr);
                // 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or
                //    fn is 0.
                if !lsb(f) {
                    while !lsb(f) && f != 0 {
                        f >>= 1;
                        s >>= 1;
                    }
                }
            } else {
                // Otherwise: Set sr to HASH(0x01 || sr || c).
                sr = node(&sr, c);
            }
            // c. Finally, right-shift both fn and sn one time.
            f >>= 1;
            s >>= 1;
        }
        // 7. After completing iterating through the consistency_path array as described above, verify that the fr
        //    calculated is equal to the first_hash supplied, that the sr calculated is equal to the second_hash
        //    supplied, and that sn is 0.
        fr == *first_hash && sr == *second_hash && s == 0
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", B64.encode(format!("{user}:{password}")))
}

/// A client sending `authorization` on every request (none: anonymous).
fn http(auth: Option<String>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(a) = auth {
        headers.insert("authorization", a.parse().unwrap());
    }
    reqwest::Client::builder().timeout(Duration::from_secs(30)).default_headers(headers).build().unwrap()
}

fn admin() -> reqwest::Client {
    http(Some(basic("admin", ADMIN_PASSWORD)))
}

fn b64_hash(s: &str) -> Hash {
    B64.decode(s).unwrap_or_else(|e| panic!("{s:?} is not base64: {e}")).try_into().expect("a hash is 32 bytes")
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().expect("an array of hashes").iter().map(|h| b64_hash(h.as_str().unwrap())).collect()
}

/// C2SP tlog-tiles' spelling of a tile index: groups of three digits, all but the last prefixed with `x`.
fn tile_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// `/audit/tile/<kind>/<N>[.p/<W>]` (width 256 is the full tile).
fn tile_url(base: &str, kind: &str, index: u64, width: u64) -> String {
    let partial = if width == 256 { String::new() } else { format!(".p/{width}") };
    format!("{base}/audit/tile/{kind}/{}{partial}", tile_index(index))
}

/// A checkpoint note read independently of `vigil_tlog`: `origin`, `size` and `root` are its first three lines.
fn parse_note_body(note: &str) -> (String, u64, Hash) {
    let (body, _sigs) = note.split_once("\n\n").expect("a note has a blank line before its signatures");
    let lines: Vec<&str> = body.split('\n').collect();
    assert!(lines.len() >= 3, "checkpoint body too short: {body:?}");
    (lines[0].to_owned(), lines[1].parse().expect("size"), b64_hash(lines[2]))
}

/// Verifies the Ed25519 signature of `key_text` (a C2SP verifier key, `name+hex(id)+base64(0x01 || key)`) on a
/// C2SP signed note with the openssl CLI, parsing key and note by the c2sp.org/signed-note spec, not with
/// `vigil_tlog`. False when the note carries no signature by that key or the signature is wrong.
fn openssl_verifies(key_text: &str, note: &str) -> bool {
    let mut parts = key_text.trim().splitn(3, '+');
    let (name, id_hex, material) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let raw = B64.decode(material).unwrap();
    assert_eq!((raw.len(), raw[0]), (33, 0x01), "an Ed25519 verifier key");
    let public = &raw[1..];
    // The key id is the first four bytes of SHA-256(name || "\n" || 0x01 || public key).
    let id = rfc9162::sha256(&[name.as_bytes(), b"\n", &[0x01], public]);
    let id = &id[..4];
    assert_eq!(id.iter().map(|b| format!("{b:02x}")).collect::<String>(), id_hex, "the key id");
    let Some(split) = note.find("\n\n") else { return false };
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    for line in signatures.lines() {
        let Some((who, sig)) = line.strip_prefix("\u{2014} ").and_then(|l| l.split_once(' ')) else { continue };
        let blob = B64.decode(sig).unwrap();
        if who != name || blob.len() != 68 || &blob[..4] != id {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        // SubjectPublicKeyInfo of an Ed25519 key: a fixed 12-byte DER prefix, then the key.
        let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        der.extend_from_slice(public);
        std::fs::write(tmp.path().join("key.der"), der).unwrap();
        std::fs::write(tmp.path().join("text"), text).unwrap();
        std::fs::write(tmp.path().join("sig"), &blob[4..]).unwrap();
        let out = Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "key.der", "-rawin"])
            .args(["-in", "text", "-sigfile", "sig"])
            .current_dir(tmp.path())
            .output()
            .expect("openssl");
        return out.status.success();
    }
    false
}

/// Opens `note` with `key`, parses it, and cross-checks it against the independent reading.
fn open_checkpoint(key: &VerifierKey, note: &str) -> Checkpoint {
    let body = key.open(note).unwrap_or_else(|e| panic!("checkpoint does not verify: {e}\n{note}"));
    let cp = Checkpoint::parse(body).unwrap_or_else(|e| panic!("checkpoint does not parse: {e}\n{note}"));
    assert_eq!(parse_note_body(note), (cp.origin.clone(), cp.size, cp.root));
    cp
}

async fn fetch_key(base: &str) -> VerifierKey {
    let r = http(None).get(format!("{base}/audit/key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    VerifierKey::parse(r.text().await.unwrap().trim()).expect("/audit/key is a verifier key")
}

/// The served checkpoint, verified; `None` while none is signed (503).
async fn fetch_checkpoint(base: &str, key: &VerifierKey) -> Option<(Checkpoint, String)> {
    let r = http(None).get(format!("{base}/audit/checkpoint")).send().await.unwrap();
    if r.status() == 503 {
        return None;
    }
    assert_eq!(r.status(), 200);
    let note = r.text().await.unwrap();
    Some((open_checkpoint(key, &note), note))
}

/// Waits for a served checkpoint of at least `min` entries.
async fn wait_checkpoint(base: &str, key: &VerifierKey, min: u64) -> (Checkpoint, String) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some((cp, note)) = fetch_checkpoint(base, key).await {
            if cp.size >= min {
                return (cp, note);
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint of size >= {min} within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The leaf hashes of the tree of `size`, from its level-0 tiles (full ones, then the partial one).
async fn fetch_leaves(base: &str, size: u64) -> Vec<Hash> {
    let c = http(None);
    let mut out = Vec::new();
    for i in 0..size.div_ceil(256) {
        let width = (size - i * 256).min(256);
        let r = c.get(tile_url(base, "0", i, width)).send().await.unwrap();
        assert_eq!(r.status(), 200, "tile 0/{i} width {width}");
        let bytes = r.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, width * 32, "tile 0/{i} width {width}");
        out.extend(bytes.chunks_exact(32).map(|h| <Hash>::try_from(h).unwrap()));
    }
    out
}

/// Checks a consistency proof the server serves between two checkpoints, with both verifiers.
async fn assert_consistent(base: &str, old: &Checkpoint, new: &Checkpoint) {
    let r = admin()
        .get(format!("{base}/api/v1/audit/proof/consistency?from={}&to={}", old.size, new.size))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "consistency {} -> {}", old.size, new.size);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["from"].as_u64(), v["to"].as_u64()), (Some(old.size), Some(new.size)));
    let proof = hashes(&v["proof"]);
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
        .unwrap_or_else(|e| panic!("vigil_tlog: checkpoint {} -> {}: {e}", old.size, new.size));
    assert!(
        rfc9162::verify_consistency(old.size, new.size, &old.root, &new.root, &proof),
        "RFC 9162: checkpoint {} does not extend to {}",
        old.size,
        new.size
    );
}

/// The raw lines of a JSONL file up to its last newline.
fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes[..end].split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

fn parse(line: &[u8]) -> Value {
    serde_json::from_slice(line).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(line)))
}

/// Waits until the log is quiet: the last line of `audit.jsonl` is the checkpoint signed over everything before
/// it. Returns the file's lines.
async fn settled(data: &Path) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lines = lines_of(&data.join("audit.jsonl"));
        if let Some(last) = lines.last().map(|l| parse(l)) {
            if last["action"] == "audit_checkpoint" {
                let (_, size, _) = parse_note_body(last["detail"].as_str().unwrap());
                if size + 1 == last["seq"].as_u64().unwrap() && size + 1 == lines.len() as u64 {
                    return lines;
                }
            }
        }
        assert!(Instant::now() < deadline, "the audit log did not settle within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `vigil` with `args` and `envs`, stdin closed.
fn run(data: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    vigil(data).args(args).envs(envs.iter().copied()).stdin(Stdio::null()).output().unwrap()
}

/// stdout and stderr together.
fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs a `vigil` command that must succeed, feeding `stdin`; returns its stdout.
fn cli(data: &Path, args: &[&str], stdin: &str) -> String {
    let mut child =
        vigil(data).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil {args:?}: {}", said(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Stops the server with SIGTERM and waits for it to exit.
fn stop(mut s: Server) {
    let status = Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    while s.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "vigil did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `vigil serve`, which must refuse to start: returns its stderr.
fn refused_start(data: &Path) -> String {
    let mut child = vigil(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines() {
            text.push_str(&line.unwrap_or_default());
            text.push('\n');
        }
        text
    });
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vigil kept running: {}", reader.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = reader.join().unwrap();
    assert!(!status.success(), "vigil exited successfully: {text}");
    assert!(!text.contains("vigil listening"), "vigil listened before refusing: {text}");
    text
}

/// Runs a python3 sqlite3 script on the data directory's database (`sys.argv[1]`), with more arguments.
fn python_sql(data: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new("python3").arg("-c").arg(script).arg(data.join("vigil.db")).args(args).output().unwrap();
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Changes one byte of journal row `seq` (the first letter of its action), in place and as a BLOB; returns the
/// row's original bytes in hex.
fn tamper_journal_row(data: &Path, seq: u64) -> String {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1]); seq = int(sys.argv[2])\n\
                  (e,) = c.execute('SELECT event FROM journal WHERE seq=?', (seq,)).fetchone()\n\
                  b = bytearray(e if isinstance(e, bytes) else e.encode())\n\
                  print(bytes(b).hex())\n\
                  i = b.index(b'\"action\":\"') + 10\n\
                  b[i] = ord('X') if b[i] != ord('X') else ord('Y')\n\
                  c.execute('UPDATE journal SET event=? WHERE seq=?', (bytes(b), seq)); c.commit()\n";
    python_sql(data, script, &[&seq.to_string()])
}

fn restore_journal_row(data: &Path, seq: u64, hex: &str) {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  c.execute('UPDATE journal SET event=? WHERE seq=?', (bytes.fromhex(sys.argv[3]), int(sys.argv[2])))\n\
                  c.commit()\n";
    python_sql(data, script, &[&seq.to_string(), hex]);
}

fn journal_event(data: &Path, seq: u64) -> Vec<u8> {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  (e,) = c.execute('SELECT event FROM journal WHERE seq=?', (int(sys.argv[2]),)).fetchone()\n\
                  print((e if isinstance(e, bytes) else e.encode()).hex())\n";
    let hex = python_sql(data, script, &[&seq.to_string()]);
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn delete_tile_files(data: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(data.join("tlog")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("level-") && name.ends_with(".hashes") {
            std::fs::remove_file(e.path()).unwrap();
            n += 1;
        }
    }
    n
}

/// Flips one byte of leaf hash `index` in the level-0 tile file.
fn damage_leaf_hash(data: &Path, index: usize) {
    let level0 = data.join("tlog/level-0.hashes");
    let mut bytes = std::fs::read(&level0).unwrap();
    assert!(bytes.len() >= (index + 1) * 32);
    bytes[index * 32 + 7] ^= 0xff;
    std::fs::write(&level0, bytes).unwrap();
}

/// The checkpoint the server remembers in `{data_dir}/tlog/checkpoint`.
fn remembered(data: &Path, key: &VerifierKey) -> Checkpoint {
    open_checkpoint(key, &std::fs::read_to_string(data.join("tlog/checkpoint")).expect("a remembered checkpoint"))
}

fn manifest_for(layer: &Digest, size: usize, config: &Digest) -> String {
    json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": size}],
    })
    .to_string()
}

/// Pushes an image; returns the `Vigil-Audit-Seq` of its manifest PUT.
async fn push_seq(c: &reqwest::Client, base: &str, repo: &str, tag: &str, layer: &[u8]) -> u64 {
    let l = push_blob(c, base, repo, layer.to_vec()).await.unwrap();
    let config = push_blob(c, base, repo, b"{}".to_vec()).await.unwrap();
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest_for(&l, layer.len(), &config))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.headers()["vigil-audit-seq"].to_str().unwrap().parse().expect("Vigil-Audit-Seq is a number")
}

/// Like [`push_seq`] but never panics (for a server about to be killed): `Some(seq)` when acknowledged.
async fn try_push_seq(c: &reqwest::Client, base: &str, repo: &str, tag: &str, layer: Vec<u8>) -> Option<u64> {
    let size = layer.len();
    let d = Digest::sha256_of(&layer);
    let r = c.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}")).body(layer).send().await.ok()?;
    if r.status() != 201 {
        return None;
    }
    let config = Digest::sha256_of(b"{}");
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest_for(&d, size, &config))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    r.headers().get("vigil-audit-seq")?.to_str().ok()?.parse().ok()
}

/// An API error's status and message.
async fn error_of(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("error body is not JSON: {text}"));
    (status, v["error_message"].as_str().unwrap_or_default().to_owned())
}

/// The node name vigil records when none is configured (what `vigil_audit::event::default_node` reads).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil".into())
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The tiles API
// ---------------------------------------------------------------------------------------------------------------

/// More than 256 events: the key and the checkpoint verify, the level-0 tiles (one full, one partial) fold to
/// the checkpoint's root by RFC 9162's definition and by `Accumulator`, the level-1 tile holds the full tile's
/// root, full tiles are immutable, entry bundles are for global admins only and hash to the leaves, bad or
/// future tile paths are 404, and `vigil audit verify --url` agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_api_serves_a_verifiable_tree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let base = s.base.clone();
    let anon = http(None);

    let key = fetch_key(&base).await;
    let origin = format!("{}/vigil-audit", host_name());
    assert_eq!(key.name(), origin, "the key is named after the default origin");

    // 300 requests, 300 events.
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (c, base) = (admin(), base.clone());
        workers.push(tokio::spawn(async move {
            for _ in 0..50 {
                assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let (cp, note) = wait_checkpoint(&base, &key, 300).await;
    assert_eq!(cp.origin, origin);
    assert!(cp.size > 256 && cp.size < 512, "size {}", cp.size);
    let r = anon.get(format!("{base}/audit/checkpoint")).send().await.unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    // The signature, checked by openssl; a changed body or another key fails.
    assert!(openssl_verifies(&key.to_text(), &note), "openssl rejects the checkpoint's signature:\n{note}");
    let forged = note.replacen(&format!("\n{}\n", cp.size), &format!("\n{}\n", cp.size + 1), 1);
    assert!(!openssl_verifies(&key.to_text(), &forged), "openssl accepted a forged checkpoint");
    let stranger = SignerKey::generate(&origin).unwrap();
    assert!(!openssl_verifies(&stranger.verifier().to_text(), &note));
    assert!(openssl_verifies(&stranger.verifier().to_text(), &stranger.sign(&cp.body())));

    // Hash tiles, anonymously: a full one (immutable) and the partial one for the checkpoint's size.
    let full = anon.get(tile_url(&base, "0", 0, 256)).send().await.unwrap();
    assert_eq!(full.status(), 200);
    let cache = full.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("immutable") && cache.contains("public"), "full tile cache-control: {cache}");
    assert_eq!(full.bytes().await.unwrap().len(), 256 * 32);
    let partial = anon.get(tile_url(&base, "0", 1, cp.size - 256)).send().await.unwrap();
    assert_eq!(partial.status(), 200);
    let cache = partial.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(!cache.contains("immutable"), "a partial tile is not immutable: {cache}");
    let leaves = fetch_leaves(&base, cp.size).await;
    assert_eq!(rfc9162::mth(&leaves), cp.root, "the tiles do not fold to the checkpoint's root (RFC 9162 MTH)");
    let mut acc = Accumulator::new();
    leaves.iter().for_each(|l| acc.push(*l));
    assert_eq!(acc.root(), cp.root, "the tiles do not fold to the checkpoint's root (Accumulator)");
    // Level 1 holds the root of each full level-0 tile.
    let r = anon.get(tile_url(&base, "1", 0, 1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), rfc9162::mth(&leaves[..256]).as_slice());

    // Entry bundles: 401 anonymous, 403 for a user who is not a global admin, the entries for an admin.
    cli(d, &["user", "add", "bob", "--password-stdin"], "bob-password\n");
    let bob = http(Some(basic("bob", "bob-password")));
    let url = tile_url(&base, "entries", 0, 256);
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(bob.get(&url).send().await.unwrap().status(), 403);
    let file = lines_of(&d.join("audit.jsonl"));
    let mut checked = 0;
    for (i, width) in [(0, 256), (1, cp.size - 256)] {
        let r = admin().get(tile_url(&base, "entries", i, width)).send().await.unwrap();
        assert_eq!(r.status(), 200, "entries {i}.p/{width}");
        let cache = r.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cache.contains("private") && !cache.contains("public"), "entry bundles are private: {cache}");
        let bundle = r.bytes().await.unwrap();
        let entries = vigil_tlog::tile::unbundle(&bundle).unwrap();
        assert_eq!(entries.len() as u64, width);
        for (j, e) in entries.iter().enumerate() {
            let n = i as usize * 256 + j;
            assert_eq!(rfc9162::leaf(e), leaves[n], "entry {n} does not hash to leaf {n}");
            assert_eq!(vigil_tlog::leaf_hash(e), leaves[n]);
            assert_eq!(*e, file[n].as_slice(), "entry {n} is not line {} of audit.jsonl", n + 1);
            assert_eq!(parse(e)["seq"].as_u64(), Some(n as u64 + 1), "leaf index = seq - 1");
            checked += 1;
        }
    }
    assert_eq!(checked, cp.size);

    // Malformed tile paths and tiles beyond the tree.
    for bad in [
        "0/5",
        "0/0000",
        "0/x000/005",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/07",
        "0/000.p/",
        "01/000",
        "64/000",
        "-1/000",
        "x/000",
        "0",
        "0/",
        "0/000/",
        "entries/5",
        "entries/000.p/0",
        "0/abc",
    ] {
        let r = admin().get(format!("{base}/audit/tile/{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "tile/{bad}");
    }
    for beyond in
        ["0/005", "0/x001/000", "0/002.p/1", "1/000", "1/001.p/1", "2/000.p/1", "entries/005", "entries/002.p/1"]
    {
        let r = admin().get(format!("{base}/audit/tile/{beyond}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "tile/{beyond} is beyond the tree");
    }

    // The served checkpoint is the one remembered on disk (or an older one, if a newer was signed meanwhile).
    // One read: a second one could see a checkpoint signed in between.
    let on_disk_note = std::fs::read_to_string(d.join("tlog/checkpoint")).unwrap();
    let on_disk = open_checkpoint(&key, &on_disk_note);
    assert!(on_disk.size > cp.size || on_disk_note == note, "on disk {on_disk:?}, served {note}");

    // `vigil audit verify --url` against the running server, with an admin's credentials and the pinned key.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(
        elsewhere.path(),
        &["audit", "verify", "--url", &base, "--user", "admin", "--key", &key.to_text()],
        &[("VIGIL_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(out.status.success(), "vigil audit verify --url: {}", said(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK: the audit log verifies"), "{}", said(&out));
    // The wrong key pinned is a failure there too.
    let other = SignerKey::generate(&origin).unwrap().verifier().to_text();
    let out = run(elsewhere.path(), &["audit", "verify", "--url", &base, "--key", &other], &[]);
    assert!(!out.status.success(), "verify --url with a different key passed: {}", said(&out));
    drop(s);
}

/// The origin is `<public_url host>/vigil-audit`, else `<node>/vigil-audit`; `audit.tlog.origin` overrides it,
/// also on a data directory that already has checkpoints under another origin.
#[tokio::test]
async fn checkpoint_origin_defaults_to_the_host_and_config_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_PUBLIC_URL", "https://registry.example.test")]);
    let key = fetch_key(&s.base).await;
    let (cp, _) = wait_checkpoint(&s.base, &key, 1).await;
    assert_eq!(cp.origin, "registry.example.test/vigil-audit");
    assert_eq!(key.name(), cp.origin);
    drop(s);

    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[("VIGIL_AUDIT__NODE", "node-7")]);
    let key = fetch_key(&s.base).await;
    let (cp, _) = wait_checkpoint(&s.base, &key, 1).await;
    assert_eq!(cp.origin, "node-7/vigil-audit");
    let before = cp.size;
    stop(s);

    // Configured in vigil.toml (the server's working directory is the data directory).
    std::fs::write(dir.path().join("vigil.toml"), "[audit.tlog]\norigin = \"audit.example.test/log\"\n").unwrap();
    let s = start(dir.path(), &[("VIGIL_AUDIT__NODE", "node-7")]);
    let key = fetch_key(&s.base).await;
    let deadline = Instant::now() + PATIENCE;
    let cp = loop {
        if let Some((cp, _)) = fetch_checkpoint(&s.base, &key).await {
            if cp.origin == "audit.example.test/log" {
                break cp;
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint with the configured origin");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // A new log over the same journal: it covers the entries of the old one.
    assert!(cp.size > before, "the new log's checkpoint {} does not cover the journal ({before})", cp.size);
    let leaves = fetch_leaves(&s.base, cp.size).await;
    assert_eq!(rfc9162::mth(&leaves), cp.root);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Proofs
// ---------------------------------------------------------------------------------------------------------------

/// The inclusion proof of a push's `Vigil-Audit-Seq` and the consistency proof between two checkpoints verify
/// (and fail once tampered with); bad input is a 400 that says what is wrong; anonymous callers get 401.
#[tokio::test]
async fn proofs_verify_against_checkpoints_and_bad_input_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &[]);
    let base = s.base.clone();
    let c = admin();
    let key = fetch_key(&base).await;

    let seq = push_seq(&c, &base, "proofs/app", "v1", b"proof layer one").await;
    let (cp1, _) = wait_checkpoint(&base, &key, seq).await;

    // The event itself, then its inclusion at the size of cp1.
    let r = c.get(format!("{base}/api/v1/audit/events/{seq}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let event = r.bytes().await.unwrap().to_vec();
    let ev = parse(&event);
    assert_eq!(ev["seq"].as_u64(), Some(seq));
    assert_eq!(ev["operation"], "PutManifest");
    assert_eq!((ev["target"]["repository"].as_str(), ev["target"]["tag"].as_str()), (Some("proofs/app"), Some("v1")));
    let r = c.get(format!("{base}/api/v1/audit/proof/inclusion?seq={seq}&size={}", cp1.size)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["seq"].as_u64(), Some(seq));
    assert_eq!(v["leaf_index"].as_u64(), Some(seq - 1));
    assert_eq!(v["tree_size"].as_u64(), Some(cp1.size));
    let leaf = b64_hash(v["leaf_hash"].as_str().unwrap());
    assert_eq!(leaf, rfc9162::leaf(&event), "the served leaf hash is not the event's");
    let proof = hashes(&v["proof"]);
    verify_inclusion(seq - 1, cp1.size, &leaf, &proof, &cp1.root).unwrap();
    assert!(rfc9162::verify_inclusion(seq - 1, cp1.size, &rfc9162::leaf(&event), &proof, &cp1.root));
    // The verifiers are not vacuous: another leaf, a changed hash, a cut proof all fail.
    assert!(!rfc9162::verify_inclusion(seq - 1, cp1.size, &rfc9162::leaf(b"other"), &proof, &cp1.root));
    let mut bad = proof.clone();
    bad[0][0] ^= 1;
    assert!(!rfc9162::verify_inclusion(seq - 1, cp1.size, &leaf, &bad, &cp1.root));
    assert!(verify_inclusion(seq - 1, cp1.size, &leaf, &bad, &cp1.root).is_err());
    assert!(!rfc9162::verify_inclusion(seq - 1, cp1.size, &leaf, &proof[1..], &cp1.root));
    assert!(!rfc9162::verify_inclusion(seq, cp1.size, &leaf, &proof, &cp1.root));
    // And the tiles agree with cp1.
    assert_eq!(rfc9162::mth(&fetch_leaves(&base, cp1.size).await), cp1.root);

    // The tree grows; a checkpoint fetched later is consistent with the earlier one.
    let seq2 = push_seq(&c, &base, "proofs/app", "v2", b"proof layer two").await;
    let (cp2, _) = wait_checkpoint(&base, &key, seq2).await;
    assert!(cp2.size > cp1.size);
    assert_consistent(&base, &cp1, &cp2).await;
    let r = c.get(format!("{base}/api/v1/audit/proof/consistency?from={}&to={}", cp1.size, cp2.size)).send().await;
    let proof = hashes(&r.unwrap().json::<Value>().await.unwrap()["proof"]);
    let mut bad = proof.clone();
    let last = bad.len() - 1;
    bad[last][31] ^= 0x80;
    assert!(!rfc9162::verify_consistency(cp1.size, cp2.size, &cp1.root, &cp2.root, &bad));
    assert!(!rfc9162::verify_consistency(cp1.size, cp2.size, &cp2.root, &cp1.root, &proof));
    assert!(verify_consistency(cp1.size, cp2.size, &cp1.root, &cp2.root, &bad).is_err());
    // The earlier event is still included in the later tree.
    let r = c.get(format!("{base}/api/v1/audit/proof/inclusion?seq={seq}&size={}", cp2.size)).send().await.unwrap();
    let proof = hashes(&r.json::<Value>().await.unwrap()["proof"]);
    assert!(rfc9162::verify_inclusion(seq - 1, cp2.size, &leaf, &proof, &cp2.root));

    // Without a size: the latest checkpoint, whose note comes along.
    let r = c.get(format!("{base}/api/v1/audit/proof/inclusion?seq={seq2}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let latest = open_checkpoint(&key, v["checkpoint"].as_str().expect("the latest checkpoint's note"));
    assert_eq!(v["tree_size"].as_u64(), Some(latest.size));
    let leaf2 = b64_hash(v["leaf_hash"].as_str().unwrap());
    assert!(rfc9162::verify_inclusion(seq2 - 1, latest.size, &leaf2, &hashes(&v["proof"]), &latest.root));
    let r = c.get(format!("{base}/api/v1/audit/proof/consistency?from={}", cp1.size)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let latest = open_checkpoint(&key, v["checkpoint"].as_str().expect("the latest checkpoint's note"));
    assert_eq!(v["to"].as_u64(), Some(latest.size));
    assert!(rfc9162::verify_consistency(cp1.size, latest.size, &cp1.root, &latest.root, &hashes(&v["proof"])));
    // Equal sizes and size 0: empty proofs.
    for from in [cp1.size, 0] {
        let r = c.get(format!("{base}/api/v1/audit/proof/consistency?from={from}&to={}", cp1.size)).send().await;
        let v: Value = r.unwrap().json().await.unwrap();
        assert_eq!(v["proof"], json!([]), "from {from}");
    }

    // Bad input: 400 with a message saying what is wrong.
    let huge = 1_000_000_000u64;
    let cases: Vec<(String, &str)> = vec![
        ("inclusion?seq=abc".into(), "`seq` must be a non-negative integer"),
        ("inclusion?seq=-1".into(), "`seq` must be a non-negative integer"),
        ("inclusion".into(), "`seq` is required"),
        ("inclusion?seq=1&size=abc".into(), "`size` must be a non-negative integer"),
        (format!("consistency?from={}&to={}", cp2.size, cp1.size), "larger than"),
        (format!("consistency?from={huge}"), "larger than"),
        ("consistency?from=abc".into(), "`from` must be a non-negative integer"),
        ("consistency?from=1&to=x".into(), "`to` must be a non-negative integer"),
        ("consistency".into(), "`from` is required"),
    ];
    for (query, says) in cases {
        let r = c.get(format!("{base}/api/v1/audit/proof/{query}")).send().await.unwrap();
        let (status, message) = error_of(r).await;
        assert_eq!(status, 400, "{query}: {message}");
        assert!(message.contains(says), "{query}: {message:?} does not say {says:?}");
    }
    // A size beyond the tree is not found, and the answer names the tree's size.
    for query in [format!("inclusion?seq=1&size={huge}"), format!("consistency?from=1&to={huge}")] {
        let r = c.get(format!("{base}/api/v1/audit/proof/{query}")).send().await.unwrap();
        let (status, message) = error_of(r).await;
        assert_eq!(status, 404, "{query}: {message}");
        assert!(message.contains("the tree has") && message.contains(&format!("not {huge}")), "{query}: {message}");
    }
    // seq 0 and a seq beyond the checkpoint are not in the tree.
    for q in ["seq=0".to_owned(), format!("seq={huge}")] {
        let r = c.get(format!("{base}/api/v1/audit/proof/inclusion?{q}")).send().await.unwrap();
        let (status, message) = error_of(r).await;
        assert_eq!(status, 404, "{q}: {message}");
        assert!(message.contains("not in the tree"), "{q}: {message}");
    }

    // Unauthenticated and wrongly authenticated callers.
    let wrong = http(Some(basic("admin", "not-the-password")));
    for path in [
        format!("proof/inclusion?seq={seq}"),
        format!("proof/consistency?from=1&to={}", cp1.size),
        format!("events/{seq}"),
        format!("receipt/{seq}"),
    ] {
        for (who, client) in [("anonymous", http(None)), ("wrong password", wrong.clone())] {
            let r = client.get(format!("{base}/api/v1/audit/{path}")).send().await.unwrap();
            assert_eq!(r.status(), 401, "{who}: {path}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Receipts
// ---------------------------------------------------------------------------------------------------------------

/// A user with push rights gets receipts for their own events only (another user's event is a 404, as a missing
/// one is); receipts verify offline, with `vigil_tlog`, with the RFC's algorithm and with `vigil audit verify
/// --receipt`; a one-byte change in the receipt's entry fails verification.
#[tokio::test]
async fn receipts_are_for_their_own_events_and_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let base = s.base.clone();
    let key = fetch_key(&base).await;
    for user in ["bob", "carol"] {
        cli(d, &["user", "add", user, "--password-stdin"], &format!("{user}-password\n"));
    }
    cli(d, &["org", "create", "acme"], "");
    cli(d, &["grant", "acme/app", "bob", "--role", "write"], "");
    cli(d, &["grant", "acme/app", "carol", "--role", "write"], "");
    let bob = http(Some(basic("bob", "bob-password")));
    let carol = http(Some(basic("carol", "carol-password")));
    let seq_bob = push_seq(&bob, &base, "acme/app", "bob", b"bob's layer").await;
    let seq_carol = push_seq(&carol, &base, "acme/app", "carol", b"carol's layer").await;
    let seq_admin = push_seq(&admin(), &base, "acme/app", "admin", b"admin's layer").await;
    let (cp, _) = wait_checkpoint(&base, &key, seq_admin).await;

    let r = bob.get(format!("{base}/api/v1/audit/receipt/{seq_bob}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let receipt = Receipt::parse(&text).expect("a C2SP tlog-proof receipt");
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\n"), "{text}");
    assert_eq!(receipt.index, seq_bob - 1);
    let signed = receipt.verify(&key).expect("the receipt verifies with vigil_tlog");
    assert!(signed.size >= cp.size);
    let ev = parse(&receipt.entry);
    assert_eq!(ev["seq"].as_u64(), Some(seq_bob));
    assert_eq!(ev["operation"], "PutManifest");
    let own = bob.get(format!("{base}/api/v1/audit/events/{seq_bob}")).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.bytes().await.unwrap().as_ref(), receipt.entry.as_slice(), "the receipt carries the event");
    // Independently: the note's body, then RFC 9162 inclusion of the entry's leaf.
    let (_, size, root) = parse_note_body(&receipt.checkpoint);
    assert!(rfc9162::verify_inclusion(receipt.index, size, &rfc9162::leaf(&receipt.entry), &receipt.proof, &root));

    // Other users' events are not bob's to read: the same 404 as a missing event.
    for other in [seq_carol, seq_admin] {
        for what in ["receipt", "events"] {
            let r = bob.get(format!("{base}/api/v1/audit/{what}/{other}")).send().await.unwrap();
            let (status, message) = error_of(r).await;
            assert_eq!(status, 404, "bob reading {what}/{other}: {message}");
            assert!(message.contains("no event"), "{message}");
        }
    }
    let r = bob.get(format!("{base}/api/v1/audit/receipt/{}", 1_000_000)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // carol reads hers, the admin reads anyone's.
    let r = carol.get(format!("{base}/api/v1/audit/receipt/{seq_carol}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    Receipt::parse(&r.text().await.unwrap()).unwrap().verify(&key).unwrap();
    let r = admin().get(format!("{base}/api/v1/audit/receipt/{seq_carol}")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The CLI: `vigil audit key`, `vigil audit prove`, `vigil audit verify --receipt`.
    let key_text = cli(d, &["audit", "key"], "");
    assert_eq!(VerifierKey::parse(&key_text).unwrap(), key, "`vigil audit key` is the served key");
    let key_file = d.join("pinned.key");
    std::fs::write(&key_file, format!("{key_text}\n")).unwrap();
    let proof_file = d.join("r.tlog-proof");
    cli(d, &["audit", "prove", &seq_bob.to_string(), "-o", proof_file.to_str().unwrap()], "");
    let proven = Receipt::parse(&std::fs::read_to_string(&proof_file).unwrap()).unwrap();
    assert_eq!(proven.entry, receipt.entry);
    proven.verify(&key).unwrap();
    let verify =
        |file: &Path, key: &str| run(d, &["audit", "verify", "--receipt", file.to_str().unwrap(), "--key", key], &[]);
    let out = verify(&proof_file, key_file.to_str().unwrap());
    assert!(out.status.success(), "{}", said(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK: the audit log verifies"), "{stdout}");
    assert!(stdout.contains(&format!("seq {seq_bob} is in the log")), "{stdout}");
    // The receipt bob got over HTTP verifies the same way, the key given as text.
    let api_file = d.join("api.tlog-proof");
    std::fs::write(&api_file, &text).unwrap();
    let out = verify(&api_file, &key_text);
    assert!(out.status.success(), "{}", said(&out));

    // One byte of the entry changed: the receipt no longer verifies, anywhere.
    let mut entry = proven.entry.clone();
    let at = entry.len() / 2;
    entry[at] ^= 0x01;
    let forged = Receipt { entry, ..proven.clone() };
    let forged_file = d.join("forged.tlog-proof");
    std::fs::write(&forged_file, forged.to_text()).unwrap();
    assert_eq!(std::fs::read(&forged_file).unwrap().len(), std::fs::read(&proof_file).unwrap().len());
    assert!(forged.verify(&key).is_err());
    let (_, size, root) = parse_note_body(&forged.checkpoint);
    assert!(!rfc9162::verify_inclusion(forged.index, size, &rfc9162::leaf(&forged.entry), &forged.proof, &root));
    let out = verify(&forged_file, key_file.to_str().unwrap());
    assert!(!out.status.success(), "a forged receipt verified: {}", said(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL "), "{}", said(&out));
    // And a genuine receipt fails under another key.
    let other = SignerKey::generate(key.name()).unwrap().verifier().to_text();
    let out = verify(&proof_file, &other);
    assert!(!out.status.success(), "a receipt verified under another key: {}", said(&out));
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Published checkpoints
// ---------------------------------------------------------------------------------------------------------------

/// Every checkpoint is published as an `audit_checkpoint` event whose detail is a note that verifies, whose root
/// is the tree of the events before it (recomputed here from `audit.jsonl`), with sizes growing; an idle server
/// adds no checkpoint events.
#[tokio::test]
async fn checkpoints_are_published_and_an_idle_log_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let c = admin();
    for round in 0..3 {
        push_seq(&c, &s.base, "published/app", &format!("v{round}"), format!("layer {round}").as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let lines = settled(d).await;

    let leaves: Vec<Hash> = lines.iter().map(|l| rfc9162::leaf(l)).collect();
    let mut sizes = Vec::new();
    for line in &lines {
        let ev = parse(line);
        if ev["action"] != "audit_checkpoint" {
            continue;
        }
        let note = ev["detail"].as_str().expect("the detail is the note");
        let cp = open_checkpoint(&key, note);
        assert!(openssl_verifies(&key.to_text(), note), "openssl rejects published checkpoint {}", cp.size);
        let seq = ev["seq"].as_u64().unwrap();
        assert!(cp.size < seq, "checkpoint {} published at seq {seq}", cp.size);
        assert_eq!(ev["artifact"], cp.origin.as_str());
        assert_eq!(rfc9162::mth(&leaves[..cp.size as usize]), cp.root, "published checkpoint {}", cp.size);
        if let Some(prev) = sizes.last() {
            assert!(cp.size > *prev, "checkpoint sizes do not grow: {prev} then {}", cp.size);
        }
        sizes.push(cp.size);
    }
    assert!(sizes.len() >= 3, "only {} checkpoints published: {sizes:?}", sizes.len());
    // The remembered and the served checkpoint are the last published one.
    let (served, _) = fetch_checkpoint(&s.base, &key).await.unwrap();
    assert_eq!(served.size, *sizes.last().unwrap());
    assert_eq!(remembered(d, &key), served);

    // Idle: three intervals later nothing was added.
    let count = lines.len();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let now = lines_of(&d.join("audit.jsonl"));
    assert_eq!(now.len(), count, "an idle server added events: {}", String::from_utf8_lossy(&now[count..].concat()));

    // The same after a restart: the start's own events are signed once, then the log is quiet again.
    stop(s);
    let _s = start(d, &[]);
    let lines = settled(d).await;
    assert!(lines.len() > count);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let now = lines_of(&d.join("audit.jsonl"));
    assert_eq!(now.len(), lines.len(), "an idle server added events after a restart");
}

// ---------------------------------------------------------------------------------------------------------------
// 5. Restarts and crashes
// ---------------------------------------------------------------------------------------------------------------

/// Checkpoints before and after a restart, and before and after a kill -9 while eight clients push, are
/// consistent; every acknowledged push is in the new tree; tile files deleted while stopped are rebuilt to the
/// same root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_stay_consistent_across_restart_kill_9_and_lost_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let seq = push_seq(&admin(), &s.base, "restart/app", "v1", b"before the restart").await;
    let (cp1, _) = wait_checkpoint(&s.base, &key, seq).await;
    stop(s);
    let before_restart = remembered(d, &key);
    assert!(before_restart.size >= cp1.size);

    // A restart serves the remembered checkpoint at once, then signs on from it.
    let s = start(d, &[]);
    assert_eq!(fetch_key(&s.base).await, key, "the key changed across a restart");
    let (served, _) = fetch_checkpoint(&s.base, &key).await.expect("a checkpoint right after the restart");
    assert!(served.size >= before_restart.size);
    let (cp2, _) = wait_checkpoint(&s.base, &key, before_restart.size + 1).await;
    assert_consistent(&s.base, &cp1, &cp2).await;
    assert_consistent(&s.base, &before_restart, &cp2).await;
    let base = s.base.clone();

    // Kill -9 while 8 clients push, collecting every checkpoint served meanwhile.
    let mut s = s;
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stopping = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8u32 {
        let (base, acked, stopping) = (base.clone(), acked.clone(), stopping.clone());
        workers.push(tokio::spawn(async move {
            let c = admin();
            let repo = format!("crash/w{w}");
            if push_blob(&c, &base, &repo, b"{}".to_vec()).await.is_err() {
                return;
            }
            for i in 0.. {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                let layer = format!("worker {w} push {i} ").repeat(32).into_bytes();
                match try_push_seq(&c, &base, &repo, &format!("t{i}"), layer).await {
                    Some(seq) => acked.lock().unwrap().push(seq),
                    None => return,
                }
            }
        }));
    }
    let mut seen = vec![cp1.clone(), cp2.clone()];
    let until = Instant::now() + Duration::from_millis(2_500);
    while Instant::now() < until {
        if let Some((cp, _)) = fetch_checkpoint(&base, &key).await {
            seen.push(cp);
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    stopping.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 16, "only {} pushes acknowledged before the kill", acked.len());
    let last_signed = remembered(d, &key);
    let largest_seen = seen.iter().map(|c| c.size).max().unwrap();
    assert!(last_signed.size >= largest_seen, "a served checkpoint ({largest_seen}) was not remembered");
    seen.push(last_signed.clone());
    drop(s);

    let s = start(d, &[]);
    let head = *acked.iter().max().unwrap();
    let (cp3, _) = wait_checkpoint(&s.base, &key, head.max(last_signed.size + 1)).await;
    for old in &seen {
        assert_consistent(&s.base, old, &cp3).await;
    }
    // Every acknowledged push is in the tree, as its own event.
    let c = admin();
    for seq in &acked {
        let r = c.get(format!("{}/api/v1/audit/proof/inclusion?seq={seq}&size={}", s.base, cp3.size)).send().await;
        let v: Value = r.unwrap().json().await.unwrap();
        let r = c.get(format!("{}/api/v1/audit/events/{seq}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "acknowledged event {seq} lost");
        let event = r.bytes().await.unwrap();
        assert_eq!(parse(&event)["operation"], "PutManifest", "event {seq} is not the acknowledged push");
        assert!(
            rfc9162::verify_inclusion(seq - 1, cp3.size, &rfc9162::leaf(&event), &hashes(&v["proof"]), &cp3.root),
            "acknowledged event {seq} is not in the tree"
        );
    }
    stop(s);

    // Tile files deleted while stopped: rebuilt from the journal, same root at the old size.
    let old = remembered(d, &key);
    assert!(delete_tile_files(d) >= 1);
    let s = start(d, &[]);
    let leaves = fetch_leaves(&s.base, old.size).await;
    assert_eq!(rfc9162::mth(&leaves), old.root, "the rebuilt tree has another root at the remembered size");
    let (cp4, _) = wait_checkpoint(&s.base, &key, old.size + 1).await;
    assert_consistent(&s.base, &old, &cp4).await;
    assert_consistent(&s.base, &cp1, &cp4).await;
}

/// A journal that contradicts the remembered checkpoint stops the server at start: a modified entry below the
/// checkpoint (with the tile files gone, so the tree must be rebuilt from the journal), or entries cut off by a
/// restore from an older backup. Undoing the modification lets it start again.
#[tokio::test]
async fn a_journal_contradicting_the_checkpoint_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let c = admin();
    let mut last = 0;
    for i in 0..4 {
        last = push_seq(&c, &s.base, "refuse/app", &format!("v{i}"), format!("layer {i}").as_bytes()).await;
    }
    wait_checkpoint(&s.base, &key, last).await;
    stop(s);
    let signed = remembered(d, &key);
    assert!(signed.size >= 10, "checkpoint {} too small for this test", signed.size);

    // A modified entry below the checkpoint, and no tile files to compare with: refused.
    let original = tamper_journal_row(d, 3);
    assert!(delete_tile_files(d) >= 1);
    let err = refused_start(d);
    assert!(err.contains("checkpoint"), "the refusal does not mention the checkpoint: {err}");
    assert!(err.contains(&signed.size.to_string()), "the refusal does not name the checkpoint's size: {err}");

    // Undone: it starts, with the same root at the signed size.
    restore_journal_row(d, 3, &original);
    let s = start(d, &[]);
    assert_eq!(rfc9162::mth(&fetch_leaves(&s.base, signed.size).await), signed.root);
    let (cp, _) = wait_checkpoint(&s.base, &key, signed.size + 1).await;
    assert_consistent(&s.base, &signed, &cp).await;
    stop(s);

    // A damaged (not missing) leaf hash below the checkpoint: rebuilt from the journal, same root.
    damage_leaf_hash(d, 2);
    let s = start(d, &[]);
    assert_eq!(rfc9162::mth(&fetch_leaves(&s.base, signed.size).await), signed.root, "damaged tile file kept");
    stop(s);

    // The signing key lost (a new one is generated in its place): the remembered checkpoint does not verify with
    // it, so the server refuses rather than start a second history under a new key. The old key back: it starts.
    let key_file = d.join("audit-signing.key");
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let err = refused_start(d);
    assert!(err.contains("does not verify with the current signing key"), "{err}");
    std::fs::write(&key_file, &saved).unwrap();
    let s = start(d, &[]);
    assert_eq!(fetch_key(&s.base).await, key);
    let (cp, _) = wait_checkpoint(&s.base, &key, signed.size + 1).await;
    stop(s);
    assert!(cp.size > signed.size);

    // Entries above seq 5 gone (an older backup restored): refused, with the reason.
    let signed = remembered(d, &key);
    python_sql(
        d,
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('DELETE FROM journal WHERE seq > 5')\nc.commit()\n",
        &[],
    );
    let err = refused_start(d);
    assert!(err.contains("restored from an older backup"), "{err}");
    assert!(err.contains(&format!("checkpoint {}", signed.size)), "the refusal does not name the checkpoint: {err}");
}

// ---------------------------------------------------------------------------------------------------------------
// 6. `vigil audit verify` offline
// ---------------------------------------------------------------------------------------------------------------

/// Offline on a stopped server's data directory: a healthy log verifies (journal, `audit.jsonl`, the pinned key);
/// a NORA-format sink is reported as not verifiable (not as missing entries) and is no failure; another key fails
/// on the signature; a line deleted from a copy of `audit.jsonl` is named as missing; a modified journal row is
/// named as modified.
#[tokio::test]
async fn offline_verify_finds_modified_and_missing_entries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("vigil.toml"),
        "[audit]\nmode = \"file\"\n[[audit.sink]]\nname = \"siem\"\ntype = \"file\"\nformat = \"nora\"\npath = \"nora.jsonl\"\n",
    )
    .unwrap();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let c = admin();
    for i in 0..3 {
        push_seq(&c, &s.base, "offline/app", &format!("v{i}"), format!("offline layer {i}").as_bytes()).await;
    }
    let lines = settled(d).await;
    stop(s);
    let signed = remembered(d, &key);
    assert!(signed.size >= 10);
    let key_file = d.join("pinned.key");
    std::fs::write(&key_file, format!("{}\n", cli(d, &["audit", "key"], ""))).unwrap();

    let verify = |args: &[&str]| {
        let mut all = vec!["audit", "verify"];
        all.extend_from_slice(args);
        run(d, &all, &[])
    };
    let out = verify(&["audit.jsonl"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK: the audit log verifies"), "{}", said(&out));
    let out = verify(&["--key", key_file.to_str().unwrap(), "audit.jsonl"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(!said(&out).contains("not pinned"), "{}", said(&out));

    // The NORA sink: not verifiable, not missing, not a failure.
    let out = verify(&["--key", key_file.to_str().unwrap(), "audit.jsonl", "nora.jsonl"]);
    let text = said(&out);
    assert!(out.status.success(), "a NORA sink failed verification: {text}");
    assert!(text.contains("not verifiable"), "{text}");
    assert!(!text.contains("missing") && !text.contains("FAIL"), "{text}");

    // Another key: the checkpoints' signatures do not verify.
    let other = SignerKey::generate(key.name()).unwrap().verifier().to_text();
    let out = verify(&["--key", &other, "audit.jsonl"]);
    assert!(!out.status.success(), "verified under another key: {}", said(&out));
    assert!(said(&out).contains("signature"), "{}", said(&out));

    // A copy of audit.jsonl without line 5.
    let k = 5usize;
    assert_eq!(parse(&lines[k - 1])["seq"].as_u64(), Some(k as u64));
    let copy: Vec<u8> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != k - 1)
        .flat_map(|(_, l)| [l.as_slice(), b"\n"].concat())
        .collect();
    std::fs::write(d.join("copy.jsonl"), copy).unwrap();
    let out = verify(&["--key", key_file.to_str().unwrap(), "copy.jsonl"]);
    let text = said(&out);
    assert!(!out.status.success(), "a copy missing a line verified: {text}");
    assert!(text.contains(&format!("seq {k}: missing")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("FAIL ") && l.contains("copy.jsonl")), "{text}");

    // One journal row modified.
    let m = 4u64;
    let original = journal_event(d, m);
    assert_eq!(original, lines[m as usize - 1], "the journal row is the file's line");
    tamper_journal_row(d, m);
    let out = verify(&["--key", key_file.to_str().unwrap(), "audit.jsonl"]);
    let text = said(&out);
    assert!(!out.status.success(), "a modified journal verified: {text}");
    assert!(text.contains(&format!("FAIL journal: seq {m}: modified")), "{text}");
    // The file copy of the row is intact and is not blamed.
    assert!(!text.lines().any(|l| l.starts_with("FAIL file")), "{text}");
}

/// A journal row below the signed checkpoint changed while the server was stopped, with the tile files intact:
/// the server starts (recovery compares only the tree with the checkpoint), and the modified entry must not be
/// vouched for. `vigil audit prove` refuses it ("the receipt does not verify"); the receipt endpoint must
/// likewise answer an error, never 200 with a receipt that fails verification.
#[tokio::test]
async fn receipts_never_vouch_for_a_modified_entry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let seq = push_seq(&admin(), &s.base, "vouch/app", "v1", b"vouch layer").await;
    wait_checkpoint(&s.base, &key, seq).await;
    stop(s);
    tamper_journal_row(d, seq);

    let s = start(d, &[]);
    // The CLI refuses to write a receipt for the modified entry.
    let out = run(d, &["audit", "prove", &seq.to_string()], &[]);
    assert!(!out.status.success(), "vigil audit prove vouched for a modified entry: {}", said(&out));
    // Neither the event nor a receipt for it is served: the journal's bytes no longer match the log.
    let c = admin();
    for what in ["events", "receipt"] {
        let r = c.get(format!("{}/api/v1/audit/{what}/{seq}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 500, "{what}");
        let text = r.text().await.unwrap();
        assert!(text.contains("no longer matches the audit log"), "{what}: {text}");
    }
    // The untouched events next to it are still served, and their receipts verify.
    let r = c.get(format!("{}/api/v1/audit/receipt/{}", s.base, seq - 1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    Receipt::parse(&r.text().await.unwrap()).and_then(|r| r.verify(&key).map(|_| ())).unwrap();
}

/// A damaged leaf hash inside a full tile (the tree has more than 256 entries), the journal intact: `vigil audit
/// verify` names the damaged tile, and the server must rebuild the tile files from the journal at start, as it
/// does when the tree is smaller, so that its tiles fold to the checkpoint and its proofs verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_tile_files_under_a_full_tile_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (c, base) = (admin(), s.base.clone());
        workers.push(tokio::spawn(async move {
            for _ in 0..70 {
                assert_eq!(c.get(format!("{base}/v2/")).send().await.unwrap().status(), 200);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    wait_checkpoint(&s.base, &key, 280).await;
    stop(s);
    let signed = remembered(d, &key);
    assert!(signed.size > 256);
    damage_leaf_hash(d, 2);

    // The offline verifier sees it.
    let out = run(d, &["audit", "verify", "--no-journal"], &[]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("tile 0/0 does not hash to its parent"), "{}", said(&out));

    // The server must not serve it.
    let s = start(d, &[]);
    let leaves = fetch_leaves(&s.base, signed.size).await;
    let r = admin().get(format!("{}/api/v1/audit/proof/inclusion?seq=4&size={}", s.base, signed.size)).send().await;
    let v: Value = r.unwrap().json().await.unwrap();
    let leaf = b64_hash(v["leaf_hash"].as_str().unwrap());
    let proof_ok = rfc9162::verify_inclusion(3, signed.size, &leaf, &hashes(&v["proof"]), &signed.root);
    assert_eq!(rfc9162::mth(&leaves), signed.root, "the served tiles do not fold to the checkpoint");
    assert!(proof_ok, "the inclusion proof of seq 4 does not verify against the checkpoint");
}

/// Retention archives expired events byte for byte, then removes them from the journal under the signed
/// checkpoint, recording an `audit_retention` event; the pruned range stays provable and `verify` calls it pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_archives_then_prunes_and_the_log_stays_provable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let retention = [
        ("VIGIL_AUDIT__RETENTION__MAX_AGE", "2s"),
        ("VIGIL_AUDIT__RETENTION__INTERVAL", "500ms"),
        ("VIGIL_AUDIT__RETENTION__ARCHIVE_DIR", "archive"),
    ];
    let s = start(d, &retention);
    let key = fetch_key(&s.base).await;
    let c = admin();
    for _ in 0..5 {
        assert_eq!(c.get(format!("{}/v2/", s.base)).send().await.unwrap().status(), 200);
    }
    let audit_file = || std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    // Wait for a retention run that pruned at least the five logins (seqs up to 8 or so).
    let deadline = Instant::now() + PATIENCE;
    let detail = loop {
        let found = audit_file()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["kind"] == "audit_retention")
            .map(|e| serde_json::from_str::<Value>(e["detail"].as_str().unwrap()).unwrap())
            .find(|d| d["pruned_through"].as_u64().unwrap() >= 8);
        if let Some(d) = found {
            break d;
        }
        assert!(Instant::now() < deadline, "no retention run pruned the logins:\n{}", audit_file());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let through = detail["pruned_through"].as_u64().unwrap();

    // The archives hold exactly the pruned lines, byte for byte, from seq 1 on.
    let mut archives: Vec<_> = std::fs::read_dir(d.join("archive")).unwrap().map(|e| e.unwrap().path()).collect();
    archives.sort();
    let mut archived = Vec::new();
    for a in &archives {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(a).unwrap()), &mut text)
            .unwrap();
        archived.extend(text.lines().map(str::to_owned));
    }
    let file = audit_file();
    let lines: Vec<&str> = file.lines().collect();
    assert!(archived.len() as u64 >= through);
    assert_eq!(archived[..through as usize], lines[..through as usize], "archives differ from the log");

    // Gone from the journal and the API, still in the tree. (An enforced sink holds its line before the journal's
    // COMMIT, so the file can show the retention event a moment before the deletion is visible: wait for it.)
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = c.get(format!("{}/api/v1/audit/events/3", s.base)).send().await.unwrap().status();
        if status == 410 {
            break;
        }
        assert_eq!(status, 200, "seq 3 is either still there or gone");
        assert!(Instant::now() < deadline, "seq 3 was still served {PATIENCE:?} after its retention event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (cp, _) = wait_checkpoint(&s.base, &key, through + 1).await;
    let v: Value = c
        .get(format!("{}/api/v1/audit/proof/inclusion?seq=3&size={}", s.base, cp.size))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let leaf = vigil_tlog::leaf_hash(lines[2].as_bytes());
    verify_inclusion(2, cp.size, &leaf, &hashes(&v["proof"]), &cp.root).expect("a pruned event stays provable");
    drop(s);

    // Offline: the journal is reported pruned (not missing), and the archives verify like native sink files.
    let mut args = vec!["audit", "verify"];
    let paths: Vec<String> = archives.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let out = run(d, &args, &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("pruned"), "{}", said(&out));
    assert!(!said(&out).contains("missing"), "{}", said(&out));

    // `reindex --archive` refuses an archive with one altered entry, and then restores nothing at all.
    let forged = d.join("forged.jsonl");
    let mut copy: Vec<String> = archived[..through as usize].to_vec();
    copy[4] = copy[4].replacen("\"node\":\"", "\"node\":\"x", 1);
    assert_ne!(copy[4], archived[4], "the forgery changed the line");
    std::fs::write(&forged, copy.join("\n") + "\n").unwrap();
    let out = run(d, &["audit", "reindex", "--archive", forged.to_str().unwrap()], &[]);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("line 5: seq 5 does not match the audit log's tree"), "{}", said(&out));
    // The genuine archives go back into the journal and the index is rebuilt over them.
    let mut args = vec!["audit", "reindex"];
    for p in &paths {
        args.extend(["--archive", p.as_str()]);
    }
    let out = run(d, &args, &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains(&format!("restored {} archived entries", archived.len())), "{}", said(&out));
    let s = start(d, &[]);
    for seq in [3u64, 5] {
        let r = c.get(format!("{}/api/v1/audit/events/{seq}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "restored event {seq}");
        assert_eq!(r.text().await.unwrap(), lines[seq as usize - 1], "restored event {seq} byte for byte");
    }
    // Queryable again: the five logins are found by the index.
    let q: Value = c
        .get(format!("{}/api/v1/audit/events?order=asc&limit=1000", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seqs: Vec<u64> = q["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!((1..=through).all(|seq| seqs.contains(&seq)), "pruned seqs 1..={through} not all queryable: {seqs:?}");
    // The rebuild itself is recorded (by the CLI, once: the refused attempt changed nothing).
    let rebuilt: Vec<&Value> =
        q["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "audit_reindex").collect();
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert_eq!((&rebuilt[0]["operation"], &rebuilt[0]["actor"]), (&json!("RebuildAuditIndex"), &json!("cli")));
    let rebuilt_detail: Value = serde_json::from_str(rebuilt[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!(rebuilt_detail["restored"], json!(archived.len()), "{rebuilt_detail}");
    drop(s);
    // The journal with restored entries still verifies.
    let out = run(d, &["audit", "verify"], &[]);
    assert!(out.status.success(), "{}", said(&out));
}

/// The new read endpoints leave their events through the one HTTP layer: audit reads (`audit_read`) and the
/// changefeed (`read_changefeed`) are recorded, with denials; the public tree reads are not (like probes).
#[tokio::test]
async fn audit_reads_are_audited_and_public_tree_reads_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = start(d, &[]);
    let key = fetch_key(&s.base).await;
    wait_checkpoint(&s.base, &key, 1).await;
    let anon = http(None);
    let with_id = |c: &reqwest::Client, path: &str, id: &str| {
        c.get(format!("{}{path}", s.base)).header("x-request-id", id).send()
    };
    let ids = [
        (&anon, "/audit/checkpoint", "0123456789abcdef0123456789abcd01"),
        (&anon, "/audit/key", "0123456789abcdef0123456789abcd02"),
        (&anon, "/audit/tile/0/000.p/1", "0123456789abcdef0123456789abcd03"),
    ];
    for (c, path, id) in ids {
        assert_eq!(with_id(c, path, id).await.unwrap().status(), 200, "{path}");
    }
    let c = admin();
    let reads = [
        (&c, "/api/v1/audit/proof/inclusion?seq=1", "0123456789abcdef0123456789abcd11", 200, "audit_read"),
        (&anon, "/audit/tile/entries/000.p/1", "0123456789abcdef0123456789abcd12", 401, "audit_read"),
        (&c, "/v2/_trust/changefeed?records=1", "0123456789abcdef0123456789abcd13", 200, "read_changefeed"),
    ];
    for (client, path, id, status, _) in &reads {
        assert_eq!(with_id(client, path, id).await.unwrap().status(), *status, "{path}");
    }
    let events: Vec<Value> = std::fs::read_to_string(d.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |id: &str| events.iter().filter(|e| e["request"]["client_id"] == id).collect::<Vec<_>>();
    for (_, path, id) in ids {
        assert!(of(id).is_empty(), "{path} was audited");
    }
    for (_, path, id, status, kind) in reads {
        let found = of(id);
        assert_eq!(found.len(), 1, "{path}: {found:?}");
        let e = found[0];
        assert_eq!(
            (e["kind"].as_str(), e["response"]["status"].as_u64()),
            (Some(kind), Some(u64::from(status))),
            "{path}"
        );
        assert_eq!(e["outcome"], if status == 200 { "success" } else { "denied" }, "{path}");
    }
    drop(s);
}
