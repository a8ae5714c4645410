//! The thing-model loader never panics, whatever the file holds.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = thingbench::model::ThingModel::from_slice(bytes);
});
