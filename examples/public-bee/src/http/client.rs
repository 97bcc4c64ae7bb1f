//! The client's address: the peer, or the address a trusted reverse proxy names.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use ipnet::IpNet;

use super::error::ApiError;

/// The address of the client that sent the request.
///
/// When the peer is one of the configured trusted proxies, the address is the right-most
/// entry of `X-Forwarded-For` that is not itself a trusted proxy (entries to its left were
/// written by the client and prove nothing). Otherwise it is the peer's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The reverse proxies whose `X-Forwarded-For` is believed, as a request extension.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub std::sync::Arc<[IpNet]>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .ok_or_else(ApiError::internal)?;
        let proxies = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        Ok(Self(client_address(peer, &parts.headers, &proxies.0)))
    }
}

/// The client address of a request from `peer` with these headers.
pub fn client_address(peer: IpAddr, headers: &http::HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => continue,
            Ok(ip) => return ip,
            // An entry that is not an address cannot be trusted, nor anything left of it.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let addr = client_address(ip("203.0.113.9"), &headers("198.51.100.1"), &proxies);
        assert_eq!(addr, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers("1.2.3.4, 198.51.100.7, 10.0.0.3");
        assert_eq!(
            client_address(ip("10.0.0.2"), &h, &proxies),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_garbage_entry_stops_the_walk_at_the_proxy() {
        let proxies = ["10.0.0.0/8".parse().unwrap()];
        let h = headers("198.51.100.7, not-an-ip");
        assert_eq!(client_address(ip("10.0.0.2"), &h, &proxies), ip("10.0.0.2"));
    }
}
