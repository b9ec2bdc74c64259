//! Domain services that more than one function (or the conversation engine) uses: booking an
//! appointment, requesting and deciding an approval, the do-not-call list.

pub mod appointments;
pub mod approvals;
pub mod calls;
pub mod campaigns;
pub mod dnc;
pub mod phones;
