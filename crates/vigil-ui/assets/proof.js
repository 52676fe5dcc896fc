// Checks an event's inclusion proof in the browser, with WebCrypto only: the leaf hash of the event's exact
// bytes (RFC 9162: SHA-256 of 0x00 || entry), the root reached through the proof's hashes (RFC 9162 §2.1.3.2),
// the checkpoint's size and root (C2SP tlog-checkpoint) and its Ed25519 signature (C2SP signed-note) under the
// key in the field, which the viewer may replace with one pinned elsewhere.
"use strict";
(function () {
  const box = document.getElementById("proof");
  const button = document.getElementById("check-proof");
  if (!box || !button) return;
  const steps = document.getElementById("proof-steps");
  const result = document.getElementById("proof-result");
  const enc = new TextEncoder();

  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  function step(ok, text) {
    const li = document.createElement("li");
    li.className = ok ? "ok" : "fail";
    li.textContent = text;
    steps.appendChild(li);
    if (!ok) throw new Error(text);
  }

  // RFC 9162 §2.1.3.2: the root of a tree of `size` leaves from leaf `index`'s hash and its audit path.
  async function rootFromProof(index, size, leaf, path) {
    if (index >= size) throw new Error("index beyond the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) throw new Error("proof is longer than the tree is deep");
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("proof is shorter than the tree is deep");
    return r;
  }

  // A verifier key: <name>+<key hash, 8 hex>+<base64 of 0x01 || 32-byte Ed25519 public key>.
  function parseKey(text) {
    // The key's base64 may itself hold "+": split at the first two only.
    const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
    if (!m) throw new Error("a verifier key is name+hash+key");
    const raw = b64(m[3]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 verifier key");
    return { name: m[1], hash: m[2].toLowerCase(), pub: raw.slice(1) };
  }

  async function check() {
    steps.textContent = "";
    result.textContent = "";
    result.className = "";
    const entry = b64(box.dataset.entry);
    const index = Number(box.dataset.index);
    const size = Number(box.dataset.size);
    const path = (box.dataset.hashes || "").split(" ").filter(Boolean).map(b64);
    const note = box.dataset.note;
    const leaf = await sha256(concat(Uint8Array.of(0), entry));
    step(true, "Leaf hash of the event's " + entry.length + " bytes: " + hex(leaf).slice(0, 16) + "…");
    const root = await rootFromProof(index, size, leaf, path);
    step(true, "Root through " + path.length + " proof hashes: " + hex(root).slice(0, 16) + "…");
    const split = note.indexOf("\n\n");
    if (split < 0) step(false, "the checkpoint is not a signed note");
    const body = note.slice(0, split + 1);
    const lines = body.split("\n");
    const origin = lines[0];
    step(Number(lines[1]) === size, "Checkpoint of " + origin + " covers " + lines[1] + " events");
    step(equal(b64(lines[2]), root), "The checkpoint's root is the root the proof leads to");
    const key = parseKey(document.getElementById("pinned-key").value);
    const sigs = note.slice(split + 2).split("\n").filter((l) => l.startsWith("\u2014 " + key.name + " "));
    if (sigs.length === 0) step(false, "no signature by " + key.name + " on the checkpoint");
    const pub = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    let verified = false;
    for (const line of sigs) {
      const sig = b64(line.split(" ")[2]);
      if (hex(sig.slice(0, 4)) !== key.hash) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, pub, sig.slice(4), enc.encode(body))) verified = true;
    }
    step(verified, "Ed25519 signature of " + key.name + " (key hash " + key.hash + ") on the checkpoint is valid");
    result.textContent = "Verified: event #" + (index + 1) + " is in the log " + origin + " of " + size +
      " events, as signed with key " + key.name + "+" + key.hash + ".";
    result.className = "ok";
  }

  button.addEventListener("click", function () {
    check().catch(function (e) {
      result.textContent = "Not verified: " + e.message;
      result.className = "fail";
    });
  });
})();
