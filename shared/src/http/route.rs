//! A route: method, path, who may call it, the handler, and its OpenAPI description. One table
//! of these per function is what the function serves, what `template.yaml` and the
//! `cargo lambda watch` router declare (a test checks they agree) and what `/v1/openapi.json`
//! documents.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::Method;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use super::{Call, Reply};
use crate::error::ApiError;
use crate::model::{RateClass, Scope};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, not rate limited (health, documents).
    Public,
    /// Anyone, rate limited per client IP (signup, login).
    PublicLimited,
    /// A signed-in user (session cookie or JWT) whose role allows this scope; API keys are refused.
    Session(Scope),
    /// An API key or session whose scope is at least this.
    Scoped(Scope),
}

impl Access {
    pub fn is_authenticated(self) -> bool {
        matches!(self, Access::Session(_) | Access::Scoped(_))
    }
}

pub type Handler<S> = Arc<dyn Fn(Arc<S>, Call) -> BoxFuture<'static, Result<Reply, ApiError>> + Send + Sync>;

/// Adds `T`'s schema (and those it refers to) to `components` and returns a reference to it.
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

pub fn schema_ref<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    utoipa::openapi::Ref::from_schema_name(T::name()).into()
}

/// A documented query parameter. Requests with parameters a route does not document are refused.
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    pub schema: fn() -> RefOr<Schema>,
}

impl QueryParam {
    pub fn string(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            required: false,
            schema: <String as utoipa::PartialSchema>::schema,
        }
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// `limit` and `cursor`, the parameters of every list.
    pub fn pagination() -> [Self; 2] {
        [
            Self {
                name: "limit",
                description: "Items per page, 1 to 200 (default 50).",
                required: false,
                schema: || {
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(200))
                        .into()
                },
            },
            Self::string("cursor", "`next_cursor` of the previous page."),
        ]
    }
}

/// The OpenAPI description of a route.
#[derive(Clone)]
pub struct Doc {
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    pub tag: &'static str,
    pub request: Option<SchemaFn>,
    /// Whether a request without a body is valid.
    pub body_optional: bool,
    /// A valid body, shown in the reference and used by the tests of bad input.
    pub example: Option<fn() -> serde_json::Value>,
    pub responses: Vec<(u16, &'static str, Option<SchemaFn>)>,
    pub query: Vec<QueryParam>,
    /// The body may also be a CSV file (`text/csv`, or the `file` of a `multipart/form-data`).
    pub csv: bool,
}

pub struct Route<S> {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub rate: RateClass,
    pub handler: Handler<S>,
    pub doc: Doc,
}

impl<S: Send + Sync + 'static> Route<S> {
    /// A route with `handler`, callable with `read` scope for GET and `write` otherwise.
    pub fn new<F, Fut>(method: Method, path: &'static str, handler: F) -> Self
    where
        F: Fn(Arc<S>, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, ApiError>> + Send + 'static,
    {
        let reads = method == Method::GET;
        Self {
            access: Access::Scoped(if reads { Scope::Read } else { Scope::Write }),
            rate: if reads { RateClass::Read } else { RateClass::Write },
            method,
            path,
            handler: Arc::new(move |state, call| Box::pin(handler(state, call))),
            doc: Doc {
                operation_id: "",
                summary: "",
                description: None,
                tag: "",
                request: None,
                body_optional: false,
                example: None,
                responses: Vec::new(),
                query: Vec::new(),
                csv: false,
            },
        }
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    pub fn rate(mut self, rate: RateClass) -> Self {
        self.rate = rate;
        self
    }

    pub fn doc(mut self, tag: &'static str, operation_id: &'static str, summary: &'static str) -> Self {
        self.doc.tag = tag;
        self.doc.operation_id = operation_id;
        self.doc.summary = summary;
        self
    }

    pub fn describe(mut self, description: &'static str) -> Self {
        self.doc.description = Some(description);
        self
    }

    /// The JSON body, with a valid example.
    pub fn body<T: ToSchema>(mut self, example: fn() -> serde_json::Value) -> Self {
        self.doc.request = Some(schema_ref::<T>);
        self.doc.example = Some(example);
        self
    }

    /// A JSON body the client may leave out.
    pub fn optional_body<T: ToSchema>(mut self, example: fn() -> serde_json::Value) -> Self {
        self = self.body::<T>(example);
        self.doc.body_optional = true;
        self
    }

    /// Also takes a CSV file instead of the JSON body.
    pub fn or_csv(mut self) -> Self {
        self.doc.csv = true;
        self
    }

    pub fn returns<T: ToSchema>(mut self, status: u16, description: &'static str) -> Self {
        self.doc.responses.push((status, description, Some(schema_ref::<T>)));
        self
    }

    pub fn returns_list<T: ToSchema>(mut self, description: &'static str) -> Self {
        self.doc
            .responses
            .push((200, description, Some(super::openapi::list_schema::<T>)));
        self
    }

    pub fn returns_nothing(mut self, status: u16, description: &'static str) -> Self {
        self.doc.responses.push((status, description, None));
        self
    }

    pub fn query(mut self, params: impl IntoIterator<Item = QueryParam>) -> Self {
        self.doc.query.extend(params);
        self
    }

    /// Whether the route takes a JSON body.
    pub fn has_body(&self) -> bool {
        self.doc.request.is_some()
    }
}
