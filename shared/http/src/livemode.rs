//! Every object an answer holds says whether it is live or test-mode data (`livemode`), as
//! Stripe's do: a test-mode key's requests act in the workspace's test-mode twin, and its
//! answers say `livemode: false`.

use bytes::Bytes;
use http::header;
use serde_json::Value;

use crate::Reply;

/// `reply` with `livemode` on its object, or on each object of its list.
pub fn stamped(mut reply: Reply, livemode: bool) -> Reply {
    let json = reply
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let Some(body) = reply.body.as_ref().filter(|_| json) else {
        return reply;
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return reply;
    };
    if value["object"] == "list" {
        for item in value["data"].as_array_mut().into_iter().flatten() {
            stamp(item, livemode);
        }
    } else {
        stamp(&mut value, livemode);
    }
    reply.body = Some(Bytes::from(serde_json::to_vec(&value).expect("JSON serialises")));
    reply
}

/// Whether a schema's objects carry `livemode`: resources (they name their `object`), not
/// deletion receipts.
pub fn carries(properties: &[&str]) -> bool {
    properties.contains(&"object") && !properties.contains(&"deleted")
}

fn stamp(value: &mut Value, livemode: bool) {
    if let Value::Object(fields) = value {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        if carries(&names) && fields["object"].is_string() {
            fields.insert("livemode".to_owned(), Value::Bool(livemode));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn objects_and_listed_objects_say_livemode_and_receipts_do_not() {
        let body = |reply: Reply| serde_json::from_slice::<Value>(&reply.body.unwrap()).unwrap();
        let one = Reply::json(StatusCode::OK, &serde_json::json!({"id": "agt_1", "object": "agent"}));
        assert_eq!(body(stamped(one, false))["livemode"], false);
        let list = Reply::json(
            StatusCode::OK,
            &serde_json::json!({"object": "list", "data": [{"id": "agt_1", "object": "agent"}], "has_more": false}),
        );
        let list = body(stamped(list, true));
        assert_eq!(
            (list.get("livemode"), &list["data"][0]["livemode"]),
            (None, &Value::Bool(true))
        );
        let deleted = Reply::json(
            StatusCode::OK,
            &serde_json::json!({"id": "agt_1", "object": "agent", "deleted": true}),
        );
        assert_eq!(body(stamped(deleted, true)).get("livemode"), None);
    }
}
