//! What the hub knows: products and their models, devices, secrets and who is logged in.
//!
//! The workspace layer fills it from files; the checker only reads it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::protocol::{DeviceId, ProductKey, Secret};

use super::check::SessionEffect;
use super::thing_model::ThingModel;

/// The hub's default payload limit: 512 KiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 512 * 1024;

/// A device the hub knows.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryDevice {
    /// The gateway this device is a sub-device of; `None` for a gateway or direct device.
    pub gateway: Option<DeviceId>,
    /// Its secret, when one is known (an `{"env": ...}` secret may be unset).
    pub secret: Option<Secret>,
}

/// Everything the checker needs to predict a reply.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Product key to model id, as the workspace maps them.
    pub products: HashMap<ProductKey, String>,
    /// Loaded models by model id.
    pub models: HashMap<String, Arc<ThingModel>>,
    pub devices: HashMap<DeviceId, RegistryDevice>,
    /// Sub-devices that are logged in.
    pub logged_in: HashSet<DeviceId>,
    /// Payloads over this many bytes get 1008.
    pub max_payload: usize,
}

impl Registry {
    /// An empty registry with the default payload limit.
    pub fn new() -> Self {
        Self {
            max_payload: DEFAULT_MAX_PAYLOAD,
            ..Self::default()
        }
    }

    /// Adds a gateway or directly connected device.
    pub fn add_gateway(&mut self, device: DeviceId, secret: Option<Secret>) {
        self.devices.insert(
            device,
            RegistryDevice {
                gateway: None,
                secret,
            },
        );
    }

    /// Adds a sub-device of `gateway`.
    pub fn add_sub_device(&mut self, gateway: &DeviceId, device: DeviceId, secret: Option<Secret>) {
        self.devices.insert(
            device,
            RegistryDevice {
                gateway: Some(gateway.clone()),
                secret,
            },
        );
    }

    /// Maps a product to a model and keeps the model.
    pub fn add_product(&mut self, product: ProductKey, model: Arc<ThingModel>) {
        self.products.insert(product, model.model_id.clone());
        self.models.insert(model.model_id.clone(), model);
    }

    /// The model of a product, if the product is mapped and its model loaded.
    pub fn model_of(&self, product: &ProductKey) -> Option<&Arc<ThingModel>> {
        self.models.get(self.products.get(product)?)
    }

    /// True when `device` is a sub-device of `gateway`.
    pub fn is_sub_device_of(&self, device: &DeviceId, gateway: &DeviceId) -> bool {
        self.devices
            .get(device)
            .and_then(|d| d.gateway.as_ref())
            .is_some_and(|g| g == gateway)
    }

    /// The sub-devices of `gateway`, sorted.
    pub fn sub_devices_of(&self, gateway: &DeviceId) -> Vec<DeviceId> {
        let mut subs: Vec<_> = self
            .devices
            .iter()
            .filter(|(_, d)| d.gateway.as_ref() == Some(gateway))
            .map(|(id, _)| id.clone())
            .collect();
        subs.sort();
        subs
    }

    /// Applies what an accepted login or logout changes.
    pub fn apply(&mut self, effect: Option<&SessionEffect>) {
        match effect {
            Some(SessionEffect::Login(device)) => {
                self.logged_in.insert(device.clone());
            }
            Some(SessionEffect::Logout(device)) => {
                self.logged_in.remove(device);
            }
            None => {}
        }
    }

    /// Logs every sub-device in.
    pub fn log_in_all(&mut self) {
        self.logged_in = self
            .devices
            .iter()
            .filter(|(_, d)| d.gateway.is_some())
            .map(|(id, _)| id.clone())
            .collect();
    }
}
