//! Background work runs on the cores that writers and readers leave idle.
//!
//! Owns the CPU priority of recstore's derived work: the search view's
//! threads and compaction. Both may lag or take longer without costing
//! anyone correctness, so on a busy machine they should yield to the
//! foreground, as RocksDB lowers the priority of its compaction threads.
//! Nothing here may hold or take a lock: it only sets a thread's priority.

/// Nice value of background threads (0 is the default, 19 the lowest).
const BACKGROUND_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority, and so that of every thread
/// it starts from now on: nice 19, and on Linux the `SCHED_IDLE` policy.
/// A niced thread still keeps its core for the rest of its time slice when
/// a foreground thread wakes; an idle-policy one gives it up at once, and
/// the kernel counts its core as free when it places a woken thread. With
/// nice alone, a 200,000 item ingest beside the search view took about a
/// tenth longer. On Linux the priority belongs to a thread, not to the
/// whole process. A failure only costs the foreground some CPU, so it is
/// logged and otherwise ignored.
pub(crate) fn lower_thread_priority() {
    // SAFETY: setpriority only reads its integer arguments; `who = 0` names
    // the calling thread.
    #[allow(unsafe_code, reason = "setpriority has no safe wrapper in std")]
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower a background thread's priority");
    }
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` outlives the call, which only reads it; pid 0
        // names the calling thread.
        #[allow(unsafe_code, reason = "sched_setscheduler has no safe wrapper in std")]
        let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
        if result != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "could not give a background thread the idle policy");
        }
    }
}

/// Runs `work` on a new thread of lowered priority named `name` and waits
/// for it, so the caller's own thread keeps its priority. A panic in `work`
/// reaches the caller; the error is that no thread could be started.
pub(crate) fn run_at_lower_priority<T: Send>(name: &str, work: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new().name(name.to_string()).spawn_scoped(scope, || {
            lower_thread_priority();
            work()
        })?;
        Ok(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread.
    fn nice() -> i32 {
        // SAFETY: getpriority only reads its integer arguments.
        #[allow(unsafe_code, reason = "getpriority has no safe wrapper in std")]
        unsafe {
            libc::getpriority(libc::PRIO_PROCESS, 0)
        }
    }

    /// The scheduling policy of the calling thread.
    fn policy() -> i32 {
        // SAFETY: sched_getscheduler only reads its integer argument.
        #[allow(unsafe_code, reason = "sched_getscheduler has no safe wrapper in std")]
        unsafe {
            libc::sched_getscheduler(0)
        }
    }

    #[test]
    fn work_runs_niced_and_the_caller_keeps_its_priority() -> std::io::Result<()> {
        let (nice_before, policy_before) = (nice(), policy());
        let (inside, policy_inside, name) = run_at_lower_priority("recstore-test", || {
            (nice(), policy(), std::thread::current().name().map(String::from))
        })?;
        assert_eq!(inside, nice_before.max(BACKGROUND_NICE));
        #[cfg(target_os = "linux")]
        assert_eq!(policy_inside, libc::SCHED_IDLE);
        assert_eq!(name.as_deref(), Some("recstore-test"));
        assert_eq!(nice(), nice_before, "the caller's priority is unchanged");
        assert_eq!(policy(), policy_before, "the caller's policy is unchanged");
        Ok(())
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| run_at_lower_priority("recstore-test", || panic!("boom")));
        assert!(caught.is_err());
    }
}
