//! A workflow's steps checked when it is saved, each refusal naming the step and field
//! (`steps[2].to`): known types and fields, unique ids, placeholders that name the trigger or
//! an earlier step, conditions that only skip forward (so no run loops), and bounds.

use std::collections::HashSet;

use serde_json::Value;
use switchboard_core::error::Error;
use switchboard_core::model::{MAX_STEPS, MAX_WAIT_MINUTES, Step};

use super::template;

/// Attempts of an HTTP step when the workflow does not say.
pub const DEFAULT_ATTEMPTS: u32 = 5;
pub const MAX_ATTEMPTS: u32 = 10;

fn refused(param: String, message: impl Into<String>) -> Error {
    Error::validation(param, message.into())
}

/// The field a serde error names (`unknown field `x``, `missing field `x``), if any.
fn field_of(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(&message[start..end])
}

fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A step's own fields (without `type` and `id`): what its placeholders are in, and what a
/// run fills.
pub fn step_fields(step: &Step) -> Value {
    let mut fields = serde_json::to_value(step).unwrap_or_default();
    if let Value::Object(map) = &mut fields {
        map.remove("type");
        map.remove("id");
    }
    fields
}

/// The steps of `raw`, checked.
pub fn checked_steps(raw: &[Value]) -> Result<Vec<Step>, Error> {
    if raw.is_empty() || raw.len() > MAX_STEPS {
        return Err(refused(
            "steps".into(),
            format!("A workflow has 1 to {MAX_STEPS} steps."),
        ));
    }
    let mut steps = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        let step: Step = serde_json::from_value(value.clone()).map_err(|e| {
            let message = e.to_string();
            let param = match (message.starts_with("unknown variant"), field_of(&message)) {
                (true, _) => at("type"),
                (false, Some(field)) if !message.starts_with("invalid") => at(field),
                _ => format!("steps[{i}]"),
            };
            refused(param, format!("Step {i}: {message}."))
        })?;
        steps.push(step);
    }
    let mut earlier: HashSet<&str> = HashSet::new();
    for (i, step) in steps.iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        if !id_ok(step.id()) || earlier.contains(step.id()) {
            return Err(refused(
                at("id"),
                "Each step has its own id: letters, digits and `_`, at most 64.",
            ));
        }
        for (param, path) in
            template::paths_of(&step_fields(step), &format!("steps[{i}]")).map_err(|(p, why)| refused(p, why))?
        {
            let root = path.first().map(String::as_str);
            let named_step = path.get(1).map(String::as_str);
            let known = match root {
                Some("trigger") => true,
                Some("steps") => named_step.is_some_and(|id| earlier.contains(id)),
                _ => false,
            };
            if !known {
                return Err(refused(
                    param,
                    format!(
                        "`{{{{{}}}}}` names neither the trigger (`{{{{trigger.data...}}}}`) nor an earlier step (`{{{{steps.<id>.output...}}}}`).",
                        path.join(".")
                    ),
                ));
            }
        }
        match step {
            Step::Wait(wait) if !(1..=MAX_WAIT_MINUTES).contains(&wait.minutes) => {
                return Err(refused(
                    at("minutes"),
                    format!("A wait lasts 1 to {MAX_WAIT_MINUTES} minutes (30 days)."),
                ));
            }
            Step::Http(http) if http.max_attempts.is_some_and(|n| !(1..=MAX_ATTEMPTS).contains(&n)) => {
                return Err(refused(at("max_attempts"), format!("1 to {MAX_ATTEMPTS} attempts.")));
            }
            Step::Http(http) if !http.input.is_object() && !http.input.is_null() => {
                return Err(refused(at("input"), "An object of the action's input values."));
            }
            Step::Condition(condition) => {
                if let Some(target) = &condition.otherwise {
                    // Only forward: a run cannot loop, and every step stays reachable.
                    let later = steps[i + 1..].iter().any(|s| s.id() == target);
                    if !later {
                        return Err(refused(
                            at("otherwise"),
                            format!("`{target}` is not a later step: a condition only skips forward."),
                        ));
                    }
                }
                if condition.with.is_none() && condition.comparison != switchboard_core::model::Comparison::Exists {
                    return Err(refused(at("with"), "What the value is compared with."));
                }
            }
            _ => {}
        }
        earlier.insert(step.id());
    }
    Ok(steps)
}
