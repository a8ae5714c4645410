//! Reply parsing never panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = thingbench::protocol::parse_reply(bytes);
});
