//! Which address a request comes from, for the per-address connection cap. The peer of the
//! TCP connection, unless that peer is a proxy `--trusted-proxies` lists: then the
//! right-most address of `X-Forwarded-For` that is not itself a trusted proxy (the one the
//! last trusted proxy saw). The header is never read from anyone else, since any client can
//! write it; a header that does not parse leaves the proxy's own address.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// `--trusted-proxies`: addresses (`10.0.0.5`) and networks (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of addresses and networks.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not an IP address or network (10.0.0.0/8)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address given the TCP peer and the request's `X-Forwarded-For` values
    /// (each header line, in order).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Option<Vec<IpAddr>> = forwarded_for
            .iter()
            .flat_map(|line| line.split(','))
            .map(|hop| IpAddr::from_str(hop.trim()).ok())
            .collect();
        let Some(hops) = hops else { return peer };
        hops.into_iter()
            .rev()
            .find(|hop| !self.trusts(*hop))
            .unwrap_or(peer)
    }
}

/// The address a request comes from (see the module's words); `None` when the server does
/// not know its peer (a test request).
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let lines: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .collect();
    Some(trusted.client(peer, &lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("127.0.0.1"), &["203.0.113.9"]),
            ip("127.0.0.1")
        );
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("list");
        assert_eq!(
            trusted.client(ip("198.51.100.4"), &["203.0.113.9"]),
            ip("198.51.100.4"),
            "a client writing the header itself gains nothing"
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &["1.2.3.4, 203.0.113.9", "10.1.2.3"]),
            ip("203.0.113.9"),
            "the right-most address no trusted proxy wrote; what the client wrote before it is ignored"
        );
        assert_eq!(trusted.client(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &["203.0.113.9, not-an-address"]),
            ip("127.0.0.1"),
            "a header that does not parse leaves the proxy's address"
        );
        assert_eq!(
            trusted.client(ip("10.9.9.9"), &["10.0.0.1"]),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn lists_take_addresses_and_networks() {
        assert!(TrustedProxies::parse("::1,192.168.0.0/16, 127.0.0.1").is_ok());
        assert!(TrustedProxies::parse("example.com").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert_eq!(
            TrustedProxies::parse("").expect("empty"),
            TrustedProxies::default()
        );
    }
}
