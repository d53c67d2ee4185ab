//! tessera job files for the simulator: jobs or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::jobs::parse_jobs("jobs.toml", text) {
        Ok(j) => {
            let _ = j.len();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
