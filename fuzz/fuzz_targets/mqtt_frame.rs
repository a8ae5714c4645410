//! The door's reader never panics: the framer under the CONNECT limit, and every whole packet
//! read as a CONNECT, a PUBLISH (MQTT 3.1.1 and 5) and a CONNACK.
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = thingbench::broker::mqtt_frame::read_all(bytes);
});
