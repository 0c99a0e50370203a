//! The HTTP client that delivers callbacks, walled in: a callback URL comes from a caller, so
//! it must not turn Gust into a way to reach the host's own services or its private networks.
//!
//! The check is on the addresses actually connected to (a resolver that drops internal
//! ones), not on the name, so a public name resolving to 127.0.0.1 gets nowhere. Redirects are
//! not followed: each would be a new, unchecked target.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use gust_core::is_internal;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Builds the client. `allow_private` (`--allow-private-callbacks`) lifts the address check,
/// for tests and on-premise receivers.
pub fn callback_client(allow_private: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        .build()
        .expect("the callback client's settings are valid")
}

/// Why a URL whose host is an address literal (which no resolver sees) may not be called.
pub fn literal_refusal(url: &str, allow_private: bool) -> Option<String> {
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_string();
    let ip: IpAddr = host.trim_matches(['[', ']']).parse().ok()?;
    (!allow_private && is_internal(ip)).then(|| internal(&host))
}

/// The URL as it may appear in logs: without a user name or password.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_string(),
    }
}

fn internal(host: &str) -> String {
    format!(
        "callback to {host} refused: it is a loopback, private or link-local address \
         (start gust serve with --allow-private-callbacks to allow these)"
    )
}

struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allow_private || !is_internal(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(internal(&host).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_literals_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "https://10.0.0.7/hook",
        ] {
            assert!(literal_refusal(url, false).is_some(), "{url}");
            assert!(literal_refusal(url, true).is_none(), "{url}");
        }
        assert!(literal_refusal("https://93.184.216.34/hook", false).is_none());
        assert!(literal_refusal("https://hooks.example.com/x", false).is_none());
    }

    #[test]
    fn logged_urls_carry_no_credentials() {
        assert_eq!(
            redacted("https://user:pa55@hooks.example.com/x?y=1"),
            "https://hooks.example.com/x?y=1"
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let client = callback_client(false);
        let error = client.post("http://localhost:9/").send().await.unwrap_err();
        let chain = format!("{error:?}");
        assert!(chain.contains("refused"), "{chain}");
    }
}
