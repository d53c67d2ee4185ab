//! Gavel throughput JSON: a table or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::gavel::parse_throughputs("t.json", text) {
        Ok(t) => {
            let _ = t.worker_types().len();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
