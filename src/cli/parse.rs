//! The value parsers of the server's flags (`--bind`, `--rate`, `--burst`,
//! `--metrics-token`): each turns the text of a flag into its value or the sentence clap
//! prints for it.

use std::net::SocketAddr;

/// `--bind`: what was written, and every address it resolves to (a name may give several,
/// `localhost` both 127.0.0.1 and ::1).
#[derive(Debug, Clone)]
pub struct BindAddr {
    pub text: String,
    pub addrs: Vec<SocketAddr>,
}

pub(super) fn parse_bind(text: &str) -> Result<BindAddr, String> {
    use std::net::ToSocketAddrs;
    if text
        .rsplit_once(':')
        .is_none_or(|(host, _)| host.is_empty())
    {
        return Err(format!("{text:?} is not HOST:PORT"));
    }
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {text:?}: {err}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{text:?} resolves to no address"));
    }
    Ok(BindAddr {
        text: text.to_string(),
        addrs,
    })
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| format!("{text:?} is not a number"))
}

pub(super) fn parse_metrics_token(text: &str) -> Result<String, String> {
    if text.len() < 16 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be at least 16 characters, without spaces".into());
    }
    Ok(text.to_string())
}

pub(super) fn parse_rate(text: &str) -> Result<f64, String> {
    let rate = parse_number(text)?;
    if rate <= 0.0 || rate > 1_000_000.0 {
        return Err(format!("{text} is not above 0 and at most 1000000"));
    }
    Ok(rate)
}

pub(super) fn parse_burst(text: &str) -> Result<f64, String> {
    let burst = parse_number(text)?;
    if !(1.0..=1_000_000.0).contains(&burst) {
        return Err(format!("{text} is not from 1 to 1000000"));
    }
    Ok(burst)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bind_takes_names_and_addresses() {
        assert!(super::parse_bind("localhost:8080").is_ok());
        assert_eq!(
            super::parse_bind("127.0.0.1:0").expect("ip").addrs[0].to_string(),
            "127.0.0.1:0"
        );
        assert!(super::parse_bind("[::1]:80").is_ok());
        for bad in [
            "8080",
            ":8080",
            "localhost",
            "localhost:http",
            "no.such.host.invalid:80",
        ] {
            assert!(super::parse_bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_are_positive_and_finite() {
        assert!(super::parse_rate("0").is_err());
        assert!(super::parse_rate("NaN").is_err());
        assert!(super::parse_rate("inf").is_err());
        assert!(super::parse_burst("0.5").is_err());
        assert_eq!(super::parse_rate("12.5"), Ok(12.5));
    }
}
