//! The audit entry of a change, made from its request: the actor from the credential, the
//! action and resource from the route, the names of the fields it sets, where it came from.

use chrono::Duration;
use http::{Method, header};
use switchboard_core::ids::{self, prefix};
use switchboard_core::model::{Actor, ActorKind, AuditEntry, AuditEntryObject, AuditOrigin, AuditSubject};
use switchboard_core::ports::{CredentialKind, CredentialRecord};
use switchboard_domain::audit::Pending;

use crate::Request;

/// Path segments naming a collection, and the `object` of its resources.
const COLLECTIONS: &[(&str, &str)] = &[
    ("agents", "agent"),
    ("api-keys", "api_key"),
    ("appointments", "appointment"),
    ("approvals", "approval"),
    ("calls", "call"),
    ("campaigns", "campaign"),
    ("connections", "connection"),
    ("connectors", "connector"),
    ("contacts", "contact"),
    ("customers", "customer"),
    ("deliveries", "webhook_delivery"),
    ("dnc", "dnc_entry"),
    ("executions", "execution"),
    ("numbers", "phone_number"),
    ("roles", "role"),
    ("secrets", "secret"),
    ("sessions", "session"),
    ("triggers", "trigger"),
    ("users", "user"),
    ("webhooks", "webhook_endpoint"),
    ("workflows", "workflow"),
];

/// What a family without collections changes.
const FAMILIES: &[(&str, &str)] = &[("auth", "user"), ("billing", "billing"), ("telephony", "call")];

/// Actions whose path segment reads poorly as a verb.
const VERBS: &[(&str, &str)] = &[
    ("messages", "send_message"),
    ("audience", "add_audience"),
    ("inbound_calls", "simulate_inbound"),
];

/// The resource type and verb of a route: `POST /v1/agents` → (`agent`, `create`),
/// `PATCH /v1/agents/{id}` → `update`, `POST /v1/campaigns/{id}/start` → (`campaign`,
/// `start`), `PUT /v1/campaigns/{id}/compliance` → `update_compliance`.
pub fn action_of(method: &Method, route: &str) -> (String, String) {
    let literals: Vec<&str> = route
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|s| !s.starts_with('{'))
        .collect();
    let collection = |segment: &str| COLLECTIONS.iter().find(|(s, _)| *s == segment).map(|(_, kind)| *kind);
    let family = |segment: &str| {
        collection(segment)
            .or_else(|| FAMILIES.iter().find(|(s, _)| *s == segment).map(|(_, kind)| *kind))
            .unwrap_or(segment)
            .to_owned()
    };
    let last = literals.last().copied().unwrap_or_default();
    if let Some(kind) = collection(last) {
        let verb = match *method {
            Method::POST => "create",
            Method::DELETE => "delete",
            _ => "update",
        };
        return (kind.to_owned(), verb.to_owned());
    }
    let action = last.replace('-', "_");
    let action = VERBS
        .iter()
        .find(|(segment, _)| *segment == action)
        .map_or(action.clone(), |(_, verb)| (*verb).to_owned());
    let verb = match *method {
        Method::POST => action,
        Method::DELETE => format!("delete_{action}"),
        _ => format!("update_{action}"),
    };
    let owner = literals.iter().rev().skip(1).find_map(|s| collection(s));
    let kind = owner.map_or_else(|| family(literals.first().copied().unwrap_or_default()), str::to_owned);
    (kind, verb)
}

/// The entry of the change `request` is about to make, for `credential`'s workspace.
pub fn entry_for(request: &Request, credential: &CredentialRecord) -> Pending {
    let (kind, verb) = action_of(&request.method, request.route);
    let actor = match &credential.kind {
        CredentialKind::ApiKey { key_id, .. } => Actor {
            kind: ActorKind::ApiKey,
            id: key_id.clone(),
            email: None,
        },
        CredentialKind::Session { user_id, email, .. } => Actor {
            kind: ActorKind::User,
            id: user_id.clone(),
            email: Some(email.clone()),
        },
    };
    // The resource a path names is its last parameter (`/v1/webhooks/{id}/deliveries/{delivery_id}/...`).
    let id = request.params.last().map(|(_, value)| value.clone());
    let mut changes: Vec<String> = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&request.body)
        .map(|fields| fields.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default();
    changes.sort();
    let user_agent = request
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    let at = switchboard_core::clock::api_time(request.now);
    Pending {
        workspace_id: credential.workspace_id.clone(),
        entry: AuditEntry {
            id: ids::new_id_at(prefix::AUDIT_ENTRY, request.now),
            object: AuditEntryObject,
            occurred_at: at,
            actor,
            action: format!("{kind}.{verb}"),
            resource: AuditSubject { kind, id },
            changes,
            request: AuditOrigin {
                request_id: request.request_id.clone(),
                method: request.method.to_string(),
                path: path_of(request),
                ip: request.client_ip.clone(),
                user_agent,
            },
            expires_at: at + Duration::days(credential.plan.audit_retention_days()),
        },
    }
}

/// The path as requested: the route with its parameters filled in.
fn path_of(request: &Request) -> String {
    request
        .params
        .iter()
        .fold(request.route.to_owned(), |path, (name, value)| {
            path.replace(&format!("{{{name}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_their_actions() {
        let cases = [
            (Method::POST, "/v1/agents", "agent", "create"),
            (Method::PATCH, "/v1/agents/{id}", "agent", "update"),
            (Method::DELETE, "/v1/dnc/{phone_e164}", "dnc_entry", "delete"),
            (Method::POST, "/v1/dnc/import", "dnc_entry", "import"),
            (Method::POST, "/v1/campaigns/{id}/start", "campaign", "start"),
            (
                Method::PUT,
                "/v1/campaigns/{id}/compliance",
                "campaign",
                "update_compliance",
            ),
            (Method::POST, "/v1/agents/{id}/messages", "agent", "send_message"),
            (
                Method::POST,
                "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
                "webhook_delivery",
                "redeliver",
            ),
            (Method::POST, "/v1/auth/change-password", "user", "change_password"),
            (
                Method::POST,
                "/v1/auth/sessions/revoke-others",
                "session",
                "revoke_others",
            ),
            (Method::DELETE, "/v1/auth/sessions/{id}", "session", "delete"),
            (
                Method::PATCH,
                "/v1/billing/spending-controls",
                "billing",
                "update_spending_controls",
            ),
            (Method::POST, "/v1/users/invite", "user", "invite"),
            (Method::POST, "/v1/connections", "connection", "create"),
            (Method::POST, "/v1/connections/{id}/test", "connection", "test"),
            (Method::PUT, "/v1/workflows/{id}", "workflow", "update"),
            (Method::POST, "/v1/workflows/{id}/run", "workflow", "run"),
            (Method::PATCH, "/v1/triggers/{id}", "trigger", "update"),
        ];
        for (method, route, kind, verb) in cases {
            assert_eq!(
                action_of(&method, route),
                (kind.to_owned(), verb.to_owned()),
                "{method} {route}"
            );
        }
    }
}
