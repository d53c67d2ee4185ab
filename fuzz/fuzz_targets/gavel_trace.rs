//! Gavel traces (10 or 7 columns): jobs or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::gavel::parse_trace("t.trace", text) {
        Ok(jobs) => {
            let _ = jobs.iter().map(|j| j.total_steps).max();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = tessera_catalog::gavel::parse_cluster(text, 4);
});
