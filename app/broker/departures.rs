//! Who is online through a door, counted by open connections: the one model of "the gateway
//! left" that the embedded broker's door, the qualification proxy, the reference hub and
//! qualify's judge all follow; and the sub-devices logged in over those connections, which the
//! door's delivery tells (so that a command for a device that is not online is not sent).

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::protocol::DeviceId;

use super::deliver::Roster;

/// The devices (gateways, directly connected devices) with connections open through a door,
/// and those whose last connection ended since the hub last looked: the hub logs their
/// sub-devices out, as the platform does when a gateway goes offline. A device that opens a new
/// connection before its old one ends (a session takeover) never left, so a takeover logs
/// nobody out.
#[derive(Debug, Default)]
pub struct Departures {
    state: Mutex<State>,
    /// Told whenever a connection ends or a sub-device logs out: someone may have gone offline.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Open connections per device.
    open: HashMap<DeviceId, usize>,
    /// Connections per device since the door opened, open or not.
    arrivals: HashMap<DeviceId, usize>,
    /// Devices that left, not yet taken by the hub.
    left: Vec<DeviceId>,
    /// Sub-devices logged in, by the number of connections they are logged in on.
    subs: HashMap<DeviceId, usize>,
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
        let mut state = self.state();
        *state.open.entry(device.clone()).or_default() += 1;
        *state.arrivals.entry(device.clone()).or_default() += 1;
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
        self.changed.notify_all();
        true
    }

    /// Whether `device` is online now: a connection of its own is open, or it is a
    /// sub-device logged in over an open connection of its gateway.
    pub fn online(&self, device: &DeviceId) -> bool {
        let state = self.state();
        state.open.contains_key(device) || state.subs.contains_key(device)
    }

    /// Waits until `device` is not online, for at most `within`: whether it went (or was not).
    pub fn wait_offline(&self, device: &DeviceId, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut state = self.state();
        loop {
            if !(state.open.contains_key(device) || state.subs.contains_key(device)) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Sub-device `sub` logged in over one more connection of its gateway.
    pub fn logged_in(&self, sub: &DeviceId) {
        *self.state().subs.entry(sub.clone()).or_default() += 1;
    }

    /// Sub-device `sub` is no longer logged in over one of the connections
    /// [`Departures::logged_in`] counted (logged out, or the connection ended).
    pub fn logged_out(&self, sub: &DeviceId) {
        let mut state = self.state();
        if let Some(count) = state.subs.get_mut(sub) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.subs.remove(sub);
                self.changed.notify_all();
            }
        }
    }

    /// How many connections of `device` are open now.
    pub fn open_count(&self, device: &DeviceId) -> usize {
        self.state().open.get(device).copied().unwrap_or(0)
    }

    /// How many connections as `device` ever came through the door: a platform keeps one per
    /// device, so a count that grows while nothing was cut is a second client of the same
    /// identity.
    pub fn arrivals(&self, device: &DeviceId) -> usize {
        self.state().arrivals.get(device).copied().unwrap_or(0)
    }

    /// The devices that left since the last call, oldest first.
    pub fn take(&self) -> Vec<DeviceId> {
        std::mem::take(&mut self.state().left)
    }
}

/// The door's delivery tells sub-devices' logins here; nobody is answered "device offline".
impl Roster for Departures {
    fn logged_in(&self, sub: &DeviceId) {
        Departures::logged_in(self, sub);
    }

    fn logged_out(&self, sub: &DeviceId) {
        Departures::logged_out(self, sub);
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
        assert_eq!(departures.arrivals(&gw), 2, "every connection counts");
        assert!(departures.wait_offline(&gw, Duration::ZERO), "gone already");
        // An end nobody counted (never arrived) is nobody's departure.
        assert!(!departures.ended(&gw));
        assert_eq!(departures.take(), Vec::<DeviceId>::new());
    }

    #[test]
    fn a_wait_for_a_device_to_go_ends_when_its_last_connection_does() {
        let departures = std::sync::Arc::new(Departures::default());
        let gw = DeviceId::new("gwPk", "gw01");
        departures.arrived(&gw);
        assert!(
            !departures.wait_offline(&gw, Duration::from_millis(1)),
            "still here"
        );
        let leaving = std::sync::Arc::clone(&departures);
        let who = gw.clone();
        let thread = std::thread::spawn(move || leaving.ended(&who));
        assert!(departures.wait_offline(&gw, Duration::from_secs(10)));
        assert!(thread.join().expect("no panic"));
    }

    #[test]
    fn a_sub_device_is_online_while_one_connection_has_it_logged_in() {
        let departures = Departures::default();
        let inv = DeviceId::new("invPk", "inv01");
        assert!(!departures.online(&inv));
        // Logged in over two connections of its gateway (a takeover), then each ends.
        departures.logged_in(&inv);
        departures.logged_in(&inv);
        assert!(departures.online(&inv));
        departures.logged_out(&inv);
        assert!(departures.online(&inv), "still logged in over the other");
        departures.logged_out(&inv);
        assert!(!departures.online(&inv));
        // An end nobody counted leaves nothing behind.
        departures.logged_out(&inv);
        assert!(!departures.online(&inv));
        assert_eq!(departures.take(), Vec::<DeviceId>::new(), "not a departure");
    }
}
