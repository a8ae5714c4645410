//! The ways a measure point's value can be wrong: how the checker names a 1204, what coverage
//! counts, and what `thingbench generate` writes a fixture for.

use super::thing_model::{DataType, MeasurePoint};

/// How a point's value is wrong, as the checker finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WrongKind {
    /// A value of another JSON type (a string for a FLOAT, an object for a BOOL...).
    WrongType,
    /// A number outside the type's range (INT beyond 32 bits, FLOAT beyond f32).
    OutOfRange,
    /// An ENUM key the model does not list.
    NotInEnum,
    /// A STRING over maxLength, an ARRAY over 128 items.
    TooLong,
    /// A quality outside 0..9, a bare value for a quality point, a quality for a plain one.
    BadQuality,
    /// A STRUCT without one of its required items.
    MissingStructItem,
    /// An ARRAY item of the wrong type.
    BadArrayItem,
    /// An identifier that is not a measure point of the model.
    UnknownIdentifier,
}

impl WrongKind {
    /// Every kind, in the order reports show them.
    pub const ALL: [Self; 8] = [
        Self::WrongType,
        Self::OutOfRange,
        Self::NotInEnum,
        Self::TooLong,
        Self::BadQuality,
        Self::MissingStructItem,
        Self::BadArrayItem,
        Self::UnknownIdentifier,
    ];

    /// The kinds a point can have, unknown identifiers aside (those are the model's).
    pub const OF_POINTS: [Self; 7] = [
        Self::WrongType,
        Self::OutOfRange,
        Self::NotInEnum,
        Self::TooLong,
        Self::BadQuality,
        Self::MissingStructItem,
        Self::BadArrayItem,
    ];

    /// Words for tables: `wrong type`, `not in the enum`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::WrongType => "wrong type",
            Self::OutOfRange => "out of range",
            Self::NotInEnum => "not in the enum",
            Self::TooLong => "too long",
            Self::BadQuality => "bad quality",
            Self::MissingStructItem => "missing struct item",
            Self::BadArrayItem => "bad array item",
            Self::UnknownIdentifier => "unknown identifier",
        }
    }

    /// The kinds a value of `data_type` can have (quality aside): a valid JSON payload can
    /// carry each of them.
    pub fn of_type(data_type: &DataType) -> Vec<Self> {
        let mut kinds = vec![Self::WrongType];
        match data_type {
            // A DOUBLE beyond f64 is not valid JSON for serde_json: no such payload is sent.
            DataType::Int | DataType::Float => kinds.push(Self::OutOfRange),
            DataType::Enum(_) => kinds.push(Self::NotInEnum),
            DataType::String { .. } => kinds.push(Self::TooLong),
            DataType::Array { .. } => kinds.extend([Self::TooLong, Self::BadArrayItem]),
            DataType::Struct { items } => {
                if items.iter().any(|item| item.required) {
                    kinds.push(Self::MissingStructItem);
                }
                for item in items {
                    for kind in Self::of_type(&item.data_type) {
                        if !kinds.contains(&kind) {
                            kinds.push(kind);
                        }
                    }
                }
            }
            DataType::Double
            | DataType::Bool
            | DataType::Date
            | DataType::Timestamp
            | DataType::File => {}
        }
        kinds.sort();
        kinds
    }

    /// The kinds `point` can have: its type's, and a bad quality for any point but a plain
    /// STRUCT (a quality out of range, or a quality object where the model has none).
    pub fn of_point(point: &MeasurePoint) -> Vec<Self> {
        let mut kinds = Self::of_type(&point.data_type);
        if point.has_quality || !matches!(point.data_type, DataType::Struct { .. }) {
            kinds.push(Self::BadQuality);
            kinds.sort();
        }
        kinds
    }
}
