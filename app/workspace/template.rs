//! Send-time templates: `"time": "now-90s"` and fresh message ids.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::protocol::{EpochMs, MsgId};

/// Resolves `now`, `now-90s`, `now+5m` (units ms, s, m, h) against `now`.
///
/// Returns `None` for any other string, which is then sent as it is.
pub fn resolve_time_template(text: &str, now: EpochMs) -> Option<EpochMs> {
    let rest = text.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(now);
    }
    let (sign, rest) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(digits_end);
    let amount: i64 = digits.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    let offset = amount.checked_mul(scale)?.checked_mul(sign)?;
    now.0.checked_add(offset).map(EpochMs)
}

/// Fresh message ids: strings of digits, as the SDKs send them. A clone counts on the same
/// counter, so that everyone who sends on one session gives ids that never collide.
#[derive(Clone, Debug)]
pub struct IdSource {
    next: Arc<AtomicU64>,
}

impl IdSource {
    /// Ids counting up from `first`.
    pub fn starting_at(first: u64) -> Self {
        Self {
            next: Arc::new(AtomicU64::new(first)),
        }
    }

    /// Ids that are unlikely to repeat those of an earlier run.
    pub fn from_clock() -> Self {
        Self::starting_at(EpochMs::now().0.unsigned_abs() % 1_000_000_000 * 1000)
    }

    /// The next id.
    pub fn next_id(&self) -> MsgId {
        MsgId(self.next.fetch_add(1, Ordering::Relaxed).to_string())
    }
}

impl Default for IdSource {
    fn default() -> Self {
        Self::from_clock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let now = EpochMs(1_000_000);
        assert_eq!(resolve_time_template("now", now), Some(now));
        assert_eq!(
            resolve_time_template("now-90s", now),
            Some(EpochMs(910_000))
        );
        assert_eq!(
            resolve_time_template("now+5m", now),
            Some(EpochMs(1_300_000))
        );
        assert_eq!(
            resolve_time_template("now-1h", now),
            Some(EpochMs(1_000_000 - 3_600_000))
        );
        assert_eq!(
            resolve_time_template("now+250ms", now),
            Some(EpochMs(1_000_250))
        );
        for text in [
            "",
            "yesterday",
            "now-",
            "now-5",
            "now-5d",
            "now 5s",
            "now+-5s",
            "nowish",
            "now-99999999999999999999h",
        ] {
            assert_eq!(resolve_time_template(text, now), None, "{text}");
        }
    }

    #[test]
    fn ids_are_fresh() {
        let ids = IdSource::starting_at(7);
        assert_eq!(ids.next_id(), MsgId("7".into()));
        assert_eq!(ids.next_id(), MsgId("8".into()));
    }
}
