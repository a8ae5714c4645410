//! The platform's command desk in a qualification, sans IO: which of the plan's commands go
//! out now. A command goes out at its time when its target is online; else it is held, as the
//! platform's command cache holds it, and goes out as soon as the target is back, until the
//! plan ends.

use std::collections::HashMap;
use std::time::Duration;

use crate::protocol::{DeviceId, MsgId};
use crate::workspace::IdSource;

use super::plan::Plan;

/// How long a target must have been online before a command goes to it: the time a device
/// takes to subscribe to its commands after its CONNACK or its sub-device's login reply (the
/// C SDK does so then). Sooner, a stock broker would find no subscriber and drop the command.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The first id the platform gives a command: digits, as the platform's ids are, far from the
/// small numbers SDKs count their own requests with.
const FIRST_ID: u64 = 700_001;

/// A command of the plan as the run sent it, or held it.
#[derive(Clone, Debug, PartialEq)]
pub struct SentCommand {
    /// The phase that sends it, by index.
    pub phase: usize,
    /// Its index in the phase's `commands`.
    pub index: usize,
    pub target: DeviceId,
    /// When the plan sends it, in plan-clock ms.
    pub due_ms: u64,
    /// When it went out, in plan-clock ms; `None`: not yet, or never.
    pub delivered_ms: Option<u64>,
    /// Its target was offline when it fell due: it was held.
    pub held: bool,
    pub topic: String,
    pub payload: Vec<u8>,
    pub id: MsgId,
    /// Sent on purpose though the checker refuses it.
    pub invalid: bool,
}

impl SentCommand {
    /// Every command of `plan`, in the order they fall due, none sent yet.
    pub fn all_of(plan: &Plan) -> Vec<Self> {
        let ids = IdSource::starting_at(FIRST_ID);
        plan.commands()
            .into_iter()
            .map(|(phase, index, command, due)| {
                let (id, payload) = command.payload(&ids);
                Self {
                    phase,
                    index,
                    target: command.target().clone(),
                    due_ms: ms(due),
                    delivered_ms: None,
                    held: false,
                    topic: command.topic(),
                    payload,
                    id,
                    invalid: command.invalid,
                }
            })
            .collect()
    }

    /// Where the plan writes it: `phases[1].commands[0]`.
    pub fn place(&self) -> String {
        format!("phases[{}].commands[{}]", self.phase, self.index)
    }

    /// What `plan` asks of the device there, in words (its topic, should the plan not have it).
    pub fn asked(&self, plan: &Plan) -> String {
        plan.phases
            .get(self.phase)
            .and_then(|p| p.commands.get(self.index))
            .map_or_else(|| self.topic.clone(), |c| c.describe())
    }
}

/// Who can be reached now, as the platform knows it: the device's connection, its logged-in
/// sub-devices, and whether the plan cut the network.
#[derive(Debug)]
pub struct Desk {
    gateway: DeviceId,
    /// Since when (plan ms) the gateway has been online; `None` while it is not.
    online_since: Option<u64>,
    /// Logged-in sub-devices, since when.
    logged_in: HashMap<DeviceId, u64>,
    /// The plan's network is down: nothing is reachable, whatever the proxy has not closed yet.
    down: bool,
}

impl Desk {
    /// Nobody online yet; `gateway` is the device under test.
    pub fn new(gateway: DeviceId) -> Self {
        Self {
            gateway,
            online_since: None,
            logged_in: HashMap::new(),
            down: false,
        }
    }

    /// The device's connection was accepted at `at_ms` (a takeover keeps it online).
    pub fn connected(&mut self, at_ms: u64) {
        self.online_since.get_or_insert(at_ms);
    }

    /// The device's last connection ended: it and its sub-devices are offline.
    pub fn departed(&mut self) {
        self.online_since = None;
        self.logged_in.clear();
    }

    /// The hub accepted `device`'s login at `at_ms`.
    pub fn logged_in(&mut self, device: DeviceId, at_ms: u64) {
        self.logged_in.entry(device).or_insert(at_ms);
    }

    /// The hub accepted `device`'s logout.
    pub fn logged_out(&mut self, device: &DeviceId) {
        self.logged_in.remove(device);
    }

    /// The plan's network went down (`true`) or up.
    pub fn network(&mut self, down: bool) {
        self.down = down;
    }

    /// Since when `target` has been reachable; `None` while it is not.
    fn reachable_since(&self, target: &DeviceId) -> Option<u64> {
        if self.down {
            return None;
        }
        let gateway = self.online_since?;
        if *target == self.gateway {
            Some(gateway)
        } else {
            self.logged_in.get(target).map(|since| gateway.max(*since))
        }
    }

    /// Whether `target` is online now (reachable, settled or not).
    pub fn online(&self, target: &DeviceId) -> bool {
        self.reachable_since(target).is_some()
    }

    /// The indices of `commands` to send at `now_ms`: due, not sent, their target online for
    /// [`SETTLE`].
    pub fn to_send(&self, commands: &[SentCommand], now_ms: u64) -> Vec<usize> {
        let settle = ms(SETTLE);
        commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.delivered_ms.is_none() && c.due_ms <= now_ms)
            .filter(|(_, c)| {
                self.reachable_since(&c.target)
                    .is_some_and(|since| since + settle <= now_ms)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// When to look again after `now_ms`: the next command's time, or when a waiting command's
    /// target will have settled. `None`: nothing to wait for until something changes.
    pub fn next_wake(&self, commands: &[SentCommand], now_ms: u64) -> Option<u64> {
        let settle = ms(SETTLE);
        commands
            .iter()
            .filter(|c| c.delivered_ms.is_none())
            .filter_map(|c| {
                if c.due_ms > now_ms {
                    return Some(c.due_ms);
                }
                self.reachable_since(&c.target)
                    .map(|since| since + settle)
                    .filter(|at| *at > now_ms)
            })
            .min()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(target: &DeviceId, due_ms: u64) -> SentCommand {
        SentCommand {
            phase: 0,
            index: 0,
            target: target.clone(),
            due_ms,
            delivered_ms: None,
            held: false,
            topic: String::new(),
            payload: Vec::new(),
            id: MsgId("1".into()),
            invalid: false,
        }
    }

    #[test]
    fn a_command_goes_out_at_its_time_to_a_settled_target_and_is_held_while_it_is_offline() {
        let gw = DeviceId::new("gwPk", "gw01");
        let inv = DeviceId::new("invPk", "inv01");
        let mut desk = Desk::new(gw.clone());
        let mut commands = vec![command(&gw, 2_000), command(&inv, 2_000)];
        desk.connected(0);
        assert_eq!(desk.to_send(&commands, 1_999), Vec::<usize>::new());
        assert_eq!(desk.next_wake(&commands, 1_999), Some(2_000));
        // The sub-device logged in late: held until it has settled.
        desk.logged_in(inv.clone(), 1_800);
        assert_eq!(desk.to_send(&commands, 2_000), vec![0]);
        commands[0].delivered_ms = Some(2_000);
        assert_eq!(desk.next_wake(&commands, 2_000), Some(2_800));
        assert_eq!(desk.to_send(&commands, 2_800), vec![1]);
        commands[1].delivered_ms = Some(2_800);
        // The network goes down: held, and nothing to wait for until it is up again.
        commands.push(command(&gw, 3_000));
        desk.network(true);
        assert_eq!(desk.to_send(&commands, 3_000), Vec::<usize>::new());
        desk.departed();
        desk.network(false);
        assert_eq!(desk.next_wake(&commands, 3_000), None);
        assert!(!desk.online(&gw) && !desk.online(&inv));
        // Back: the gateway's command goes once it has settled; the sub-device needs a login.
        commands.push(command(&inv, 3_500));
        desk.connected(5_000);
        assert_eq!(desk.next_wake(&commands, 5_000), Some(6_000));
        assert_eq!(desk.to_send(&commands, 6_000), vec![2]);
        commands[2].delivered_ms = Some(6_000);
        desk.logged_in(inv.clone(), 6_100);
        assert_eq!(desk.to_send(&commands, 7_099), Vec::<usize>::new());
        assert_eq!(desk.to_send(&commands, 7_100), vec![3]);
        desk.logged_out(&inv);
        assert!(!desk.online(&inv));
    }
}
