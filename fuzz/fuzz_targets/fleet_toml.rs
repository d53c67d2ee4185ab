//! Fleet files: a fleet or a diagnostic, never a panic; every link that parses moves
//! bytes at a finite, positive rate and in a finite time.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::fleets::parse_fleet("fleet.toml", text) {
        Ok(f) => {
            for p in &f.pools {
                let _ = p.chips();
            }
            for l in &f.links {
                let r = l.bytes_per_s();
                assert!(r.is_finite() && r > 0.0, "{l:?}");
                let t = l.transfer_s(1e9);
                assert!(t.is_finite() && t > 0.0, "{l:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
