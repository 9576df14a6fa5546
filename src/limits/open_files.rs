//! The process's open-files limit: raised to its hard limit at start (the `rlimit` crate),
//! and what follows from it: how many WebSockets a node takes before it refuses more with
//! 503, and how many TCP connections it accepts at all, each well below the limit so that
//! `/healthz`, the store's connections and files always find a descriptor (docs/protocol.md
//! section 1, "Connection limits").

/// Raises the soft open-files limit to the hard one; answers the soft limit in force (what
/// was there when raising fails, logged).
pub fn raise() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)
                .unwrap_or((DEFAULT_GUESS, DEFAULT_GUESS));
            log::warn!(
                "cannot raise the open-files limit to its hard limit ({hard}): {err}; it stays {soft}"
            );
            soft
        }
    }
}

/// What is assumed when the limit cannot even be read.
const DEFAULT_GUESS: u64 = 1024;

/// Descriptors kept free of WebSockets: a quarter of the limit, at least 128.
pub fn websocket_cap(open_files: u64) -> usize {
    let cap = open_files.saturating_sub((open_files / 4).max(128)).max(1);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// TCP connections (WebSockets included) accepted at once, over all HTTP workers: an eighth
/// of the limit, at least 64, is kept for the store, Redis, files and outbound calls.
pub fn accept_cap(open_files: u64) -> usize {
    let cap = open_files.saturating_sub((open_files / 8).max(64)).max(1);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websockets_stop_well_before_the_limit_and_before_accepting_stops() {
        for limit in [256, 1024, 20_000, 1_048_576] {
            let websockets = websocket_cap(limit) as u64;
            let accepted = accept_cap(limit) as u64;
            assert!(websockets < accepted && accepted < limit, "{limit}");
            assert!(
                limit - accepted >= 64,
                "{limit}: room for the store and files"
            );
        }
        assert_eq!(websocket_cap(20_000), 15_000);
        assert_eq!(websocket_cap(256), 128);
        assert_eq!(accept_cap(256), 192);
        assert_eq!(websocket_cap(10), 1, "never 0");
    }

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        let soft = raise();
        let (now, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("readable");
        assert_eq!(soft, now);
        assert!(now == hard || hard == rlimit::INFINITY, "{now} of {hard}");
    }
}
