//! A route: method, path, who may call it, the handler, and its OpenAPI description. One table
//! of these per function is what the function serves, what `template.yaml` and the
//! `cargo lambda watch` router declare (a test checks they agree) and what the OpenAPI
//! document describes.
//!
//! A function needs only what the pipeline checks (query parameter names, whether a body or a
//! CSV file is taken); the schemas, examples and prose of the description are kept only with
//! the `openapi` feature, where the document is built, so that functions do not link them.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::Method;
use switchboard_core::model::{RateClass, Scope};
use utoipa::ToSchema;
#[cfg(feature = "openapi")]
use utoipa::openapi::RefOr;
#[cfg(feature = "openapi")]
use utoipa::openapi::schema::Schema;

use super::{ApiError, Reply, Request};

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

pub type Handler<S> = Arc<dyn Fn(Arc<S>, Request) -> BoxFuture<'static, Result<Reply, ApiError>> + Send + Sync>;

/// Adds a type's schema (and those it refers to) to the components and returns a reference
/// to it.
#[cfg(feature = "openapi")]
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

#[cfg(feature = "openapi")]
pub fn schema_ref<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    utoipa::openapi::Ref::from_schema_name(T::name()).into()
}

/// The schema of `{"object":"list","data":[T...],"has_more":..,"next_cursor":..}`.
#[cfg(feature = "openapi")]
pub fn list_schema<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let item = schema_ref::<T>(components);
    ObjectBuilder::new()
        .property(
            "object",
            <switchboard_core::model::ListObject as utoipa::PartialSchema>::schema(),
        )
        .property("data", ArrayBuilder::new().items(item))
        .property("has_more", ObjectBuilder::new().schema_type(Type::Boolean))
        .property(
            "next_cursor",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some("Pass as `cursor` to get the next page; null on the last page.")),
        )
        .required("object")
        .required("data")
        .required("has_more")
        .required("next_cursor")
        .into()
}

/// A documented query parameter. Requests with parameters a route does not document are refused.
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// An integer from 1 to 200 (`limit`); a string otherwise.
    pub page_size: bool,
}

impl QueryParam {
    pub fn string(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            description,
            required: false,
            page_size: false,
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
                page_size: true,
                ..Self::string("limit", "Items per page, 1 to 200 (default 50).")
            },
            Self::string("cursor", "`next_cursor` of the previous page."),
        ]
    }
}

/// The OpenAPI description of a route.
#[cfg(feature = "openapi")]
#[derive(Clone, Default)]
pub struct Doc {
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: Option<&'static str>,
    pub tag: &'static str,
    pub request: Option<SchemaFn>,
    /// A valid body, shown in the reference and used by the tests of bad input.
    pub example: Option<fn() -> serde_json::Value>,
    pub responses: Vec<(u16, &'static str, Option<SchemaFn>)>,
}

pub struct Route<S> {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub rate: RateClass,
    pub handler: Handler<S>,
    pub query: Vec<QueryParam>,
    /// Whether the route takes a JSON body, and whether a request may leave it out.
    pub body: bool,
    pub body_optional: bool,
    /// The body may also be a CSV file (`text/csv`, or the `file` of a `multipart/form-data`).
    pub csv: bool,
    /// Whether a credential's successful request changes something, and so is audited: every
    /// method but GET, unless the route says it changes nothing.
    pub audited: bool,
    #[cfg(feature = "openapi")]
    pub doc: Doc,
}

impl<S: Send + Sync + 'static> Route<S> {
    /// A route with `handler`, callable with `read` scope for GET and `write` otherwise.
    pub fn new<F, Fut>(method: Method, path: &'static str, handler: F) -> Self
    where
        F: Fn(Arc<S>, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, ApiError>> + Send + 'static,
    {
        let reads = method == Method::GET;
        Self {
            access: Access::Scoped(if reads { Scope::Read } else { Scope::Write }),
            rate: if reads { RateClass::Read } else { RateClass::Write },
            method,
            path,
            handler: Arc::new(move |state, request| Box::pin(handler(state, request))),
            query: Vec::new(),
            body: false,
            body_optional: false,
            csv: false,
            audited: !reads,
            #[cfg(feature = "openapi")]
            doc: Doc::default(),
        }
    }

    /// A POST that only reads (a search): not audited.
    pub fn changes_nothing(mut self) -> Self {
        self.audited = false;
        self
    }

    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    pub fn rate(mut self, rate: RateClass) -> Self {
        self.rate = rate;
        self
    }

    pub fn query(mut self, params: impl IntoIterator<Item = QueryParam>) -> Self {
        self.query.extend(params);
        self
    }

    /// Also takes a CSV file instead of the JSON body.
    pub fn or_csv(mut self) -> Self {
        self.csv = true;
        self
    }

    /// A JSON body the client may leave out.
    pub fn optional_body<T: ToSchema>(mut self, example: fn() -> serde_json::Value) -> Self {
        self = self.body::<T>(example);
        self.body_optional = true;
        self
    }

    /// The JSON body, with a valid example.
    #[allow(unused_variables)]
    pub fn body<T: ToSchema>(mut self, example: fn() -> serde_json::Value) -> Self {
        self.body = true;
        #[cfg(feature = "openapi")]
        {
            self.doc.request = Some(schema_ref::<T>);
            self.doc.example = Some(example);
        }
        self
    }

    #[allow(unused_mut, unused_variables)]
    pub fn doc(mut self, tag: &'static str, operation_id: &'static str, summary: &'static str) -> Self {
        #[cfg(feature = "openapi")]
        {
            self.doc.tag = tag;
            self.doc.operation_id = operation_id;
            self.doc.summary = summary;
        }
        self
    }

    #[allow(unused_mut, unused_variables)]
    pub fn describe(mut self, description: &'static str) -> Self {
        #[cfg(feature = "openapi")]
        {
            self.doc.description = Some(description);
        }
        self
    }

    #[allow(unused_mut, unused_variables)]
    pub fn returns<T: ToSchema>(mut self, status: u16, description: &'static str) -> Self {
        #[cfg(feature = "openapi")]
        self.doc.responses.push((status, description, Some(schema_ref::<T>)));
        self
    }

    /// Answers a page of a list of `T`, and so takes `limit` and `cursor` (unless the route
    /// names its page parameters itself).
    #[allow(unused_variables)]
    pub fn returns_list<T: ToSchema>(mut self, description: &'static str) -> Self {
        if !self.query.iter().any(|q| q.name == "cursor") {
            self.query.extend(QueryParam::pagination());
        }
        #[cfg(feature = "openapi")]
        self.doc.responses.push((200, description, Some(list_schema::<T>)));
        self
    }

    /// A list answered whole, in one page: for the few items the service itself holds.
    #[allow(unused_mut, unused_variables)]
    pub fn returns_whole_list<T: ToSchema>(mut self, description: &'static str) -> Self {
        #[cfg(feature = "openapi")]
        self.doc.responses.push((200, description, Some(list_schema::<T>)));
        self
    }

    #[allow(unused_mut, unused_variables)]
    pub fn returns_nothing(mut self, status: u16, description: &'static str) -> Self {
        #[cfg(feature = "openapi")]
        self.doc.responses.push((status, description, None));
        self
    }
}
