//! The checker never panics on any payload, for every method, against the sample workspace.
#![no_main]

use std::sync::OnceLock;

use thingbench::model::Registry;
use thingbench::protocol::{DeviceId, Method, request_topic};
use thingbench::workspace::{LoginState, Workspace};

fn registry() -> &'static (Registry, DeviceId) {
    static SAMPLE: OnceLock<(Registry, DeviceId)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
        let ws = Workspace::load(std::path::Path::new(root)).expect("the sample workspace");
        (ws.registry(&LoginState::All), ws.gateway())
    })
}

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let (registry, gateway) = registry();
    let Some((&pick, payload)) = bytes.split_first() else {
        return;
    };
    let method = Method::ALL[usize::from(pick) % Method::ALL.len()];
    let _ = thingbench::model::check(registry, &request_topic(method, gateway), payload);
});
