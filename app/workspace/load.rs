//! Loading a whole workspace folder, and turning it into the checker's registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{DEFAULT_MAX_PAYLOAD, Registry, ThingModel};
use crate::protocol::{DeviceId, MAX_PACKET, ProductKey};

use super::atomic::write_atomic;
use super::error::FileError;
use super::fixture::{Fixture, FixtureEntry};
use super::vars::Vars;
use super::walk::json_files;
use super::workspace_file::{ConnectionEntry, DeviceEntry, EnvironmentEntry, WorkspaceFile};

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
    /// `workspace.json` as on disk; the environment's overrides are not merged into it, so
    /// saving it never writes one environment's devices or secrets into another.
    pub file: WorkspaceFile,
    /// The environment in use, one of `file.environments`; `None` is the workspace as it is.
    pub env: Option<String>,
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
        Self::load_env(root, None)
    }

    /// Loads the workspace in `root` in environment `env` (`None`: the workspace as it is);
    /// an environment the file does not name is refused, naming those it does.
    pub fn load_env(root: &Path, env: Option<&str>) -> Result<Self, FileError> {
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
        if let Some(env) = env
            && !file.environments.contains_key(env)
        {
            let reason = if file.environments.is_empty() {
                format!(
                    "has no \"environments\", so there is no environment \"{env}\"; add it there or leave out --env"
                )
            } else {
                let names: Vec<&str> = file.environments.keys().map(String::as_str).collect();
                format!(
                    "has no environment \"{env}\"; the environments are {}; choose one of them",
                    names.join(", ")
                )
            };
            return Err(FileError::new(&file_path, "environments", reason));
        }
        let model_files = json_files(&root.join("models"), false);
        let fixture_files = json_files(&root.join("messages"), true);
        let mut skipped = model_files.skipped;
        skipped.extend(fixture_files.skipped);
        let mut ws = Self {
            root: root.to_owned(),
            file,
            env: env.map(str::to_owned),
            models: load_models(model_files.files),
            fixtures: Vec::new(),
            skipped,
            problems: Vec::new(),
        };
        ws.fixtures = load_fixtures(fixture_files.files, &ws.vars());
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
        let env = self.environment();
        let prefix = |overridden: bool| match (&self.env, overridden) {
            (Some(name), true) => format!("environments.{name}."),
            _ => String::new(),
        };
        let gateway_place = format!(
            "{}gateway",
            prefix(env.is_some_and(|e| e.gateway.is_some()))
        );
        let devices_prefix = prefix(env.is_some_and(|e| e.devices.is_some()));
        let devices = std::iter::once(self.gateway_entry()).chain(self.device_entries());
        for (i, device) in devices.enumerate() {
            let place = if i == 0 {
                gateway_place.clone()
            } else {
                format!("{devices_prefix}devices[{}]", i - 1)
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

    /// The environment in use, as written in `workspace.json`.
    pub fn environment(&self) -> Option<&EnvironmentEntry> {
        self.file.environments.get(self.env.as_deref()?)
    }

    /// The names of the environments, in file order.
    pub fn environment_names(&self) -> Vec<String> {
        self.file.environments.keys().cloned().collect()
    }

    /// The gateway's entry, the environment's when it names one.
    pub fn gateway_entry(&self) -> &DeviceEntry {
        self.environment()
            .and_then(|e| e.gateway.as_ref())
            .unwrap_or(&self.file.gateway)
    }

    /// The sub-devices' entries, the environment's when it lists them.
    pub fn device_entries(&self) -> &[DeviceEntry] {
        self.environment()
            .and_then(|e| e.devices.as_deref())
            .unwrap_or(&self.file.devices)
    }

    /// How to connect, the environment's when it says; `None`: the embedded broker.
    pub fn connection(&self) -> Option<&ConnectionEntry> {
        self.environment()
            .and_then(|e| e.connection.as_ref())
            .or(self.file.connection.as_ref())
    }

    /// The broker the connection names, if any.
    pub fn broker(&self) -> Option<&str> {
        self.connection()?.broker.as_deref()
    }

    /// The fixtures' variables: the workspace's, overridden by the environment's.
    pub fn vars(&self) -> Vars {
        let none = indexmap::IndexMap::new();
        let overrides = self.environment().map_or(&none, |e| &e.vars);
        Vars::new(&self.file.vars, overrides, self.env.as_deref())
    }

    /// The gateway (or directly connected device).
    pub fn gateway(&self) -> DeviceId {
        self.gateway_entry().id()
    }

    /// The gateway's sub-devices, in file order.
    pub fn sub_devices(&self) -> Vec<DeviceId> {
        self.device_entries().iter().map(|d| d.id()).collect()
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
        registry.add_gateway(gateway.clone(), secret(self.gateway_entry()));
        for device in self.device_entries() {
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

/// Loads the fixture files `paths`, their variables replaced from `vars`.
fn load_fixtures(paths: Vec<PathBuf>, vars: &Vars) -> Vec<FixtureEntry> {
    paths
        .into_iter()
        .map(|path| {
            let fixture = std::fs::read(&path)
                .map_err(|e| FileError::io(&path, &e))
                .and_then(|bytes| Fixture::from_slice_vars(&path, &bytes, vars));
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

#[cfg(test)]
mod environment_tests {
    use super::*;
    use serde_json::json;

    fn workspace_json() -> serde_json::Value {
        json!({
            "products": {"gwPk": "gw_model", "invPk": "inv_model"},
            "gateway": {"productKey": "gwPk", "deviceKey": "gw01", "secret": "gw-secret"},
            "devices": [{"productKey": "invPk", "deviceKey": "inv01", "secret": "inv-secret"}],
            "vars": {"inv": "inv01", "site": "plant-a"},
            "environments": {
                "local": {},
                "staging": {
                    "connection": {"broker": "mqtts://staging.example.com:8883", "auth": "sign"},
                    "gateway": {"productKey": "gwPk", "deviceKey": "gw-stg",
                                "secret": {"env": "THINGBENCH_TEST_STG_GW"}},
                    "devices": [{"productKey": "invPk", "deviceKey": "inv-stg-1",
                                 "secret": {"env": "THINGBENCH_TEST_STG_INV"}}],
                    "vars": {"inv": "inv-stg-1"},
                    "owner": "platform team"
                }
            }
        })
    }

    /// A workspace folder with `messages/uses-vars.json` using variables in every allowed place.
    fn folder(fixture: serde_json::Value) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = serde_json::to_string_pretty(&workspace_json()).expect("json");
        std::fs::write(dir.path().join("workspace.json"), text).expect("write");
        std::fs::create_dir_all(dir.path().join("messages")).expect("mkdir");
        std::fs::write(
            dir.path().join("messages/uses-vars.json"),
            fixture.to_string(),
        )
        .expect("write");
        dir
    }

    fn every_place() -> serde_json::Value {
        json!({
            "name": "n",
            "topic": "/sys/gwPk/{{inv}}/thing/measurepoint/post/batch",
            "login": ["invPk/{{inv}}"],
            "request": {"params": [{"productKey": "invPk", "deviceKey": "{{inv}}",
                                    "measurepoints": {"site": "{{ site }}"}}]},
            "expect": {"code": 200}
        })
    }

    #[test]
    fn an_environment_overrides_devices_connection_and_vars() {
        let dir = folder(every_place());
        let base = Workspace::load(dir.path()).expect("loads");
        assert_eq!(base.gateway(), DeviceId::new("gwPk", "gw01"));
        assert_eq!(base.broker(), None, "no connection: the embedded broker");
        let local = Workspace::load_env(dir.path(), Some("local")).expect("loads");
        assert_eq!(
            local.gateway(),
            base.gateway(),
            "{{}} is the workspace as it is"
        );
        assert_eq!(local.sub_devices(), base.sub_devices());

        let stg = Workspace::load_env(dir.path(), Some("staging")).expect("loads");
        assert_eq!(stg.env.as_deref(), Some("staging"));
        assert_eq!(stg.gateway(), DeviceId::new("gwPk", "gw-stg"));
        assert_eq!(stg.sub_devices(), [DeviceId::new("invPk", "inv-stg-1")]);
        assert_eq!(stg.broker(), Some("mqtts://staging.example.com:8883"));
        let registry = stg.registry(&LoginState::All);
        assert!(
            registry
                .devices
                .contains_key(&DeviceId::new("invPk", "inv-stg-1"))
        );
        assert!(
            !registry
                .devices
                .contains_key(&DeviceId::new("invPk", "inv01"))
        );
        // Its unset secret is named with the environment's place.
        assert!(
            stg.problems
                .iter()
                .any(|p| p.contains("environments.staging.gateway.secret")
                    && p.contains("THINGBENCH_TEST_STG_GW")),
            "{:?}",
            stg.problems
        );
        assert_eq!(stg.vars().get("inv"), Some("inv-stg-1"));
        assert_eq!(
            stg.vars().get("site"),
            Some("plant-a"),
            "the workspace's own"
        );
    }

    #[test]
    fn variables_are_replaced_in_topic_login_request_and_raw() {
        let dir = folder(every_place());
        let stg = Workspace::load_env(dir.path(), Some("staging")).expect("loads");
        let fixture = stg.fixtures[0].fixture.as_ref().expect("loads");
        assert_eq!(
            fixture.topic.as_deref(),
            Some("/sys/gwPk/inv-stg-1/thing/measurepoint/post/batch")
        );
        assert_eq!(
            fixture.login,
            Some(vec![DeviceId::new("invPk", "inv-stg-1")])
        );
        let super::super::FixtureBody::Request(request) = &fixture.body else {
            panic!("a request")
        };
        assert_eq!(request["params"][0]["deviceKey"], "inv-stg-1");
        assert_eq!(request["params"][0]["measurepoints"]["site"], "plant-a");

        let raw = folder(
            json!({"name": "n", "raw": "{\"deviceKey\": \"{{inv}}\"", "expect": {"code": 1220}}),
        );
        let base = Workspace::load(raw.path()).expect("loads");
        let fixture = base.fixtures[0].fixture.as_ref().expect("loads");
        assert_eq!(
            fixture.body,
            super::super::FixtureBody::Raw("{\"deviceKey\": \"inv01\"".into())
        );
    }

    #[test]
    fn unknown_names_are_refused_naming_file_place_and_what_exists() {
        let dir = folder(every_place());
        let err = Workspace::load_env(dir.path(), Some("prod")).expect_err("no such env");
        let text = err.to_string();
        assert!(
            text.contains("workspace.json")
                && text.contains("at environments")
                && text.contains("\"prod\"")
                && text.contains("local, staging"),
            "{text}"
        );

        let mut fixture = every_place();
        fixture["request"]["params"][0]["deviceKey"] = json!("{{inverter}}");
        let dir = folder(fixture);
        let ws = Workspace::load_env(dir.path(), Some("staging")).expect("loads");
        let err = ws.fixtures[0]
            .fixture
            .as_ref()
            .expect_err("unknown variable");
        assert_eq!(err.path, "request.params[0].deviceKey");
        let text = err.to_string();
        assert!(
            text.contains("uses-vars.json")
                && text.contains("{{inverter}}")
                && text.contains("inv, site")
                && text.contains("staging"),
            "{text}"
        );
        for (place, value) in [
            ("topic", json!("/sys/{{nope}}")),
            ("login", json!(["invPk/{{nope}}"])),
        ] {
            let mut fixture = every_place();
            fixture[place] = value;
            let dir = folder(fixture);
            let ws = Workspace::load(dir.path()).expect("loads");
            let err = ws.fixtures[0]
                .fixture
                .as_ref()
                .expect_err("unknown variable");
            assert!(err.path.starts_with(place), "{err}");
        }
    }

    #[test]
    fn a_secret_from_the_environment_is_never_written_back() {
        let dir = folder(every_place());
        let file = dir.path().join("workspace.json");
        let before = std::fs::read_to_string(&file).expect("read");
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var("THINGBENCH_TEST_STG_INV", "resolved-inv-secret") };
        let stg = Workspace::load_env(dir.path(), Some("staging")).expect("loads");
        let registry = stg.registry(&LoginState::All);
        let inv = &registry.devices[&DeviceId::new("invPk", "inv-stg-1")];
        assert_eq!(
            inv.secret.as_ref().map(|s| s.expose().to_owned()),
            Some("resolved-inv-secret".into()),
            "read at use"
        );
        stg.save_file().expect("saves");
        let after = std::fs::read_to_string(&file).expect("read");
        assert!(!after.contains("resolved-inv-secret"), "{after}");
        let before: serde_json::Value = serde_json::from_str(&before).expect("json");
        let after: serde_json::Value = serde_json::from_str(&after).expect("json");
        assert_eq!(before, after, "the environment is not merged into the file");
        assert!(!format!("{stg:?}").contains("resolved-inv-secret"));
    }
}
