//! recstore: an event-sourced, append-only log store for versioned data items.
//!
//! Every write is a record appended to the [`log`]; everything else is a
//! view rebuilt by replaying it.

pub mod limits;
pub mod log;
pub mod storage;
