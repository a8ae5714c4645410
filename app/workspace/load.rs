//! Loading a whole workspace folder, and turning it into the checker's registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{DEFAULT_MAX_PAYLOAD, Registry, ThingModel};
use crate::protocol::{DeviceId, MAX_PACKET, ProductKey};

use super::atomic::write_atomic;
use super::error::FileError;
use super::fixture::{Fixture, FixtureEntry};
use super::walk::json_files;
use super::workspace_file::WorkspaceFile;

/// A model file and what came of loading it.
#[derive(Debug)]
pub struct ModelFile {
    pub path: PathBuf,
    pub model: Result<Arc<ThingModel>, FileError>,
    /// Why the file on disk did not load on the last reload; `model` is then the version
    /// loaded before it.
    pub reload_error: Option<FileError>,
}

/// A loaded workspace: its file, its models (each loaded or not), and its fixtures.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub file: WorkspaceFile,
    /// Every `models/*.json`, in file-name order.
    pub models: Vec<ModelFile>,
    /// Every `messages/**/*.json`, in path order.
    pub fixtures: Vec<FixtureEntry>,
    /// What the walks of `models/` and `messages/` skipped (a link loop, an unreadable
    /// folder), one sentence each naming the path.
    pub skipped: Vec<String>,
    /// Problems that do not stop the workspace from loading (a product without a model...).
    pub problems: Vec<String>,
}

/// Which sub-devices are logged in for a check or a send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginState {
    /// Every sub-device of the workspace.
    All,
    /// Only these.
    Only(Vec<DeviceId>),
}

impl LoginState {
    /// The state a fixture asks for: its `login` list, or all when it has none.
    pub fn of_fixture(fixture: &Fixture) -> Self {
        match &fixture.login {
            Some(list) => Self::Only(list.clone()),
            None => Self::All,
        }
    }
}

/// The nearest folder at or above `start` that holds a `workspace.json`.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    let start = if start.is_file() {
        start.parent()?
    } else {
        start
    };
    let start = std::fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|dir| dir.join("workspace.json").is_file())
        .map(Path::to_path_buf)
}

impl Workspace {
    /// Loads the workspace in `root`. Fails only when `workspace.json` itself cannot be used;
    /// a broken model or fixture is recorded beside the others.
    pub fn load(root: &Path) -> Result<Self, FileError> {
        let file_path = root.join("workspace.json");
        let bytes = std::fs::read(&file_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FileError::new(
                    &file_path,
                    "",
                    "no such file; point --workspace at a folder with workspace.json, models/ and messages/",
                )
            } else {
                FileError::io(&file_path, &e)
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let file: WorkspaceFile =
            serde_path_to_error::deserialize(de).map_err(|e| FileError::serde(&file_path, e))?;
        if let Some(max) = file.limits.as_ref().and_then(|l| l.max_payload)
            && !(1..=MAX_PACKET as u64).contains(&max)
        {
            return Err(FileError::new(
                &file_path,
                "limits.maxPayload",
                format!(
                    "must be a size in bytes from 1 to {MAX_PACKET} (thingbench's MQTT packet limit), got {max}; the protocol's default is {DEFAULT_MAX_PAYLOAD}"
                ),
            ));
        }
        let model_files = json_files(&root.join("models"), false);
        let fixture_files = json_files(&root.join("messages"), true);
        let mut skipped = model_files.skipped;
        skipped.extend(fixture_files.skipped);
        let mut ws = Self {
            root: root.to_owned(),
            file,
            models: load_models(model_files.files),
            fixtures: load_fixtures(fixture_files.files),
            skipped,
            problems: Vec::new(),
        };
        ws.problems = ws.find_problems();
        Ok(ws)
    }

    /// Problems that do not stop the workspace from loading.
    pub(super) fn find_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let loaded = self.models_by_id();
        let file = self.root.join("workspace.json");
        for (pk, model_id) in &self.file.products {
            if !loaded.contains_key(model_id.as_str()) {
                problems.push(format!(
                    "{}: at products.{pk}: model \"{model_id}\" is not defined by any file in models/ that loaded; add it or fix the id",
                    file.display()
                ));
            }
        }
        let devices = std::iter::once(&self.file.gateway).chain(&self.file.devices);
        for (i, device) in devices.enumerate() {
            let place = if i == 0 {
                "gateway".to_owned()
            } else {
                format!("devices[{}]", i - 1)
            };
            if !self.file.products.contains_key(&device.product_key) {
                problems.push(format!(
                    "{}: at {place}.productKey: product \"{}\" is not listed in products; add it",
                    file.display(),
                    device.product_key
                ));
            }
            if let Some(Err(e)) = device.secret.as_ref().map(|s| s.resolve()) {
                problems.push(format!("{}: at {place}.secret: {e}", file.display()));
            }
        }
        problems.extend(self.skipped.iter().cloned());
        problems
    }

    /// Loaded models by model id; the first file wins when two define the same id.
    pub fn models_by_id(&self) -> HashMap<&str, &Arc<ThingModel>> {
        let mut map = HashMap::new();
        for file in &self.models {
            if let Ok(model) = &file.model {
                map.entry(model.model_id.as_str()).or_insert(model);
            }
        }
        map
    }

    /// The gateway (or directly connected device).
    pub fn gateway(&self) -> DeviceId {
        self.file.gateway.id()
    }

    /// The gateway's sub-devices, in file order.
    pub fn sub_devices(&self) -> Vec<DeviceId> {
        self.file.devices.iter().map(|d| d.id()).collect()
    }

    /// The registry the checker and the hub use, with `login` applied.
    ///
    /// Secrets from the environment are read now; one that is unset is left out.
    pub fn registry(&self, login: &LoginState) -> Registry {
        let mut registry = Registry::new();
        let models = self.models_by_id();
        for (pk, model_id) in &self.file.products {
            registry
                .products
                .insert(ProductKey(pk.clone()), model_id.clone());
            if let Some(model) = models.get(model_id.as_str()) {
                registry.models.insert(model_id.clone(), Arc::clone(model));
            }
        }
        let gateway = self.gateway();
        let secret =
            |entry: &super::DeviceEntry| entry.secret.as_ref().and_then(|s| s.resolve().ok());
        registry.add_gateway(gateway.clone(), secret(&self.file.gateway));
        for device in &self.file.devices {
            registry.add_sub_device(&gateway, device.id(), secret(device));
        }
        registry.max_payload = self.max_payload();
        match login {
            LoginState::All => registry.log_in_all(),
            LoginState::Only(list) => registry.logged_in = list.iter().cloned().collect(),
        }
        registry
    }

    /// The largest payload the hub accepts and thingbench sends without being asked to.
    pub fn max_payload(&self) -> usize {
        self.file
            .limits
            .as_ref()
            .and_then(|l| l.max_payload)
            .and_then(|max| usize::try_from(max).ok())
            .unwrap_or(DEFAULT_MAX_PAYLOAD)
    }

    /// Saves `workspace.json` atomically, unknown keys included.
    pub fn save_file(&self) -> Result<(), FileError> {
        let path = self.root.join("workspace.json");
        let mut text = serde_json::to_string_pretty(&self.file)
            .map_err(|e| FileError::new(&path, "", e.to_string()))?;
        text.push('\n');
        write_atomic(&path, text.as_bytes()).map_err(|e| FileError::io(&path, &e))
    }

    /// Saves a fixture as `messages/<file_name>` atomically and returns its path.
    pub fn save_fixture(&self, file_name: &str, fixture: &Fixture) -> Result<PathBuf, FileError> {
        let dir = self.root.join("messages");
        let path = dir.join(file_name);
        if file_name.contains(['/', '\\']) || file_name.starts_with('.') || file_name.is_empty() {
            return Err(FileError::new(
                &path,
                "",
                "is not a plain file name; use letters, digits, '-' and '_'",
            ));
        }
        std::fs::create_dir_all(&dir).map_err(|e| FileError::io(&dir, &e))?;
        write_atomic(&path, fixture.to_pretty().as_bytes())
            .map_err(|e| FileError::io(&path, &e))?;
        Ok(path)
    }
}

/// Loads the model files `paths`.
fn load_models(paths: Vec<PathBuf>) -> Vec<ModelFile> {
    paths
        .into_iter()
        .map(|path| {
            let model = std::fs::read(&path)
                .map_err(|e| FileError::io(&path, &e))
                .and_then(|bytes| {
                    ThingModel::from_slice(&bytes)
                        .map(Arc::new)
                        .map_err(|e| FileError::new(&path, e.path, e.reason))
                });
            ModelFile {
                path,
                model,
                reload_error: None,
            }
        })
        .collect()
}

/// Loads the fixture files `paths`.
fn load_fixtures(paths: Vec<PathBuf>) -> Vec<FixtureEntry> {
    paths
        .into_iter()
        .map(|path| {
            let fixture = std::fs::read(&path)
                .map_err(|e| FileError::io(&path, &e))
                .and_then(|bytes| Fixture::from_slice(&path, &bytes));
            FixtureEntry { path, fixture }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = r#"{
  "products": {"gwPk": "gw_model"},
  "gateway": {"productKey": "gwPk", "deviceKey": "gw01", "secret": {"env": "THINGBENCH_TEST_UNSET_SECRET"}, "site": "lab 3"},
  "devices": [],
  "owner": "qa-team",
  "later": {"nested": [1, 2]}
}"#;

    #[test]
    fn limits_set_the_registry_payload_limit_and_bad_ones_name_the_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("workspace.json");
        std::fs::write(&file, WORKSPACE).expect("write");
        let ws = Workspace::load(dir.path()).expect("loads");
        assert_eq!(
            ws.registry(&LoginState::All).max_payload,
            DEFAULT_MAX_PAYLOAD
        );

        let mut value: serde_json::Value = serde_json::from_str(WORKSPACE).expect("json");
        value["limits"] = serde_json::json!({"maxPayload": 2048, "note": "kept"});
        std::fs::write(&file, value.to_string()).expect("write");
        let ws = Workspace::load(dir.path()).expect("loads");
        assert_eq!(ws.registry(&LoginState::All).max_payload, 2048);
        ws.save_file().expect("saves");
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
        assert_eq!(saved["limits"], value["limits"]);

        for bad in [
            serde_json::json!(0),
            serde_json::json!(MAX_PACKET + 1),
            serde_json::json!("1k"),
        ] {
            value["limits"] = serde_json::json!({"maxPayload": bad});
            std::fs::write(&file, value.to_string()).expect("write");
            let err = Workspace::load(dir.path()).expect_err("refused");
            assert_eq!(err.path, "limits.maxPayload", "{err}");
            assert!(err.to_string().contains("workspace.json"), "{err}");
        }
    }

    #[test]
    fn save_keeps_unknown_keys_and_env_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        let ws = Workspace::load(dir.path()).expect("loads");
        ws.save_file().expect("saves");
        let saved = std::fs::read_to_string(dir.path().join("workspace.json")).expect("read");
        let before: serde_json::Value = serde_json::from_str(WORKSPACE).expect("json");
        let after: serde_json::Value = serde_json::from_str(&saved).expect("json");
        assert_eq!(before, after, "{saved}");
        assert!(saved.contains(r#""env": "THINGBENCH_TEST_UNSET_SECRET""#));
    }

    #[test]
    fn one_broken_model_does_not_stop_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        let models = dir.path().join("models");
        std::fs::create_dir_all(&models).expect("mkdir");
        std::fs::write(
            models.join("a_broken.json"),
            r#"{"modelId": "x", "measurepoints": {"p": {"dataType": "NOPE"}}}"#,
        )
        .expect("write");
        std::fs::write(
            models.join("b_good.json"),
            r#"{"modelId": "gw_model", "measurepoints": {}}"#,
        )
        .expect("write");
        let ws = Workspace::load(dir.path()).expect("loads");
        let err = ws.models[0].model.as_ref().expect_err("broken model");
        let text = err.to_string();
        assert!(
            text.contains("a_broken.json") && text.contains("measurepoints.p.dataType"),
            "{text}"
        );
        assert!(ws.models[1].model.is_ok());
        assert!(ws.models_by_id().contains_key("gw_model"));
        // The unset env secret is reported, naming the variable.
        assert!(
            ws.problems
                .iter()
                .any(|p| p.contains("THINGBENCH_TEST_UNSET_SECRET")),
            "{:?}",
            ws.problems
        );
    }

    #[test]
    fn fixtures_save_atomically_into_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("workspace.json"), WORKSPACE).expect("write");
        let ws = Workspace::load(dir.path()).expect("loads");
        let fixture = Fixture::new(
            "n",
            serde_json::json!({"version": "1.0"}),
            crate::protocol::ReplyCode::SHAPE,
        );
        let path = ws.save_fixture("saved.json", &fixture).expect("saves");
        let loaded =
            Fixture::from_slice(&path, &std::fs::read(&path).expect("read")).expect("loads");
        assert_eq!(loaded, fixture);
        assert!(ws.save_fixture("../escape.json", &fixture).is_err());
    }
}
