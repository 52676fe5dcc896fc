//! What verifiers and witnesses read: checkpoints, signed notes, receipts, keys and tile paths, and the journal's
//! event lines that exports and verification parse back. A note the fuzzer writes never verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_tlog::cosignature::{CosignatureKey, Cosigner};
use vigil_tlog::receipt::Receipt;
use vigil_tlog::tile::TilePath;
use vigil_tlog::{Checkpoint, SignerKey, VerifierKey};

fn verifier() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| SignerKey::generate("vigil.fuzz").expect("a key").verifier())
}

fuzz_target!(|text: &str| {
    let _ = Checkpoint::parse(text);
    let _ = TilePath::parse(text);
    let _ = VerifierKey::parse(text);
    let _ = SignerKey::parse(text);
    let _ = Cosigner::parse(text);
    let _ = CosignatureKey::parse(text);
    assert!(verifier().open(text).is_err(), "a note the fuzzer wrote verified: {text:?}");
    if let Ok(receipt) = Receipt::parse(text) {
        assert!(receipt.verify(verifier()).is_err(), "a receipt the fuzzer wrote verified: {text:?}");
    }
    if let Ok(view) = vigil_audit::view::EventView::parse(text.as_bytes()) {
        let _ = (view.performer(), view.status(), view.request_id(), view.remote_addr());
        let _ = view.nora_line();
    }
    let _ = vigil_audit::view::EventView::parse_lenient(text.as_bytes()).nora_line();
});
