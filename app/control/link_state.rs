//! Where the window's connection stands, in words a person can act on.

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkState {
    Off,
    StartingEmbedded,
    Connecting,
    Connected,
    /// Lost or refused; the session retries by itself.
    Retrying(String),
    /// Could not start at all.
    Failed(String),
}

impl LinkState {
    /// The state in words, and whether it is an error.
    pub fn words(&self) -> (String, bool) {
        match self {
            Self::Off => ("not connected".into(), false),
            Self::StartingEmbedded => ("starting the embedded broker and hub…".into(), false),
            Self::Connecting => ("connecting…".into(), false),
            Self::Connected => ("connected".into(), false),
            Self::Retrying(reason) => (format!("{reason}; retrying"), true),
            Self::Failed(reason) => (reason.clone(), true),
        }
    }

    /// True while work is under way that will end by itself (a spinner's worth).
    pub fn busy(&self) -> bool {
        matches!(self, Self::StartingEmbedded | Self::Connecting)
    }
}
