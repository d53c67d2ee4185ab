//! Date parsing: Ok or a reason, never a panic; a parsed date prints back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::Date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = Date::parse(text) {
        assert_eq!(Date::parse(&d.to_string()), Ok(d));
    }
});
