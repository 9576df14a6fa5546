//! The sender's own thread: a single-threaded actix runtime (awc's client lives on one) at a
//! lower scheduling priority than the rest of the server (nice +[`NICE`], Linux's per-thread
//! nice). Encrypting and sending notifications then never takes the CPU from rooms, sessions
//! and the hub while they want it: on a busy core the sender gets what they leave (about a
//! tenth of the core at worst, so it is slowed, never stopped), and on an idle one all of it.
//! Its store calls run where every store call runs (the store's runtime and writer).

use std::io;

use super::sender::{Providers, Sender};
use super::PushSettings;
use crate::db::Store;
use crate::outbound::Outbound;

/// How much lower than the server's own the sender's priority is.
pub const NICE: i32 = 10;

/// Starts the sender on its own thread; it runs until the process ends (nothing waits for
/// it: what it had in flight is leased, and sent again after the lease if it was not
/// recorded).
pub fn start(
    store: Store,
    settings: PushSettings,
    providers: Providers,
    outbound: Outbound,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name("palaver-push".into())
        .spawn(move || {
            if let Err(err) = lower_priority(NICE) {
                log::warn!("notifications: the sender keeps the server's priority: {err}");
            }
            let client = outbound.client(settings.timeout);
            let sender = Sender::new(store, settings, providers, client);
            actix_web::rt::System::new().block_on(sender.run());
        })
        .map(drop)
}

/// Sets the calling thread's nice value to `nice`, unless its priority is that low already
/// (never refused: only raising a priority needs a privilege).
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) -> io::Result<()> {
    // SAFETY: gettid has no preconditions; getpriority and setpriority with PRIO_PROCESS and
    // a thread id read and change that thread's nice value only (Linux keeps one per
    // thread), and touch no memory of ours.
    let done = unsafe {
        let me = libc::gettid() as libc::id_t;
        if libc::getpriority(libc::PRIO_PROCESS, me) >= nice {
            return Ok(());
        }
        libc::setpriority(libc::PRIO_PROCESS, me, nice)
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere a thread has no nice value of its own: the sender keeps the server's priority.
#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a thread's own priority is set on Linux only",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of(tid: libc::pid_t) -> i32 {
        // SAFETY: as above; reads a nice value.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) }
    }

    fn me() -> libc::pid_t {
        // SAFETY: no preconditions.
        unsafe { libc::gettid() }
    }

    /// The calling thread's nice value changes; the process's other threads keep theirs.
    #[test]
    fn lowers_only_the_calling_thread() {
        let main = me();
        let before = nice_of(main);
        assert!(before < 19, "the test runs at nice {before}");
        let lowered = std::thread::spawn(move || lower_priority(19).map(|()| nice_of(me())))
            .join()
            .map_err(|_| "the thread panicked")
            .and_then(|set| set.map_err(|_| "setpriority refused"));
        assert_eq!(lowered, Ok(19));
        assert_eq!(nice_of(main), before);
    }

    /// A thread already lower than asked stays where it is.
    #[test]
    fn never_raises() {
        let kept = std::thread::spawn(|| {
            lower_priority(19)?;
            lower_priority(5)?;
            Ok::<i32, io::Error>(nice_of(me()))
        })
        .join()
        .map_err(|_| "the thread panicked")
        .and_then(|set| set.map_err(|_| "setpriority refused"));
        assert_eq!(kept, Ok(19));
    }
}
