//! Property test of the door's delivery: any bytes, in any pieces, either way.

use super::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Whatever either side sends, in whatever pieces: no panic, and only whole packets
    /// are written.
    #[test]
    fn any_bytes_both_ways_never_panic(
        v5 in any::<bool>(),
        up in proptest::collection::vec(any::<u8>(), 0..600),
        down in proptest::collection::vec(
            prop_oneof![
                Just(connack(0, false)),
                Just(ack(true, 0xFFFF, &[1, 1], false)),
                Just(publish("/ext/session/gwPk/gw01/combine/login_reply", 0, 0,
                    r#"{"id":"5","code":200}"#, false)),
                Just(publish("/sys/gwPk/gw01/thing/measurepoint/post", 1, 3, "{}", false)),
                proptest::collection::vec(any::<u8>(), 0..80),
            ],
            0..8,
        ),
    ) {
        let seen = Arc::new(Seen::default());
        let level = if v5 { 5 } else { 4 };
        let mut flow = Flow::new(level, Some(gw()), seen, true);
        let _ = flow.from_client(&connect(level));
        let _ = flow.from_client(&up);
        for chunk in &down {
            if flow.from_broker(chunk).is_err() {
                break;
            }
            packets(&flow.take_to_client());
            packets(&flow.take_to_broker());
        }
    }
}
