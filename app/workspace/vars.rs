//! `{{name}}` variables in fixtures, filled from the workspace's `vars` overridden by those of
//! the active environment.

use indexmap::IndexMap;
use serde_json::{Map, Value};

/// The variables in force, and where they come from (for error messages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    values: IndexMap<String, String>,
    /// The active environment, named in errors.
    env: Option<String>,
}

/// A `{{name}}` with no value: its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName(pub String);

/// A `{{name}}` with no value, found at `place`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVar {
    /// JSON path of the string that holds it (`request.params[0].deviceKey`).
    pub place: String,
    pub name: String,
}

impl Vars {
    /// `base` overridden by `overrides`, the variables of environment `env`.
    pub fn new(
        base: &IndexMap<String, String>,
        overrides: &IndexMap<String, String>,
        env: Option<&str>,
    ) -> Self {
        let mut values = base.clone();
        for (name, value) in overrides {
            values.insert(name.clone(), value.clone());
        }
        Self {
            values,
            env: env.map(str::to_owned),
        }
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// What to do about `unknown`, as the end of a sentence naming the variables that exist.
    pub fn reason(&self, unknown: &UnknownVar) -> String {
        let source = match &self.env {
            Some(env) => format!("\"vars\" of workspace.json and of its environment {env}"),
            None => "\"vars\" of workspace.json".to_owned(),
        };
        if self.values.is_empty() {
            format!(
                "unknown variable {{{{{}}}}}: no variables are defined; add it to {source}",
                unknown.name
            )
        } else {
            let names: Vec<&str> = self.values.keys().map(String::as_str).collect();
            format!(
                "unknown variable {{{{{}}}}}; the variables are {}; add it to {source} or fix the name",
                unknown.name,
                names.join(", ")
            )
        }
    }

    /// `text` with every `{{name}}` replaced; `Err(name)` for the first unknown one. Braces
    /// around anything but a plain name (`{{"a": 1}}` in a malformed payload) stay as written.
    pub fn fill_str(&self, text: &str) -> Result<String, UnknownName> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if is_name(name) {
                let value = self.get(name).ok_or_else(|| UnknownName(name.to_owned()))?;
                out.push_str(&rest[..start]);
                out.push_str(value);
                rest = &after[end + 2..];
            } else {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `value` with every `{{name}}` replaced in every string (object keys too); `place` is the
    /// path of `value`, for the error.
    pub fn fill_value(&self, value: &Value, place: &str) -> Result<Value, UnknownVar> {
        let unknown = |place: String| move |UnknownName(name)| UnknownVar { place, name };
        Ok(match value {
            Value::String(s) => Value::String(self.fill_str(s).map_err(unknown(place.into()))?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.fill_value(item, &format!("{place}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(obj) => {
                let mut filled = Map::with_capacity(obj.len());
                for (key, item) in obj {
                    let inner = join(place, key);
                    let key = self.fill_str(key).map_err(unknown(inner.clone()))?;
                    filled.insert(key, self.fill_value(item, &inner)?);
                }
                Value::Object(filled)
            }
            other => other.clone(),
        })
    }
}

/// True for text that can name a variable: letters, digits, `_`, `-` and `.`.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn join(place: &str, key: &str) -> String {
    if place.is_empty() {
        key.to_owned()
    } else {
        format!("{place}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let base = IndexMap::from([
            ("inv".to_owned(), "inv01".to_owned()),
            ("gw".to_owned(), "gw01".to_owned()),
        ]);
        let lab = IndexMap::from([("inv".to_owned(), "inv-lab".to_owned())]);
        Vars::new(&base, &lab, Some("lab"))
    }

    #[test]
    fn the_environment_overrides_and_braces_that_name_nothing_stay() {
        let vars = vars();
        assert_eq!(vars.fill_str("{{inv}}/{{ gw }}"), Ok("inv-lab/gw01".into()));
        for literal in ["{{\"a\": 1}}", "{{", "}}", "a {{ b", "{{}}", "{not {json"] {
            assert_eq!(vars.fill_str(literal), Ok(literal.to_owned()), "{literal}");
        }
        assert_eq!(vars.fill_str("x{{nope}}"), Err(UnknownName("nope".into())));
    }

    #[test]
    fn values_are_filled_everywhere_and_an_unknown_one_has_its_place() {
        let vars = vars();
        let filled = vars
            .fill_value(
                &json!({"params": [{"deviceKey": "{{inv}}", "{{gw}}": 1, "n": 5}]}),
                "request",
            )
            .expect("filled");
        assert_eq!(
            filled,
            json!({"params": [{"deviceKey": "inv-lab", "gw01": 1, "n": 5}]})
        );
        let unknown = vars
            .fill_value(&json!({"params": [{"deviceKey": "{{inv9}}"}]}), "request")
            .expect_err("unknown");
        assert_eq!(unknown.place, "request.params[0].deviceKey");
        assert_eq!(unknown.name, "inv9");
        let reason = vars.reason(&unknown);
        assert!(
            reason.contains("{{inv9}}")
                && reason.contains("inv, gw")
                && reason.contains("environment lab"),
            "{reason}"
        );
    }
}
