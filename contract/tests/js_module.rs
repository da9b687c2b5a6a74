//! `contract/js/contract.mjs`, which the JavaScript imports, is what the contract renders now.

use std::path::Path;

use contract::js::{MODULE_PATH, REGENERATE_COMMAND, module};

#[test]
fn the_committed_js_module_matches_the_contract() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("contract/ sits in the repository root")
        .join(MODULE_PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run `{REGENERATE_COMMAND}`",
            path.display()
        )
    });
    assert!(
        committed == module(),
        "{MODULE_PATH} is stale: run `{REGENERATE_COMMAND}`"
    );
}
