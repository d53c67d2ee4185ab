//! Request-length CSV: samples or a diagnostic, never a panic; statistics stay finite.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::lengths::parse("lengths.csv", text) {
        Ok(samples) => {
            if let Some(s) = tessera_perf::serve::LengthStats::from_samples(&samples) {
                assert!(s.mean_input.is_finite() && s.mean_output.is_finite() && s.mean_input_sq.is_finite());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
