//! The fixture loader, and the builder reading a fixture's text, never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = thingbench::workspace::Fixture::from_slice(std::path::Path::new("fuzz.json"), bytes);
    let _ = thingbench::workspace::Draft::from_text(String::from_utf8_lossy(bytes).into_owned());
});
