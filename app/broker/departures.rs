//! Who is online through a door, counted by open connections: the one model of "the gateway
//! left" that the embedded broker's door, the qualification proxy, the reference hub and
//! qualify's judge all follow.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::protocol::DeviceId;

/// The devices (gateways, directly connected devices) with connections open through a door,
/// and those whose last connection ended since the hub last looked: the hub logs their
/// sub-devices out, as the platform does when a gateway goes offline. A device that opens a new
/// connection before its old one ends (a session takeover) never left, so a takeover logs
/// nobody out.
#[derive(Debug, Default)]
pub struct Departures {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Open connections per device.
    open: HashMap<DeviceId, usize>,
    /// Devices that left, not yet taken by the hub.
    left: Vec<DeviceId>,
}

impl Departures {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The counts stay whole whatever panicked while holding the lock: keep using them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection as `device` came in: its CONNECT passed the door, before the broker saw it
    /// (so that the broker throwing an older connection of the same client off comes after).
    pub fn arrived(&self, device: &DeviceId) {
        *self.state().open.entry(device.clone()).or_default() += 1;
    }

    /// A connection of `device` that [`Departures::arrived`] ended. True when it was the
    /// device's last open connection: the device left, and the hub hears of it.
    pub fn ended(&self, device: &DeviceId) -> bool {
        let mut state = self.state();
        let Some(open) = state.open.get_mut(device) else {
            return false;
        };
        *open = open.saturating_sub(1);
        if *open > 0 {
            return false;
        }
        state.open.remove(device);
        state.left.push(device.clone());
        true
    }

    /// Whether `device` has a connection open now.
    pub fn online(&self, device: &DeviceId) -> bool {
        self.state().open.contains_key(device)
    }

    /// How many connections of `device` are open now.
    pub fn open_count(&self, device: &DeviceId) -> usize {
        self.state().open.get(device).copied().unwrap_or(0)
    }

    /// The devices that left since the last call, oldest first.
    pub fn take(&self) -> Vec<DeviceId> {
        std::mem::take(&mut self.state().left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_departs_when_its_last_connection_ends() {
        let departures = Departures::default();
        let gw = DeviceId::new("gwPk", "gw01");
        departures.arrived(&gw);
        assert!(departures.online(&gw));
        // A session takeover: the new connection comes in before the old one ends.
        departures.arrived(&gw);
        assert!(!departures.ended(&gw), "the old connection ended");
        assert_eq!(departures.take(), Vec::<DeviceId>::new(), "nobody left");
        assert!(departures.ended(&gw), "the new one ended");
        assert!(!departures.online(&gw));
        assert_eq!(departures.take(), vec![gw.clone()]);
        assert_eq!(departures.take(), Vec::<DeviceId>::new(), "told once");
        // An end nobody counted (never arrived) is nobody's departure.
        assert!(!departures.ended(&gw));
        assert_eq!(departures.take(), Vec::<DeviceId>::new());
    }
}
