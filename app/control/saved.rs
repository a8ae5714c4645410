//! What the window keeps between runs (never a secret): the last workspace, the connection
//! form, the timeline's filter, and per workspace folder its draft, tabs and chosen plan, so
//! that one workspace never opens with another's draft.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::history::Filter;
use crate::protocol::DeviceId;
use crate::workspace::{Draft, DraftMode, Workspace};

use super::{BottomTab, ConnectionForm, LeftTab};

/// What survives a restart: never a secret. What belongs to a workspace (its draft, the tabs,
/// the plan chosen) is kept per workspace folder.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub workspace: Option<PathBuf>,
    pub connection: ConnectionForm,
    pub filter: Filter,
    /// By workspace folder.
    pub workspaces: BTreeMap<PathBuf, PerWorkspace>,
}

/// The window's state of one workspace.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PerWorkspace {
    pub draft: String,
    /// What the draft is: a batch, an event post or a command.
    pub mode: DraftMode,
    /// The device of an event post, or the target of a command, as `"pk/dk"`.
    pub device: Option<String>,
    pub fixture_name: String,
    pub expect_code: String,
    pub left_tab: LeftTab,
    pub bottom_tab: BottomTab,
    /// The plan chosen in the Qualify tab, by name.
    pub plan: Option<String>,
}

impl Default for PerWorkspace {
    fn default() -> Self {
        Self {
            draft: String::new(),
            mode: DraftMode::Batch,
            device: None,
            fixture_name: String::new(),
            expect_code: "200".into(),
            left_tab: LeftTab::Devices,
            bottom_tab: BottomTab::Timeline,
            plan: None,
        }
    }
}

/// The draft saved in `saved`, in its mode, unless it names a device `ws` does not have (see
/// [`restorable_draft`]).
pub fn restore_draft(saved: &PerWorkspace, ws: &Workspace) -> Option<Draft> {
    if saved.mode == DraftMode::Batch {
        return restorable_draft(&saved.draft, ws);
    }
    if saved.draft.trim().is_empty() {
        return None;
    }
    let device = match &saved.device {
        Some(text) => Some(DeviceId::parse_slash(text)?),
        None => None,
    };
    let vars = ws.vars();
    let fill = |s: &str| vars.fill_str(s).unwrap_or_else(|_| s.to_owned());
    let known = std::iter::once(ws.gateway())
        .chain(ws.sub_devices())
        .any(|d| {
            device.as_ref().is_none_or(|named| {
                fill(&named.product_key.0) == d.product_key.0
                    && fill(&named.device_key.0) == d.device_key.0
            })
        });
    known.then(|| Draft::restore(saved.mode, device, saved.draft.clone()))
}

/// What [`restore_draft`] reads back: the draft's text, mode and device.
pub fn saved_draft(draft: &Draft) -> (String, DraftMode, Option<String>) {
    (
        draft.text().to_owned(),
        draft.mode(),
        draft.device().map(ToString::to_string),
    )
}

/// The draft saved for `ws`, unless it names a device `ws` does not have (the draft of another
/// workspace, or of devices since removed): then the window starts with a fresh one.
pub fn restorable_draft(text: &str, ws: &Workspace) -> Option<Draft> {
    if text.trim().is_empty() {
        return None;
    }
    let known: Vec<String> = std::iter::once(ws.gateway())
        .chain(ws.sub_devices())
        .map(|d| d.to_string())
        .collect();
    let vars = ws.vars();
    let fill = |s: &str| vars.fill_str(s).unwrap_or_else(|_| s.to_owned());
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
        let elements = match json.get("params") {
            Some(serde_json::Value::Array(list)) => list.as_slice(),
            Some(one @ serde_json::Value::Object(_)) => std::slice::from_ref(one),
            _ => &[],
        };
        for element in elements {
            let key = |name: &str| element.get(name).and_then(serde_json::Value::as_str);
            if let (Some(pk), Some(dk)) = (key("productKey"), key("deviceKey"))
                && !pk.is_empty()
                && !known.contains(&format!("{}/{}", fill(pk), fill(dk)))
            {
                return None;
            }
        }
    }
    Some(Draft::from_text(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::sample;

    #[test]
    fn a_draft_naming_devices_the_workspace_lacks_is_not_restored() {
        let ws = sample();
        let theirs = r#"{"version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "mtrP", "deviceKey": "m1", "measurepoints": {"x": 1}}]}"#;
        assert!(restorable_draft(theirs, &ws).is_none());
        let ours = r#"{"version": "1.0", "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "{{inv1}}", "measurepoints": {"temp": 1}},
                       {"measurepoints": {"cpuLoad": 2}}]}"#;
        let restored = restorable_draft(ours, &ws).expect("its devices are the workspace's");
        assert_eq!(restored.text(), ours);
        assert!(restorable_draft("  ", &ws).is_none(), "nothing saved");
        // Text the builder cannot read is kept as typed: it names no device.
        assert!(restorable_draft("not json", &ws).is_some());
    }

    #[test]
    fn a_command_draft_comes_back_in_command_mode_for_its_device() {
        let ws = sample();
        let command = crate::workspace::Command {
            device: DeviceId::new("invPk", "{{inv1}}"),
            kind: crate::model::CommandKind::Get(vec!["Power".into()]),
        };
        let draft = Draft::from_command(command);
        let (text, mode, device) = saved_draft(&draft);
        let saved = PerWorkspace {
            draft: text,
            mode,
            device,
            ..PerWorkspace::default()
        };
        let back: PerWorkspace =
            serde_json::from_str(&serde_json::to_string(&saved).expect("serializes"))
                .expect("reads back");
        let restored = restore_draft(&back, &ws).expect("restored");
        assert_eq!(restored.mode(), DraftMode::Command);
        assert_eq!(restored.device(), draft.device());
        assert_eq!(restored.doc(), draft.doc());
        // A device the workspace lacks: a fresh draft instead.
        let theirs = PerWorkspace {
            device: Some("invPk/inv99".into()),
            ..back
        };
        assert!(restore_draft(&theirs, &ws).is_none());
    }

    #[test]
    fn each_workspace_keeps_its_own_state_across_a_save() {
        let mut saved = Persisted::default();
        saved.workspaces.insert(
            PathBuf::from("/a"),
            PerWorkspace {
                draft: "a's draft".into(),
                bottom_tab: BottomTab::Qualify,
                ..PerWorkspace::default()
            },
        );
        let text = serde_json::to_string(&saved).expect("serializes");
        let back: Persisted = serde_json::from_str(&text).expect("reads back");
        let a = &back.workspaces[&PathBuf::from("/a")];
        assert_eq!(a.draft, "a's draft");
        assert_eq!(a.bottom_tab, BottomTab::Qualify);
        assert!(!back.workspaces.contains_key(&PathBuf::from("/b")));
        // What an older version saved (one draft for all) reads as nothing per workspace.
        let old: Persisted =
            serde_json::from_str(r#"{"draft": "x", "left_tab": "Models"}"#).expect("reads");
        assert!(old.workspaces.is_empty());
    }
}
