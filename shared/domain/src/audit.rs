//! The audit entry of the request being handled, waiting for the first write the request makes:
//! the store adds it to that write's transaction, so the log holds an entry exactly when the
//! change happened. The request's pipeline sets it; the handler in between never sees it.

use std::cell::RefCell;
use std::future::Future;

use switchboard_core::model::AuditEntry;

/// The id of a resource of type `kind` that a write or an answer holds (`field` reads its
/// string fields): a creation's entry names what it made. A resource without an `id` (a
/// do-not-call entry) is known by its number.
pub fn created_id<'a>(kind: &str, field: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    // Stored resources name their type in `object`, or (those kept apart from their views)
    // in the `entity` of their item.
    (field("object").or_else(|| field("entity")) == Some(kind))
        .then(|| field("id").or_else(|| field("phone_e164")))
        .flatten()
}

/// An entry, and the workspace whose log it goes to.
#[derive(Debug, Clone)]
pub struct Pending {
    pub workspace_id: String,
    pub entry: AuditEntry,
}

tokio::task_local! {
    static PENDING: RefCell<Option<Pending>>;
}

/// Runs `work` with `pending` waiting for its first write; answers what `work` answered and
/// the entry when no write took it.
pub async fn with_first_write<F: Future>(pending: Pending, work: F) -> (F::Output, Option<Pending>) {
    PENDING
        .scope(RefCell::new(Some(pending)), async {
            let output = work.await;
            (output, PENDING.with(|pending| pending.borrow_mut().take()))
        })
        .await
}

/// The entry waiting for the write about to be made, taken so that no other write carries it
/// as well; `None` outside an audited request or once a write has taken it.
pub fn take() -> Option<Pending> {
    PENDING.try_with(|pending| pending.borrow_mut().take()).ok().flatten()
}

/// Whether an entry is waiting (the write about to be made would carry it).
pub fn is_pending() -> bool {
    PENDING.try_with(|pending| pending.borrow().is_some()).unwrap_or(false)
}

/// Gives back an entry whose write did not happen, for the next write to carry.
pub fn put_back(entry: Pending) {
    let _ = PENDING.try_with(|pending| *pending.borrow_mut() = Some(entry));
}

/// Runs `work` with the waiting entry set aside: for writes that are not the change itself (a
/// claim made before a provider is asked, and its undoing when the provider refuses), so that
/// the entry goes with the write that makes the change final.
pub async fn set_aside<F: Future>(work: F) -> F::Output {
    let set_aside = take();
    let output = work.await;
    if let Some(entry) = set_aside {
        put_back(entry);
    }
    output
}
