//! Logging through `env_logger` (`RUST_LOG`), with one policy on top: a client's mistake is
//! never an ERROR line. actix-http logs a request it cannot parse (a malformed header line,
//! a bad method) at ERROR from its HTTP/1 dispatcher; such records are logged at DEBUG.

use log::{Level, Log, Metadata, Record};

/// Starts logging at `default` unless `RUST_LOG` says otherwise.
pub fn init(default: &str) {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
            .build();
    let max = inner.filter();
    match log::set_boxed_logger(Box::new(ClientFaultsAreDebug { inner })) {
        Ok(()) => log::set_max_level(max),
        Err(err) => eprintln!("palaver: logging was already set up: {err}"),
    }
}

struct ClientFaultsAreDebug {
    inner: env_logger::Logger,
}

/// Whether an ERROR record is about what a client sent rather than about the server.
pub fn is_client_fault(target: &str, message: &str) -> bool {
    target.starts_with("actix_http::h1") && message.starts_with("stream error: request parse error")
}

impl Log for ClientFaultsAreDebug {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if record.level() == Level::Error
            && record.target().starts_with("actix_http::h1")
            && is_client_fault(record.target(), &record.args().to_string())
        {
            let demoted = Record::builder()
                .level(Level::Debug)
                .target(record.target())
                .args(*record.args())
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .build();
            if self.inner.matches(&demoted) {
                self.inner.log(&demoted);
            }
            return;
        }
        if self.inner.matches(record) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::is_client_fault;

    #[test]
    fn a_request_that_cannot_be_parsed_is_the_clients_fault() {
        assert!(is_client_fault(
            "actix_http::h1::dispatcher",
            "stream error: request parse error: invalid Header provided"
        ));
        assert!(!is_client_fault(
            "actix_http::h1::dispatcher",
            "response payload stream error"
        ));
        assert!(!is_client_fault(
            "palaver::db::writer",
            "stream error: request parse error"
        ));
    }
}
