//! `contract-js`: writes `contract/js/contract.mjs`, the contract's rules for the JavaScript
//! parts, from `contract::js::module` (see there). Run it after changing a rule it carries;
//! `contract/tests/js_module.rs` fails until then.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| Path::new("."));
    let path = root.join(contract::js::MODULE_PATH);
    match std::fs::write(&path, contract::js::module()) {
        Ok(()) => {
            eprintln!("wrote {}", contract::js::MODULE_PATH);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write {}: {error}", path.display());
            ExitCode::FAILURE
        }
    }
}
