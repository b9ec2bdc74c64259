//! Handler steps every plain resource shares: find by id within the workspace, update and
//! delete under optimistic concurrency (with `If-Match` when the client sends it).

use serde::Serialize;
use utoipa::ToSchema;

use switchboard_core::model::Event;
use switchboard_core::ports::{ListQuery, Quota, Repository, Resource, Versioned};
use switchboard_core::{ErrorCode, StoreError, ids};

use crate::{ApiError, Reply, Request};

/// How often an update is re-applied when another write got in between (no `If-Match`).
const ATTEMPTS: usize = 5;

/// `{"id": ..., "object": ..., "deleted": true}`, the answer to a DELETE.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

impl Deleted {
    pub fn new(id: &str, object: &str) -> Self {
        Self {
            id: id.to_owned(),
            object: object.to_owned(),
            deleted: true,
        }
    }
}

fn not_found<T: Resource>() -> ApiError {
    ApiError::of(T::NOT_FOUND)
}

/// The resource `id` of the caller's workspace; 404 for ids of the wrong shape, of other
/// workspaces, or that never existed.
pub async fn find<T: Resource>(
    repo: &dyn Repository<T>,
    request: &Request,
    id: &str,
) -> Result<Versioned<T>, ApiError> {
    if !ids::is_valid(T::ID_PREFIX, id) {
        return Err(not_found::<T>());
    }
    repo.get(request.workspace_id()?, id).await?.ok_or_else(not_found::<T>)
}

/// The answer to `GET .../{id}`: the resource, with its ETag.
pub async fn get<T: Resource>(repo: &dyn Repository<T>, request: &Request) -> Result<Reply, ApiError> {
    Ok(Reply::versioned(&find(repo, request, request.param("id")).await?))
}

/// The answer to listing a whole collection, newest first.
pub async fn list<T: Resource>(repo: &dyn Repository<T>, request: &Request) -> Result<Reply, ApiError> {
    let query = ListQuery::from(request.page("")?);
    Ok(request.list_versioned(repo.query(request.workspace_id()?, &query).await?, ""))
}

/// Reads, checks `If-Match`, applies `change` (the new value and the events it records) and
/// writes at the read version; re-reads and re-applies when another write got in first, unless
/// the client pinned a version.
pub async fn update<T: Resource>(
    repo: &dyn Repository<T>,
    request: &Request,
    id: &str,
    change: impl Fn(T) -> Result<(T, Vec<Event>), ApiError>,
) -> Result<Versioned<T>, ApiError> {
    let pinned = request.if_match()?.is_some();
    for _ in 0..ATTEMPTS {
        let current = find(repo, request, id).await?;
        request.check_if_match(current.version)?;
        let (next, events) = change(current.value.clone())?;
        match repo.update(request.workspace_id()?, &current, &next, &events).await {
            Ok(updated) => return Ok(updated),
            Err(StoreError::VersionMismatch) if pinned => return Err(precondition_failed()),
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::of(ErrorCode::ConcurrentModification))
}

/// Deletes the resource (checking `If-Match`), releasing its quota.
pub async fn delete<T: Resource>(
    repo: &dyn Repository<T>,
    request: &Request,
    id: &str,
    quota: Option<Quota>,
) -> Result<Versioned<T>, ApiError> {
    let pinned = request.if_match()?.is_some();
    for _ in 0..ATTEMPTS {
        let current = find(repo, request, id).await?;
        request.check_if_match(current.version)?;
        match repo.delete(request.workspace_id()?, &current, quota).await {
            Ok(()) => return Ok(current),
            Err(StoreError::VersionMismatch) if pinned => return Err(precondition_failed()),
            Err(StoreError::VersionMismatch) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::of(ErrorCode::ConcurrentModification))
}

fn precondition_failed() -> ApiError {
    ApiError::new(
        ErrorCode::PreconditionFailed,
        "The resource changed since you read it: its ETag no longer matches If-Match.",
    )
}
