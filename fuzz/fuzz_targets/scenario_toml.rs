//! Purchase scenario files: a scenario or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::scenarios::parse_scenario("scenario.toml", text) {
        Ok(s) => {
            let _ = s.candidates.len() + s.train.len() + s.serve.len();
            for l in &s.links {
                let r = l.bytes_per_s();
                assert!(r.is_finite() && r > 0.0, "{l:?}");
                assert!(l.transfer_s(1e9).is_finite());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
