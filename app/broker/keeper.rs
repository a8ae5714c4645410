//! The embedded broker's gate at its door: it authenticates like the platform (a CONNECT whose
//! username names a device of the workspace must carry that device's valid signature), counts
//! each device's open connections for the hub's departures, gives each connection of a
//! workspace device delivery without a subscription and answers commands for the workspace's
//! offline devices "device offline" (`deliver.rs`), and passes every refusal and the door's own
//! news on to a person, once each.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};

use crate::protocol::{DeviceId, Secret, SignError, device_of_username, verify_connect};
use crate::workspace::{SecretError, WorkspaceFeed};

use super::deliver::{Flow, Roster};
use super::departures::Departures;
use super::door::{DoorNews, Gate, Greeting};
use super::mqtt_frame::{Connect, Refusal, connack_refusing};
use super::tls::TlsSession;

/// Why a CONNECT naming a device of the workspace is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuthError {
    /// Its signature is not the device's.
    #[error(transparent)]
    Signature(#[from] SignError),
    /// The device's secret is given but cannot be read.
    #[error("its secret cannot be read, so no signature can be checked: {0}")]
    SecretUnreadable(SecretError),
    /// The workspace gives the device no secret.
    #[error(
        "the workspace has no secret for it, so no signature can be checked; add one to workspace.json"
    )]
    NoSecret,
    /// It came without a client certificate, which `--tls-client-ca` requires.
    #[error(
        "it came without a client certificate, and --tls-client-ca requires one signed by that CA"
    )]
    NoClientCertificate,
}

/// What the embedded broker has to tell a person: a refused CONNECT, or news of its door.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerNews {
    /// A CONNECT as `device` was refused with CONNACK 5 (not authorized), for `why`.
    Refused { device: DeviceId, why: AuthError },
    /// News of the door on `door`.
    Door { door: SocketAddr, news: DoorNews },
    /// rumqttd itself stopped, for `why`: nothing is served any more.
    Stopped { why: String },
}

impl BrokerNews {
    /// The news in one sentence.
    pub fn words(&self) -> String {
        match self {
            Self::Refused { device, why } => format!(
                "refused a connection as device {device} with CONNACK 5 (not authorized): {why}"
            ),
            Self::Door { door, news } => news.words(*door),
            Self::Stopped { why } => format!("the embedded broker (rumqttd) stopped: {why}"),
        }
    }

    /// True when the broker can no longer serve at all.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Refused { .. } => false,
            Self::Door { news, .. } => news.is_fatal(),
            Self::Stopped { .. } => true,
        }
    }
}

/// What the workspace says of the device a CONNECT names.
enum Known {
    /// Not a device of the workspace: let in, as the platform's own tools would be.
    Stranger,
    /// A device of the workspace, with its secret.
    Secret(Secret),
    /// A device of the workspace whose secret is not known: no signature can be checked.
    NoSecret(AuthError),
}

/// The embedded broker's [`Gate`].
pub struct Keeper {
    /// The workspace whose devices must sign; `None` lets every client in.
    workspace: Option<WorkspaceFeed>,
    departures: Arc<Departures>,
    news: mpsc::Sender<BrokerNews>,
    /// Called after each piece of news (the window repaints with it).
    wake: Mutex<Option<Box<dyn Fn() + Send>>>,
    /// Refusals already told, by device and reason: a device that retries with the same wrong
    /// signature is told once until it gets in.
    refusals: Mutex<HashSet<(DeviceId, AuthError)>>,
    /// Who is online among the workspace's devices, for the connections' flows.
    roster: Option<Arc<WorkspaceRoster>>,
}

/// The workspace's devices and who of them is online: a command for one that is not is
/// answered "device offline".
struct WorkspaceRoster {
    workspace: WorkspaceFeed,
    departures: Arc<Departures>,
}

impl WorkspaceRoster {
    /// Whether `device` is the newest workspace's gateway or one of its devices.
    fn knows(&self, device: &DeviceId) -> bool {
        let ws = self.workspace.workspace();
        std::iter::once(ws.gateway_entry())
            .chain(ws.device_entries())
            .any(|entry| entry.id() == *device)
    }
}

impl Roster for WorkspaceRoster {
    fn offline(&self, device: &DeviceId) -> bool {
        !self.departures.online(device) && self.knows(device)
    }

    fn logged_in(&self, sub: &DeviceId) {
        self.departures.logged_in(sub);
    }

    fn logged_out(&self, sub: &DeviceId) {
        self.departures.logged_out(sub);
    }
}

impl Keeper {
    /// A gate for `workspace`'s devices (none: everyone comes in), counting departures in
    /// `departures` and telling its news on `news`.
    pub fn new(
        workspace: Option<WorkspaceFeed>,
        departures: Arc<Departures>,
        news: mpsc::Sender<BrokerNews>,
    ) -> Self {
        let roster = workspace.clone().map(|workspace| {
            Arc::new(WorkspaceRoster {
                workspace,
                departures: Arc::clone(&departures),
            })
        });
        Self {
            workspace,
            departures,
            news,
            wake: Mutex::new(None),
            refusals: Mutex::new(HashSet::new()),
            roster,
        }
    }

    /// Calls `wake` after each piece of news from now on.
    pub fn wake_with(&self, wake: Box<dyn Fn() + Send>) {
        *self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(wake);
    }

    fn tell(&self, news: BrokerNews) {
        let _ = self.news.send(news);
        if let Some(wake) = self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            wake();
        }
    }

    fn refusals(&self) -> std::sync::MutexGuard<'_, HashSet<(DeviceId, AuthError)>> {
        self.refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the newest workspace says of `device`; its secret is read now (an environment
    /// variable may have been set since the last connection).
    fn known(&self, device: &DeviceId) -> Known {
        let Some(workspace) = &self.workspace else {
            return Known::Stranger;
        };
        let ws = workspace.workspace();
        let Some(entry) = std::iter::once(ws.gateway_entry())
            .chain(ws.device_entries())
            .find(|entry| entry.id() == *device)
        else {
            return Known::Stranger;
        };
        match entry.secret() {
            Ok(Some(secret)) => Known::Secret(secret),
            Err(e) => Known::NoSecret(AuthError::SecretUnreadable(e.source)),
            Ok(None) => Known::NoSecret(AuthError::NoSecret),
        }
    }

    /// Checks a CONNECT naming `device`: `Err` says why it is refused.
    fn check(&self, device: &DeviceId, connect: &Connect) -> Result<(), AuthError> {
        match self.known(device) {
            Known::Stranger => Ok(()),
            Known::Secret(secret) => Ok(verify_connect(
                &connect.client_id,
                connect.password.as_deref(),
                device,
                secret.expose(),
            )?),
            Known::NoSecret(why) => Err(why),
        }
    }
}

impl Gate for Keeper {
    type Guest = DeviceId;

    fn greet(&self, connect: &Connect) -> Greeting<DeviceId> {
        self.admit_device(connect, Ok(()))
    }

    fn greet_tls(&self, connect: &Connect, tls: &TlsSession) -> Greeting<DeviceId> {
        let certified = if tls.client_ca_required && !tls.client_certified {
            Err(AuthError::NoClientCertificate)
        } else {
            Ok(())
        };
        self.admit_device(connect, certified)
    }

    fn left(&self, device: DeviceId) {
        self.departures.ended(&device);
    }

    /// Without a workspace nobody is checked and every byte passes untouched; with one, every
    /// connection is read for commands to offline devices, and a workspace device's gets
    /// delivery.
    fn flow(&self, connect: &Connect, device: Option<&DeviceId>) -> Option<Flow> {
        let roster = self.roster.as_ref()?;
        let delivered = device.filter(|device| roster.knows(device)).cloned();
        let roster: Arc<dyn Roster> = Arc::clone(roster) as Arc<dyn Roster>;
        Some(Flow::new(connect.level, delivered, roster, true))
    }

    fn told(&self, door: SocketAddr, news: DoorNews) {
        self.tell(BrokerNews::Door { door, news });
    }
}

impl Keeper {
    /// Lets a CONNECT in, or refuses it when it names a workspace device that is not
    /// `certified` (its TLS session) or not signed with its secret.
    fn admit_device(
        &self,
        connect: &Connect,
        certified: Result<(), AuthError>,
    ) -> Greeting<DeviceId> {
        // Who names no device (a watcher, the probe, the window without signing) passes.
        let Some(device) = connect.username.as_deref().and_then(device_of_username) else {
            return Greeting::Pass;
        };
        let checked = match self.known(&device) {
            Known::Stranger => Ok(()),
            _ => certified.and_then(|()| self.check(&device, connect)),
        };
        if let Err(why) = checked {
            let news = self.refusals().insert((device.clone(), why.clone()));
            if news {
                self.tell(BrokerNews::Refused { device, why });
            }
            return Greeting::Refuse(connack_refusing(connect.level, Refusal::NotAuthorized));
        }
        self.refusals().retain(|(told, _)| *told != device);
        self.departures.arrived(&device);
        Greeting::Watch(device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{EpochMs, connect_credentials};

    fn sample() -> WorkspaceFeed {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let ws = crate::workspace::Workspace::load(&root).expect("the sample");
        WorkspaceFeed::fixed(Arc::new(ws))
    }

    fn connect(username: Option<&str>, client_id: &str, password: Option<&str>) -> Connect {
        Connect {
            level: 4,
            keep_alive: 30,
            client_id: client_id.into(),
            username: username.map(str::to_owned),
            password: password.map(str::to_owned),
        }
    }

    fn signed(device: &DeviceId, secret: &str) -> Connect {
        let creds = connect_credentials(&device.device_key.0, device, secret, EpochMs::now());
        connect(
            Some(&creds.username),
            &creds.client_id,
            Some(&creds.password),
        )
    }

    #[test]
    fn a_workspace_device_must_sign_and_strangers_pass() {
        let (news_tx, news) = mpsc::channel();
        let departures = Arc::new(Departures::default());
        let keeper = Keeper::new(Some(sample()), Arc::clone(&departures), news_tx);
        let gw = DeviceId::new("gwPk", "gw01");
        let watched = |greeting| match greeting {
            Greeting::Watch(device) => Some(device),
            Greeting::Pass => None,
            Greeting::Refuse(reply) => panic!("refused: {reply:?}"),
        };
        // The gateway, signed with its secret: watched, and counted as online.
        assert_eq!(
            watched(keeper.greet(&signed(&gw, "gw-secret"))),
            Some(gw.clone())
        );
        assert!(departures.online(&gw));
        // Clients naming no device, and devices the workspace does not know, pass unchecked.
        assert_eq!(watched(keeper.greet(&connect(None, "watcher", None))), None);
        assert_eq!(
            watched(keeper.greet(&connect(Some("someone"), "c", Some("p")))),
            None
        );
        let stranger = DeviceId::new("otherPk", "x1");
        assert_eq!(
            watched(keeper.greet(&signed(&stranger, "anything"))),
            Some(stranger)
        );
        assert!(news.try_recv().is_err(), "nothing to tell");

        // A wrong signature: CONNACK 5, and one line naming the device and why, once.
        for _ in 0..3 {
            let Greeting::Refuse(reply) = keeper.greet(&signed(&gw, "wrong")) else {
                panic!("a wrong signature is let in");
            };
            assert_eq!(reply, [0x20, 0x02, 0x00, 0x05]);
        }
        let told: Vec<String> = news.try_iter().map(|n| n.words()).collect();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(
            told[0].contains("gwPk/gw01")
                && told[0].contains("CONNACK 5")
                && told[0].contains("does not match the device's secret"),
            "{told:?}"
        );
        // A sub-device signing in its own name is checked with its own secret.
        let inv01 = DeviceId::new("invPk", "inv01");
        assert!(matches!(
            keeper.greet(&signed(&inv01, "inv01-secret")),
            Greeting::Watch(_)
        ));
        assert!(matches!(
            keeper.greet(&signed(&inv01, "gw-secret")),
            Greeting::Refuse(_)
        ));
        // An unsigned CONNECT in a device's name is refused too.
        assert!(matches!(
            keeper.greet(&connect(Some("gw01&gwPk"), "gw01", Some("guess"))),
            Greeting::Refuse(_)
        ));
    }

    #[test]
    fn a_device_whose_secret_cannot_be_read_is_refused_naming_the_variable() {
        let (news_tx, news) = mpsc::channel();
        let keeper = Keeper::new(Some(sample()), Arc::default(), news_tx);
        // meter02's secret is {"env": "THINGBENCH_METER02_SECRET"}, which tests never set.
        let meter02 = DeviceId::new("meterPk", "meter02");
        assert!(matches!(
            keeper.greet(&signed(&meter02, "anything")),
            Greeting::Refuse(_)
        ));
        let words = news.try_recv().expect("told").words();
        assert!(
            words.contains("meterPk/meter02") && words.contains("THINGBENCH_METER02_SECRET"),
            "{words}"
        );
    }

    #[test]
    fn without_a_workspace_everyone_comes_in() {
        let (news_tx, _news) = mpsc::channel();
        let keeper = Keeper::new(None, Arc::default(), news_tx);
        let gw = DeviceId::new("gwPk", "gw01");
        assert!(matches!(
            keeper.greet(&signed(&gw, "wrong")),
            Greeting::Watch(_)
        ));
    }
}
