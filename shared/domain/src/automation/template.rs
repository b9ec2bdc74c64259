//! Placeholders in workflow and connector templates: `{{path.to.value}}` inside JSON strings,
//! filled from a scope (a JSON object). A string that is exactly one placeholder takes the
//! value with its type; placeholders inside longer strings are written into the text. Paths
//! are checked when a template is saved, so that running it can only miss values, never parse.

use serde_json::Value;

/// What a path segment may hold: letters, digits, `_` and `-`.
fn segment_ok(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The placeholders of one string, as paths, in order; an error naming the first malformed one.
pub fn paths_in(text: &str) -> Result<Vec<Vec<&str>>, String> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{}` opens a placeholder it does not close.", &rest[start..]))?;
        let path: Vec<&str> = after[..end].trim().split('.').collect();
        if !path.iter().all(|s| segment_ok(s)) {
            return Err(format!(
                "`{{{{{}}}}}` is not a placeholder: write a dotted path such as `{{{{trigger.data.call.id}}}}`.",
                &after[..end]
            ));
        }
        paths.push(path);
        rest = &after[end + 2..];
    }
    Ok(paths)
}

/// Where a placeholder is (`body.properties.phone`), and its path (`steps.s1.output.id`, split at
/// the dots).
pub type Placed = (String, Vec<String>);

/// Every placeholder path of a JSON value (in its strings, keys excepted), with where it is, in
/// order; else where the first malformed placeholder is, and what is wrong with it.
pub fn paths_of(value: &Value, at: &str) -> Result<Vec<Placed>, (String, String)> {
    let mut found = Vec::new();
    walk(value, at, &mut found)?;
    Ok(found)
}

fn walk(value: &Value, at: &str, found: &mut Vec<Placed>) -> Result<(), (String, String)> {
    match value {
        Value::String(text) => {
            for path in paths_in(text).map_err(|e| (at.to_owned(), e))? {
                found.push((at.to_owned(), path.into_iter().map(str::to_owned).collect()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{at}[{i}]"), found)?;
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                walk(item, &format!("{at}.{name}"), found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The value at `path` in `scope` (array items by index).
fn lookup<'a>(scope: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(scope, |value, segment| match value {
        Value::Object(fields) => fields.get(*segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    })
}

/// How a value reads inside text: strings as they are, `null` as nothing, the rest as JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `text` with its placeholders filled from `scope`, each value passed through `escape`.
pub fn render_text(text: &str, scope: &Value, escape: impl Fn(&str) -> String) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("an unclosed placeholder")?;
        let path: Vec<&str> = after[..end].trim().split('.').collect();
        let value = lookup(scope, &path).ok_or_else(|| missing(&path))?;
        out.push_str(&escape(&as_text(value)));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn missing(path: &[&str]) -> String {
    format!("`{{{{{}}}}}` has no value", path.join("."))
}

/// `value` with every placeholder filled from `scope`.
pub fn render(value: &Value, scope: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => {
            let trimmed = text.trim();
            let whole = trimmed.starts_with("{{") && trimmed.ends_with("}}") && trimmed[2..].find("{{").is_none();
            if whole {
                let path: Vec<&str> = trimmed[2..trimmed.len() - 2].trim().split('.').collect();
                lookup(scope, &path).cloned().ok_or_else(|| missing(&path))?
            } else {
                Value::String(render_text(text, scope, str::to_owned)?)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, scope)).collect::<Result<_, _>>()?),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), render(v, scope)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_placeholder_keeps_the_type_and_text_interpolates() {
        let scope = json!({"input": {"n": 3, "name": "Ada", "tags": ["a"]}});
        let rendered = render(
            &json!({"n": "{{input.n}}", "hi": "Hello {{ input.name }}!", "t": "{{input.tags.0}}"}),
            &scope,
        );
        assert_eq!(rendered.unwrap(), json!({"n": 3, "hi": "Hello Ada!", "t": "a"}));
        assert!(
            render(&json!("{{input.nope}}"), &scope)
                .unwrap_err()
                .contains("input.nope")
        );
    }

    #[test]
    fn malformed_placeholders_are_named() {
        assert!(paths_in("{{input.name").is_err());
        assert!(paths_in("{{input name}}").is_err());
        assert!(paths_in("{{}}").is_err());
        let found = paths_of(&json!({"a": ["x {{input.a}} {{steps.s1.output.id}}"]}), "body").unwrap();
        assert_eq!(
            found[1],
            (
                "body.a[0]".to_owned(),
                vec!["steps".into(), "s1".into(), "output".into(), "id".into()]
            )
        );
    }
}
