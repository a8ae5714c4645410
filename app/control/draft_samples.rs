//! What the builder starts a mode with, and the valid samples it fills a command or an event
//! with: a first batch, a first event post, a first command, and a command of another kind.

use serde_json::{Map, Value};

use crate::model::{CommandKind, Registry, Service, ThingModel, sample_data_value};
use crate::protocol::{DeviceId, EpochMs};
use crate::workspace::{Batch, Command, Draft, Entry, EventPost, PointEntry, Workspace};

/// A seed that varies the samples from one click to the next.
pub fn seed() -> u64 {
    EpochMs::now().0.unsigned_abs()
}

/// A first batch for a fresh window: the first sub-device with two of its points.
pub fn starter_batch(ws: Option<&Workspace>, registry: &Registry) -> Batch {
    let mut batch = Batch::default();
    let Some(ws) = ws else { return batch };
    if let Some(device) = ws.sub_devices().into_iter().next() {
        let mut entry = Entry::new(Some(device.clone()));
        if let Some(model) = registry.model_of(&device.product_key) {
            for (i, point) in model.points.iter().take(2).enumerate() {
                entry.points.push(PointEntry::sample(point, i as u64));
            }
        }
        batch.entries.push(entry);
    }
    batch
}

/// The workspace's devices as the builder lists them: the sub-devices, then the gateway.
pub fn devices(ws: &Workspace) -> Vec<DeviceId> {
    let mut devices = ws.sub_devices();
    devices.push(ws.gateway());
    devices
}

/// A first event post: the first device whose model declares an event, posting that event with
/// a sample of every output; a post of no event for the first device when no model has one.
pub fn starter_event(ws: &Workspace, registry: &Registry) -> Draft {
    let devices = devices(ws);
    let found = devices.iter().find_map(|device| {
        let model = registry.model_of(&device.product_key)?;
        model.events.first().map(|event| (device, event))
    });
    match found {
        Some((device, event)) => {
            Draft::from_event(Some(device.clone()), EventPost::sample(event, seed()))
        }
        None => Draft::from_event(devices.into_iter().next(), EventPost::new("event")),
    }
}

/// A first command: a set of the first point of the first device that has a model.
pub fn starter_command(ws: &Workspace, registry: &Registry) -> Draft {
    let devices = devices(ws);
    let device = devices
        .iter()
        .find(|d| registry.model_of(&d.product_key).is_some())
        .or(devices.first())
        .cloned()
        .unwrap_or_else(|| ws.gateway());
    let model = registry.model_of(&device.product_key).map(|m| &**m);
    Draft::from_command(Command {
        kind: sample_command(CommandChoice::Set, model, seed()),
        device,
    })
}

/// The three kinds of command, as the builder offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandChoice {
    Set,
    Get,
    Invoke,
}

impl CommandChoice {
    /// Which of the three `kind` is.
    pub fn of(kind: &CommandKind) -> Self {
        match kind {
            CommandKind::Set(_) => Self::Set,
            CommandKind::Get(_) => Self::Get,
            CommandKind::Invoke { .. } => Self::Invoke,
        }
    }

    /// The name the builder shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Get => "get",
            Self::Invoke => "invoke",
        }
    }
}

/// A valid command of `choice` for a device of `model`: a set of its first point, a get of its
/// first point, an invoke of its first service with every input; empty without a model.
pub fn sample_command(choice: CommandChoice, model: Option<&ThingModel>, seed: u64) -> CommandKind {
    let first_point = model.and_then(|m| m.points.first());
    match choice {
        CommandChoice::Set => CommandKind::Set(
            first_point
                .map(|p| (p.identifier.clone(), sample_data_value(&p.data_type, seed)))
                .into_iter()
                .collect(),
        ),
        CommandChoice::Get => CommandKind::Get(
            first_point
                .map(|p| p.identifier.clone())
                .into_iter()
                .collect(),
        ),
        CommandChoice::Invoke => match model.and_then(|m| m.services.first()) {
            Some(service) => invoke_sample(service, seed),
            None => CommandKind::Invoke {
                service: "service".into(),
                params: Map::new(),
            },
        },
    }
}

/// An invoke of `service` with a valid sample of every input.
pub fn invoke_sample(service: &Service, seed: u64) -> CommandKind {
    let params: Map<String, Value> = service
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let value = sample_data_value(&input.data_type, seed.wrapping_add(i as u64));
            (input.identifier.clone(), value)
        })
        .collect();
    CommandKind::Invoke {
        service: service.identifier.clone(),
        params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::testing::sample;
    use crate::model::check;
    use crate::protocol::ReplyCode;
    use crate::workspace::{Doc, DraftMode, Expect, IdSource, LoginState};

    /// The draft's message as it would go out, and the checker's code for it.
    fn checked(draft: &Draft, ws: &Workspace, registry: &Registry) -> ReplyCode {
        let fixture = draft.to_fixture("x", Expect::code(ReplyCode::SUCCESS));
        let message = fixture.resolve(
            &ws.gateway(),
            registry,
            EpochMs::now(),
            &IdSource::starting_at(1),
        );
        check(registry, &message.topic, &message.payload).code
    }

    #[test]
    fn each_mode_starts_with_a_message_the_checker_finds_valid() {
        let ws = sample();
        let registry = ws.registry(&LoginState::All);
        let event = starter_event(&ws, &registry);
        assert_eq!(event.mode(), DraftMode::Event);
        assert_eq!(event.device(), Some(&DeviceId::new("invPk", "inv01")));
        assert!(
            matches!(event.doc(), Ok(Doc::Event(post)) if post.event == "overTemp" && post.outputs.len() == 2)
        );
        assert_eq!(checked(&event, &ws, &registry), ReplyCode::SUCCESS);
        let command = starter_command(&ws, &registry);
        assert_eq!(command.mode(), DraftMode::Command);
        assert_eq!(checked(&command, &ws, &registry), ReplyCode::SUCCESS);
        let model = registry
            .model_of(&crate::protocol::ProductKey("invPk".into()))
            .map(|m| &**m);
        for choice in [
            CommandChoice::Set,
            CommandChoice::Get,
            CommandChoice::Invoke,
        ] {
            let kind = sample_command(choice, model, 7);
            assert_eq!(CommandChoice::of(&kind), choice);
            let draft = Draft::from_command(Command {
                device: DeviceId::new("invPk", "inv01"),
                kind,
            });
            assert_eq!(
                checked(&draft, &ws, &registry),
                ReplyCode::SUCCESS,
                "{}",
                draft.text()
            );
        }
    }
}
