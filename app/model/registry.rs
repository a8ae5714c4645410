//! What the hub knows: products and their models, devices, secrets and who is logged in.
//!
//! The workspace layer fills it from files; the checker only reads it.

use std::sync::Arc;

use crate::protocol::{DeviceId, ProductKey, Secret};

use super::check::SessionEffect;
use super::thing_model::ThingModel;

/// The registry's maps: looked up a few times for every request the hub answers, with keys the
/// workspace wrote, so a fast hash (seeded per map, as std's) in place of SipHash.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

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

    /// The product keys mapped to model `model_id`, sorted.
    pub fn products_of(&self, model_id: &str) -> Vec<String> {
        let mut products: Vec<String> = self
            .products
            .iter()
            .filter(|(_, id)| *id == model_id)
            .map(|(pk, _)| pk.0.clone())
            .collect();
        products.sort();
        products
    }

    /// True when `device` is a sub-device of `gateway`.
    pub fn is_sub_device_of(&self, device: &DeviceId, gateway: &DeviceId) -> bool {
        self.devices
            .get(device)
            .and_then(|d| d.gateway.as_ref())
            .is_some_and(|g| g == gateway)
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

    /// Takes everything from `fresh` (a reloaded workspace's registry) but who is logged in,
    /// which stays as it was, less the devices that are no longer sub-devices.
    pub fn replace_keeping_logins(&mut self, fresh: Self) {
        let mut logged_in = std::mem::take(&mut self.logged_in);
        logged_in.retain(|device| {
            fresh
                .devices
                .get(device)
                .is_some_and(|d| d.gateway.is_some())
        });
        *self = Self { logged_in, ..fresh };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(subs: &[&str]) -> Registry {
        let gateway = DeviceId::new("gwPk", "gw01");
        let mut registry = Registry::new();
        registry.add_gateway(gateway.clone(), None);
        for dk in subs {
            registry.add_sub_device(&gateway, DeviceId::new("invPk", *dk), None);
        }
        registry
    }

    #[test]
    fn a_replaced_registry_keeps_who_is_logged_in_unless_the_device_is_gone() {
        let mut hub = registry(&["inv01", "inv02", "inv03"]);
        hub.logged_in = [
            DeviceId::new("invPk", "inv01"),
            DeviceId::new("invPk", "inv02"),
        ]
        .into_iter()
        .collect();
        let mut fresh = registry(&["inv01", "inv03", "inv04"]);
        fresh.max_payload = 100;
        fresh.log_in_all();
        hub.replace_keeping_logins(fresh);
        assert_eq!(hub.max_payload, 100);
        assert!(hub.devices.contains_key(&DeviceId::new("invPk", "inv04")));
        let logged_in: HashSet<_> = [DeviceId::new("invPk", "inv01")].into_iter().collect();
        assert_eq!(hub.logged_in, logged_in);
    }
}
