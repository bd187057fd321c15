//! Arbitrary names: validation never panics, folding is idempotent, and a
//! valid name is valid again with the same keys.
#![no_main]

use lanchat_core::name::fold;
use lanchat_core::Name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let once = fold(raw);
    assert_eq!(fold(&once), once);
    if let Ok(name) = Name::parse(raw) {
        let again = Name::parse(name.as_str()).expect("a valid name stays valid");
        assert_eq!(again.keys(), name.keys());
        assert!(!name.as_str().chars().any(char::is_control));
    }
});
