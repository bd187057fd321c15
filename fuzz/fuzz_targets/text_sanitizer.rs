//! Arbitrary text through the server's cleaner and the client's display
//! filter: neither lets a control character (C0, C1, DEL, ESC) through.
#![no_main]

use lanchat_client::display::inert;
use lanchat_core::text::clean;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cleaned) = clean(&text, usize::MAX) {
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
    }
    let shown = inert(&text);
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
});
