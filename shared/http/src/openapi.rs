//! The OpenAPI document, generated from the route tables: paths, parameters, bodies and
//! responses come from the same [`Route`]s that serve requests. Built where the
//! `openapi` feature is on (the tests, which write the document the `catalog` function serves).

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, RefOr, Required, ResponseBuilder,
    Tag,
};

use switchboard_core::ErrorCode;

use super::error::ErrorBody;
use super::route::{Access, Doc, QueryParam, schema_ref};
use super::{Route, SESSION_COOKIE};

/// What the document needs of a route: its handler is left out.
#[derive(Clone)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub query: Vec<QueryParam>,
    pub body_optional: bool,
    pub csv: bool,
    pub audited: bool,
    pub doc: Doc,
}

impl<S: Send + Sync + 'static> Route<S> {
    pub fn info(&self) -> RouteInfo {
        RouteInfo {
            method: self.method.clone(),
            path: self.path,
            access: self.access,
            query: self.query.clone(),
            body_optional: self.body_optional,
            csv: self.csv,
            audited: self.audited,
            doc: self.doc.clone(),
        }
    }
}

/// The Markdown table of every error code, for the document's description.
pub fn error_table_markdown() -> String {
    let mut out = String::from("| status | code | meaning |\n|---|---|---|\n");
    for code in ErrorCode::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            code.status(),
            code.as_str(),
            code.description()
        ));
    }
    out
}

fn query_schema(param: &QueryParam) -> RefOr<Schema> {
    if param.page_size {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(200))
            .into()
    } else {
        <String as utoipa::PartialSchema>::schema()
    }
}

/// A well-formed value of a path parameter (an id of the collection it follows, or what it
/// names), so that every operation has an example to call it with.
fn path_example(collection: &str, name: &str) -> serde_json::Value {
    use switchboard_core::ids::prefix::*;
    let prefix = match (collection, name) {
        (_, "provider") => return "twilio".into(),
        (_, "phone_e164") => return "+14155550100".into(),
        (_, "voice") => return "amelia".into(),
        (_, "delivery_id") => DELIVERY,
        (_, "import_id") => IMPORT,
        ("agents", _) => AGENT,
        ("api-keys", _) => API_KEY,
        ("appointments", _) => APPOINTMENT,
        ("approvals", _) => APPROVAL,
        ("audit", _) => AUDIT_ENTRY,
        ("calls", _) => CALL,
        ("campaigns", _) => CAMPAIGN,
        ("contacts", _) => CONTACT,
        ("numbers", _) => NUMBER,
        ("roles", _) => ROLE,
        ("secrets", _) => SECRET,
        ("sessions", _) => SESSION,
        ("users", _) => USER,
        ("webhooks", _) => WEBHOOK,
        _ => return name.into(),
    };
    format!("{prefix}_01JD6Z3Q8W5X2K7M9N4P0R1S2T").into()
}

/// A valid value of the common query parameters: a page size, a time, a phone number.
fn query_example(param: &QueryParam) -> Option<serde_json::Value> {
    Some(match param.name {
        _ if param.page_size => 20.into(),
        "from" | "to" => "2026-01-01".into(),
        "phone" | "phone_e164" => "+14155550100".into(),
        "email" => "ada@example.com".into(),
        _ => return None,
    })
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Options,
    }
}

fn json_response(description: &str, schema: Option<RefOr<Schema>>) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new().description(description);
    if let Some(schema) = schema {
        response = response.content("application/json", ContentBuilder::new().schema(Some(schema)).build());
    }
    response.build()
}

fn header_param(name: &str, description: &str, pattern: Option<&str>) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(pattern)
                .max_length(Some(255)),
        ))
        .build()
}

const DESCRIPTION: &str = "\
The Switchboard control plane: voice agents, contacts, calls, campaigns and webhooks.

**Authentication.** `Authorization: Bearer sb_live_...` (an API key, scope `read`, `write` or `admin`) \
or `Bearer <JWT>` from `POST /v1/auth/login`, or the `sb_session` cookie. Credentials in the query \
string are refused.

**Customers.** An agency's credential acts for one of its customers (`POST /v1/customers`) by adding \
`Switchboard-Customer: cus_...`: the request then runs in the customer's workspace (404 \
`customer_not_found` for another workspace's customer). Routes under `/v1/auth`, `/v1/users`, \
`/v1/roles` and `/v1/customers` act on the caller's own workspace and refuse the header.

**Conventions.** JSON in and out, `snake_case` fields, ISO 8601 UTC times, type-prefixed ids. Lists \
return `{\"object\":\"list\",\"data\":[...],\"has_more\":...,\"next_cursor\":...}`; pass `next_cursor` \
as `cursor` for the next page. Every response carries `X-Request-Id` and, for credentials, \
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (rolling 60 s window; 429 \
with `Retry-After` beyond it). Any POST may carry `Idempotency-Key`; a retry with the same key and \
body within 24 h replays the first answer with `Idempotent-Replayed: true`. Mutable resources \
return an `ETag`; send it back in `If-Match` to update only what you read (412 otherwise).

**Errors** have the body `{\"error\":{\"code\",\"message\",\"param\",\"request_id\"}}`:
";

/// The OpenAPI 3.1 document of `routes`.
pub fn document(routes: &[RouteInfo]) -> OpenApi {
    let mut components: Vec<(String, RefOr<Schema>)> = Vec::new();
    let error = schema_ref::<ErrorBody>(&mut components);
    let mut paths = Paths::new();
    let mut tags = BTreeSet::new();
    for route in routes {
        let doc = &route.doc;
        tags.insert(doc.tag);
        let mut op = OperationBuilder::new()
            .tag(doc.tag)
            .operation_id(Some(doc.operation_id))
            .summary(Some(doc.summary))
            .description(doc.description);
        let segments: Vec<&str> = route.path.split('/').collect();
        for (i, name) in segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.strip_prefix('{')?.strip_suffix('}')?)))
        {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .example(Some(path_example(segments[i - 1], name))),
            );
        }
        for q in &route.query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(q.name)
                    .parameter_in(ParameterIn::Query)
                    .required(if q.required { Required::True } else { Required::False })
                    .description(Some(q.description))
                    .schema(Some(query_schema(q)))
                    .example(query_example(q)),
            );
        }
        if route.method == Method::POST {
            op = op.parameter(header_param(
                "Idempotency-Key",
                "Makes retries safe: the same key and body within 24 h replay the first answer.",
                Some("^[\\x21-\\x7e]{1,255}$"),
            ));
        }
        if route.path.contains('{') && matches!(route.method, Method::PATCH | Method::PUT | Method::DELETE) {
            op = op.parameter(header_param(
                "If-Match",
                "The resource's ETag: apply only if it has not changed since.",
                None,
            ));
        }
        if let Some(request) = doc.request {
            let mut body = RequestBodyBuilder::new()
                .required(Some(if route.body_optional {
                    Required::False
                } else {
                    Required::True
                }))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(request(&mut components)))
                        .example(doc.example.map(|e| e()))
                        .build(),
                );
            if route.csv {
                let text: RefOr<Schema> = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A CSV file with a header row."))
                    .into();
                let form: RefOr<Schema> = ObjectBuilder::new()
                    .property(
                        "file",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .content_media_type("text/csv")
                            .description(Some("A CSV file with a header row.")),
                    )
                    .required("file")
                    .into();
                body = body
                    .content("text/csv", ContentBuilder::new().schema(Some(text)).build())
                    .content("multipart/form-data", ContentBuilder::new().schema(Some(form)).build());
            }
            op = op.request_body(Some(body.build()));
        }
        for (status, description, schema) in &doc.responses {
            op = op.response(
                status.to_string(),
                json_response(description, schema.map(|s| s(&mut components))),
            );
        }
        op = op.response(
            "default",
            json_response("An error; see the error table.", Some(error.clone())),
        );
        op = match route.access {
            Access::Public | Access::PublicLimited => op.securities(Some(Vec::<SecurityRequirement>::new())),
            Access::Session(_) | Access::Scoped(_) => op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new("session_cookie", Vec::<String>::new())),
        };
        paths.add_path_operation(route.path, vec![http_method(&route.method)], op.build());
    }
    let mut schemas = ComponentsBuilder::new()
        .security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    // Two types may not share a component name: one would silently describe the other.
    let mut seen: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    for (name, mut schema) in components {
        with_livemode(&mut schema);
        match seen.get(&name) {
            Some(first) => assert!(*first == schema, "two different schemas are named {name}"),
            None => {
                seen.insert(name.clone(), schema.clone());
                schemas = schemas.schema(name, schema);
            }
        }
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Switchboard API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(format!("{DESCRIPTION}\n{}", error_table_markdown()))),
        )
        .paths(paths)
        .components(Some(schemas.build()))
        .tags(Some(tags.into_iter().map(Tag::new).collect::<Vec<_>>()))
        .build()
}

/// Adds `livemode` to the schemas of objects answers stamp with it (see [`crate::livemode`]).
fn with_livemode(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    let names: Vec<&str> = object.properties.keys().map(String::as_str).collect();
    if crate::livemode::carries(&names) {
        let flag = utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Boolean)
            .description(Some(
                "`true` for live data, `false` for test-mode data (made with an `sb_test_` key).",
            ))
            .build();
        object.properties.insert("livemode".to_owned(), flag.into());
    }
}
