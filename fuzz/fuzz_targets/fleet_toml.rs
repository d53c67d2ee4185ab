//! Fleet files: a fleet or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::fleets::parse_fleet("fleet.toml", text) {
        Ok(f) => {
            for p in &f.pools {
                let _ = p.chips();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
