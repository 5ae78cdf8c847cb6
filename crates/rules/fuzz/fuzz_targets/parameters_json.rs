//! Any text as a parameter file: `Parameters::from_json` answers a set or a
//! typed error naming the field, and never panics.

#![no_main]

use kvp_rules::Parameters;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parameters) = Parameters::from_json(text) {
        // A loaded set is usable: overlaying it with an empty overlay keeps it.
        let kept = parameters
            .overlaid(Default::default())
            .expect("an empty overlay applies");
        assert_eq!(kept, parameters);
    }
});
