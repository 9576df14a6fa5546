//! `--allowed-origins`: which web pages may open a WebSocket to this server (defence in
//! depth against cross-site WebSocket hijacking; tokens are the real gate).
//!
//! Browsers always send `Origin` on a WebSocket upgrade; other clients (the CLI, bots, mobile
//! apps) usually send none. So with a list set, an upgrade is admitted when it has no
//! `Origin`, when its `Origin` is on the list, or when it is the server's own page (the
//! `Origin`'s host and port are the request's `Host`, as for the web client at `/`). Origins
//! are compared in their canonical form (`https://Chat.Example.com:443` is
//! `https://chat.example.com`). Without the flag every origin is admitted.

use url::Url;

/// The origins an operator listed, canonical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedOrigins {
    origins: Vec<String>,
}

impl AllowedOrigins {
    /// Parses the flag's comma-separated list; each entry must be `scheme://host[:port]`.
    pub fn parse(list: &str) -> Result<AllowedOrigins, String> {
        let mut origins = Vec::new();
        for entry in list
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
        {
            let origin = canonical(entry).ok_or_else(|| {
                format!(
                    "--allowed-origins: {entry:?} is not an origin; write scheme://host[:port], \
                     e.g. https://chat.example.com"
                )
            })?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.is_empty() {
            return Err(
                "--allowed-origins is empty: list at least one origin, or leave it out".into(),
            );
        }
        Ok(AllowedOrigins { origins })
    }

    /// Whether an upgrade with this `Origin` (and `Host`) header may go on.
    pub fn admits(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        let Some(origin) = canonical(origin) else {
            return false;
        };
        if self.origins.contains(&origin) {
            return true;
        }
        let authority = origin.split_once("://").map(|(_, authority)| authority);
        matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host.trim()))
    }
}

/// `scheme://host[:port]` in canonical form, or `None` for anything else (a path, a query,
/// user info, `null`, an opaque origin).
fn canonical(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    let bare = url.path() == "/" || url.path().is_empty();
    if !bare || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return None;
    }
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> AllowedOrigins {
        AllowedOrigins::parse(text).expect("a valid list")
    }

    #[test]
    fn listed_origins_are_admitted_in_any_spelling() {
        let allowed = list("https://chat.example.com, http://localhost:3000");
        assert!(allowed.admits(Some("https://chat.example.com"), Some("palaver.internal")));
        assert!(allowed.admits(Some("https://CHAT.example.com:443"), None));
        assert!(allowed.admits(Some("http://localhost:3000"), None));
        assert!(!allowed.admits(Some("http://localhost:3001"), None));
        assert!(!allowed.admits(Some("https://evil.example"), Some("palaver.internal")));
        assert!(
            !allowed.admits(Some("http://chat.example.com"), None),
            "scheme counts"
        );
    }

    #[test]
    fn no_origin_and_the_servers_own_page_are_admitted() {
        let allowed = list("https://chat.example.com");
        assert!(allowed.admits(None, Some("127.0.0.1:8080")));
        assert!(allowed.admits(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")));
        assert!(allowed.admits(
            Some("https://palaver.example.com"),
            Some("Palaver.example.com")
        ));
        assert!(!allowed.admits(Some("http://127.0.0.1:8081"), Some("127.0.0.1:8080")));
    }

    #[test]
    fn null_and_malformed_origins_are_refused() {
        let allowed = list("https://chat.example.com");
        for origin in [
            "null",
            "",
            "chat.example.com",
            "https://chat.example.com/app",
            "file:///x",
        ] {
            assert!(
                !allowed.admits(Some(origin), Some("chat.example.com")),
                "{origin:?}"
            );
        }
    }

    #[test]
    fn a_bad_list_says_which_entry_is_wrong() {
        let err = AllowedOrigins::parse("https://ok.example, ok.example").unwrap_err();
        assert!(err.contains("\"ok.example\""), "{err}");
        assert!(AllowedOrigins::parse("https://a.example/path").is_err());
        assert!(AllowedOrigins::parse(" , ").is_err());
        assert_eq!(
            list("https://a.example,https://A.example:443/"),
            list("https://a.example")
        );
    }
}
