//! Broker addresses: `mqtt://host:port` and `mqtts://host:port`.

use std::fmt;

use super::BrokerUrlError;

/// Plain TCP or TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Mqtt,
    Mqtts,
}

/// A parsed broker URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// Parses `mqtt://host[:port]` (default 1883) or `mqtts://host[:port]` (default 8883).
    pub fn parse(text: &str) -> Result<Self, BrokerUrlError> {
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("mqtt://") {
            (Scheme::Mqtt, rest)
        } else if let Some(rest) = text.strip_prefix("mqtts://") {
            (Scheme::Mqtts, rest)
        } else {
            return Err(BrokerUrlError::Scheme(text.to_owned()));
        };
        let rest = rest.trim_end_matches('/');
        let default_port = match scheme {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port = port
                    .parse()
                    .map_err(|_| BrokerUrlError::Port(text.to_owned()))?;
                (host, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(BrokerUrlError::NoHost(text.to_owned()));
        }
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = BrokerUrl::parse("mqtt://127.0.0.1:1884").expect("valid");
        assert_eq!(
            (url.scheme, url.host.as_str(), url.port),
            (Scheme::Mqtt, "127.0.0.1", 1884)
        );
        assert_eq!(
            BrokerUrl::parse("mqtts://hub.example").expect("valid").port,
            8883
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://localhost").expect("valid").port,
            1883
        );
        assert_eq!(url.to_string(), "mqtt://127.0.0.1:1884");
        for bad in [
            "127.0.0.1:1883",
            "http://x",
            "mqtt://",
            "mqtt://h:notaport",
            "mqtt://h:70000",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
