//! Coverage of a run: which measure points of each model were sent valid and which invalid (and
//! how), which data types were exercised, and which reply codes were expected and seen. Computed
//! from what was sent and answered, never from fixture names.

use std::collections::BTreeMap;

use crate::model::{CommandKind, Registry, Severity, ThingModel, WrongKind, check};
use crate::protocol::ReplyCode;
use crate::runner::{Outcome, Traffic};

/// One request of a run as it went out, and how it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    pub topic: String,
    pub payload: Vec<u8>,
    pub outcome: Outcome,
    /// The reply's payload; empty without one.
    pub reply: Vec<u8>,
}

impl Exchange {
    /// The reply's code, when a reply came.
    pub fn code(&self) -> Option<ReplyCode> {
        match &self.outcome {
            Outcome::Replied { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Records a run's traffic as the runner tells it ([`crate::runner::Runner::observe`]), and
/// which request was each fixture's own.
#[derive(Debug, Default)]
pub struct Recorder {
    pub exchanges: Vec<Exchange>,
    /// The request published and not ended yet.
    sent: Option<(String, Vec<u8>)>,
    /// The first exchange since the last fixture ended.
    mark: usize,
}

impl Recorder {
    /// Follows the runner's traffic.
    pub fn traffic(&mut self, traffic: Traffic<'_>) {
        match traffic {
            Traffic::Sent { topic, payload } => self.sent(topic, payload),
            Traffic::Ended { outcome, reply } => self.ended(outcome, reply),
        }
    }

    /// A request is about to go out.
    pub fn sent(&mut self, topic: &str, payload: &[u8]) {
        self.sent = Some((topic.to_owned(), payload.to_vec()));
    }

    /// The request sent last ended.
    pub fn ended(&mut self, outcome: &Outcome, reply: &[u8]) {
        if let Some((topic, payload)) = self.sent.take() {
            self.exchanges.push(Exchange {
                topic,
                payload,
                outcome: outcome.clone(),
                reply: reply.to_vec(),
            });
        }
    }

    /// A fixture ended with `outcome` (`None`: it could not be loaded): its own request is the
    /// last one since the fixture before, when it ended the same way (the logins before it come
    /// first; a request refused or never sent leaves nothing).
    pub fn fixture_ended(&mut self, outcome: Option<&Outcome>) -> Option<&Exchange> {
        let since = self.mark;
        self.mark = self.exchanges.len();
        let last = self.exchanges[since..].last()?;
        (Some(&last.outcome) == outcome).then_some(last)
    }
}

/// One measure point: how often it was sent valid, and invalid by kind.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCoverage {
    pub identifier: String,
    /// The data type's name: `FLOAT`, `STRUCT`, ...
    pub data_type: &'static str,
    pub has_quality: bool,
    pub valid: usize,
    pub invalid: BTreeMap<WrongKind, usize>,
    /// The ways this point can be wrong.
    pub applicable: Vec<WrongKind>,
}

impl PointCoverage {
    /// Sent at all, valid or invalid.
    pub fn sent(&self) -> bool {
        self.valid > 0 || !self.invalid.is_empty()
    }

    /// The applicable ways to be wrong never sent.
    pub fn kinds_missing(&self) -> Vec<WrongKind> {
        self.applicable
            .iter()
            .copied()
            .filter(|kind| !self.invalid.contains_key(kind))
            .collect()
    }
}

/// One product model's coverage.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCoverage {
    pub model_id: String,
    pub name: String,
    /// The product keys that use this model, sorted.
    pub products: Vec<String>,
    /// In the model's order.
    pub points: Vec<PointCoverage>,
    /// Identifiers sent that are not points of the model, sorted, with how often.
    pub unknown: BTreeMap<String, usize>,
    /// How often each point was set by a command the device answered 200, by identifier.
    pub set: BTreeMap<String, usize>,
    /// The model's services, in its order.
    pub services: Vec<ServiceCoverage>,
    /// The model's events, in its order.
    pub events: Vec<EventCoverage>,
}

/// One service: how often it was invoked and answered 200, and which outputs came back.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCoverage {
    pub identifier: String,
    pub invoked: usize,
    /// The service's outputs, each with whether a reply carried it.
    pub outputs: Vec<(String, bool)>,
}

/// One event: how often it was posted and accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct EventCoverage {
    pub identifier: String,
    pub posted: usize,
}

/// A share: `done` of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub done: usize,
    pub total: usize,
}

impl Share {
    /// The share in whole percent, rounded down (100 only when all is done); 100 of nothing.
    pub fn percent(self) -> usize {
        (self.done * 100).checked_div(self.total).unwrap_or(100)
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} ({} %)", self.done, self.total, self.percent())
    }
}

impl ModelCoverage {
    fn new(model: &ThingModel, products: Vec<String>) -> Self {
        Self {
            model_id: model.model_id.clone(),
            name: model.name.clone(),
            products,
            points: model
                .points
                .iter()
                .map(|point| PointCoverage {
                    identifier: point.identifier.clone(),
                    data_type: point.data_type.name(),
                    has_quality: point.has_quality,
                    valid: 0,
                    invalid: BTreeMap::new(),
                    applicable: WrongKind::of_point(point),
                })
                .collect(),
            unknown: BTreeMap::new(),
            set: BTreeMap::new(),
            services: model
                .services
                .iter()
                .map(|service| ServiceCoverage {
                    identifier: service.identifier.clone(),
                    invoked: 0,
                    outputs: service
                        .outputs
                        .iter()
                        .map(|output| (output.identifier.clone(), false))
                        .collect(),
                })
                .collect(),
            events: model
                .events
                .iter()
                .map(|event| EventCoverage {
                    identifier: event.identifier.clone(),
                    posted: 0,
                })
                .collect(),
        }
    }

    /// Points set by a command the device accepted.
    pub fn points_set(&self) -> Share {
        Share {
            done: self
                .points
                .iter()
                .filter(|p| self.set.contains_key(&p.identifier))
                .count(),
            total: self.points.len(),
        }
    }

    /// Services invoked and answered 200.
    pub fn services_invoked(&self) -> Share {
        Share {
            done: self.services.iter().filter(|s| s.invoked > 0).count(),
            total: self.services.len(),
        }
    }

    /// Events posted and accepted.
    pub fn events_posted(&self) -> Share {
        Share {
            done: self.events.iter().filter(|e| e.posted > 0).count(),
            total: self.events.len(),
        }
    }

    /// What commands and events never exercised: services never invoked, outputs never seen,
    /// events never posted.
    pub fn never_exercised(&self) -> Vec<String> {
        let services = self.services.iter().flat_map(|s| {
            let never =
                (s.invoked == 0).then(|| format!("service {} (never invoked)", s.identifier));
            let outputs = s
                .outputs
                .iter()
                .filter(|(_, seen)| s.invoked > 0 && !seen)
                .map(|(id, _)| format!("output {}.{id} (never in a reply)", s.identifier));
            never.into_iter().chain(outputs)
        });
        let events = self
            .events
            .iter()
            .filter(|e| e.posted == 0)
            .map(|e| format!("event {} (never posted)", e.identifier));
        services.chain(events).collect()
    }

    /// Points sent at all, valid or invalid: the headline figure.
    pub fn points(&self) -> Share {
        Share {
            done: self.points.iter().filter(|p| p.sent()).count(),
            total: self.points.len(),
        }
    }

    /// Points sent valid at least once.
    pub fn valid(&self) -> Share {
        Share {
            done: self.points.iter().filter(|p| p.valid > 0).count(),
            total: self.points.len(),
        }
    }

    /// Ways to be wrong sent, over those that apply: each point's, and an unknown identifier
    /// for the model.
    pub fn kinds(&self) -> Share {
        let applicable: usize = self.points.iter().map(|p| p.applicable.len()).sum();
        let done: usize = self
            .points
            .iter()
            .map(|p| p.applicable.len() - p.kinds_missing().len())
            .sum();
        Share {
            done: done + usize::from(!self.unknown.is_empty()),
            total: applicable + 1,
        }
    }

    /// The model's data types, each with whether a point of it was sent.
    pub fn types(&self) -> Vec<(&'static str, bool)> {
        let mut types: BTreeMap<&'static str, bool> = BTreeMap::new();
        for point in &self.points {
            *types.entry(point.data_type).or_default() |= point.sent();
        }
        types.into_iter().collect()
    }

    /// Points never sent.
    pub fn never_sent(&self) -> Vec<&str> {
        self.points
            .iter()
            .filter(|p| !p.sent())
            .map(|p| p.identifier.as_str())
            .collect()
    }
}

/// One reply code: how many fixtures expected it, how many replies carried it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeCoverage {
    pub code: ReplyCode,
    pub expected: usize,
    pub seen: usize,
}

/// The coverage of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// One per model of the workspace, by model id.
    pub models: Vec<ModelCoverage>,
    /// The code table's codes in its order, then any other code expected or seen.
    pub codes: Vec<CodeCoverage>,
    /// Requests sent, logins included.
    pub requests: usize,
    /// Requests that got a reply.
    pub answered: usize,
}

impl Coverage {
    /// The coverage of a run that sent `exchanges`, whose fixtures expected `expected`: the one
    /// function behind the report and the window.
    pub fn of_run<'e>(
        registry: &Registry,
        exchanges: impl IntoIterator<Item = &'e Exchange>,
        expected: impl IntoIterator<Item = ReplyCode>,
    ) -> Self {
        let mut coverage = Self::new(registry);
        for exchange in exchanges {
            coverage.add(registry, exchange);
        }
        for code in expected {
            coverage.expect(code);
        }
        coverage
    }

    /// Counts a fixture that expected `code`.
    pub fn expect(&mut self, code: ReplyCode) {
        self.code(code).expected += 1;
    }

    /// Nothing sent yet, against the models of `registry`.
    pub fn new(registry: &Registry) -> Self {
        let mut models: Vec<ModelCoverage> = registry
            .models
            .values()
            .map(|model| {
                let products = registry.products_of(&model.model_id);
                ModelCoverage::new(model, products)
            })
            .collect();
        models.sort_by(|a, b| a.model_id.cmp(&b.model_id));
        Self {
            models,
            codes: ReplyCode::ALL
                .iter()
                .map(|&code| CodeCoverage {
                    code,
                    expected: 0,
                    seen: 0,
                })
                .collect(),
            requests: 0,
            answered: 0,
        }
    }

    fn code(&mut self, code: ReplyCode) -> &mut CodeCoverage {
        let at = match self.codes.iter().position(|c| c.code == code) {
            Some(at) => at,
            None => {
                self.codes.push(CodeCoverage {
                    code,
                    expected: 0,
                    seen: 0,
                });
                let table = ReplyCode::ALL.len();
                self.codes[table..].sort_by_key(|c| c.code);
                table
                    + self.codes[table..]
                        .iter()
                        .position(|c| c.code == code)
                        .unwrap_or_default()
            }
        };
        &mut self.codes[at]
    }

    /// Counts one request. Its points count only when the hub answered 200 or 1204: then it
    /// checked them, and the checker says which were valid and how the others were wrong. A
    /// request rejected as a whole (1206, 1212, ...) exercised its code, not its points.
    pub fn add(&mut self, registry: &Registry, exchange: &Exchange) {
        self.requests += 1;
        let Some(code) = exchange.code() else {
            return;
        };
        self.answered += 1;
        self.code(code).seen += 1;
        if code != ReplyCode::SUCCESS && code != ReplyCode::MODEL {
            return;
        }
        let report = check(registry, &exchange.topic, &exchange.payload);
        if code == ReplyCode::SUCCESS {
            self.add_command_or_event(registry, &report.view, &exchange.reply);
        }
        for element in &report.view.elements {
            let Some(model) = registry.model_of(&element.device.product_key) else {
                continue;
            };
            let Some(table) = self
                .models
                .iter_mut()
                .find(|m| m.model_id == model.model_id)
            else {
                continue;
            };
            for identifier in element.points.keys() {
                let wrong = report
                    .findings
                    .iter()
                    .filter(|f| matches!(f.severity, Severity::Error | Severity::Skipped))
                    .find(|f| {
                        f.point.as_ref().is_some_and(|p| {
                            p.element == element.index && p.identifier == *identifier
                        })
                    })
                    .and_then(|f| f.wrong);
                match table
                    .points
                    .iter_mut()
                    .find(|p| p.identifier == *identifier)
                {
                    None => *table.unknown.entry(identifier.clone()).or_default() += 1,
                    Some(point) => match wrong {
                        None => point.valid += 1,
                        Some(kind) => *point.invalid.entry(kind).or_default() += 1,
                    },
                }
            }
        }
    }

    /// A command the device answered 200, or an event post the hub accepted: what it
    /// exercised of its model.
    fn add_command_or_event(
        &mut self,
        registry: &Registry,
        view: &crate::model::RequestView,
        reply: &[u8],
    ) {
        let device = match (&view.command, &view.event) {
            (Some(command), _) => &command.target,
            (None, Some(_)) => match &view.device {
                Some(device) => device,
                None => return,
            },
            (None, None) => return,
        };
        let Some(model) = registry.model_of(&device.product_key) else {
            return;
        };
        let Some(table) = self
            .models
            .iter_mut()
            .find(|m| m.model_id == model.model_id)
        else {
            return;
        };
        if let Some(event) = &view.event
            && let Some(coverage) = table
                .events
                .iter_mut()
                .find(|e| e.identifier == event.event)
        {
            coverage.posted += 1;
        }
        match view.command.as_ref().map(|c| &c.kind) {
            Some(CommandKind::Set(points)) => {
                for id in points.keys() {
                    if table.points.iter().any(|p| p.identifier == *id) {
                        *table.set.entry(id.clone()).or_default() += 1;
                    }
                }
            }
            Some(CommandKind::Invoke { service, .. }) => {
                let data = crate::protocol::parse_reply(reply)
                    .ok()
                    .map(|r| r.data)
                    .unwrap_or_default();
                if let Some(coverage) = table.services.iter_mut().find(|s| s.identifier == *service)
                {
                    coverage.invoked += 1;
                    for (output, seen) in &mut coverage.outputs {
                        *seen |= data.get(output.as_str()).is_some();
                    }
                }
            }
            _ => {}
        }
    }

    /// The table's codes never seen in a reply.
    pub fn codes_never_seen(&self) -> Vec<ReplyCode> {
        self.codes
            .iter()
            .filter(|c| c.seen == 0)
            .map(|c| c.code)
            .collect()
    }
}
