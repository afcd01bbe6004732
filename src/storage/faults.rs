//! A fault injector for tests: fails a chosen write or fsync.

use std::io;
use std::sync::Mutex;

/// The error an injected fault produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// An I/O error (EIO).
    Eio,
    /// No space left on the device (ENOSPC).
    NoSpace,
}

impl Fault {
    pub(crate) fn to_io_error(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            Fault::Eio => 5,
            Fault::NoSpace => 28,
        })
    }
}

/// Counts writes and fsyncs and fails the one chosen.
///
/// ```
/// use recstore::storage::{Fault, FaultInjector};
/// let faults = FaultInjector::default();
/// faults.fail_sync_after(2, Fault::Eio); // the third fsync fails
/// ```
#[derive(Debug, Default)]
pub struct FaultInjector {
    plan: Mutex<Plan>,
}

#[derive(Debug, Default)]
struct Plan {
    write: Option<(u64, Fault)>,
    sync: Option<(u64, Fault)>,
}

impl FaultInjector {
    /// Lets `count` more writes succeed, then fails the next one (once).
    pub fn fail_write_after(&self, count: u64, fault: Fault) {
        self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).write = Some((count, fault));
    }

    /// Lets `count` more fsyncs succeed, then fails the next one (once).
    pub fn fail_sync_after(&self, count: u64, fault: Fault) {
        self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sync = Some((count, fault));
    }

    pub(crate) fn take_write_fault(&self) -> Option<Fault> {
        Self::tick(&mut self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).write)
    }

    pub(crate) fn take_sync_fault(&self) -> Option<Fault> {
        Self::tick(&mut self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sync)
    }

    fn tick(slot: &mut Option<(u64, Fault)>) -> Option<Fault> {
        match slot {
            Some((0, fault)) => {
                let fault = *fault;
                *slot = None;
                Some(fault)
            }
            Some((count, _)) => {
                *count -= 1;
                None
            }
            None => None,
        }
    }
}
