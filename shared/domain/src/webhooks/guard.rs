//! Where we refuse to send deliveries: a webhook URL must not make us call into the network we
//! run in (SSRF). In production an endpoint is `https` and resolves only to public addresses,
//! checked when it is saved and again by the resolver of every delivery (a name may be
//! re-pointed after it was checked; the sender does that); redirects are never followed.
//! Locally, plain `http` to loopback is allowed so that a receiver on the developer's machine
//! can be used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use switchboard_core::config::DeploymentMode;
use url::Url;

pub const MAX_URL_LEN: usize = 2048;

/// Whether an address is on the public internet (not loopback, private, link-local — the
/// cloud metadata service among them — shared, reserved, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (AWS's metadata service fd00:ec2::254 too)
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks a webhook URL as given; the reason when it is refused.
pub fn check_url(raw: &str, mode: DeploymentMode) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("A URL has at most {MAX_URL_LEN} characters."));
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("Not a URL: {e}."))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("The URL may not carry credentials.".into());
    }
    match (url.scheme(), mode) {
        ("https", _) => {}
        ("http", DeploymentMode::Local) if is_loopback_host(&url) => {}
        ("http", DeploymentMode::Local) => return Err("Use https, or plain http only to loopback locally.".into()),
        _ => return Err("The URL must be https.".into()),
    }
    if mode == DeploymentMode::Production {
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => return Err(refused()),
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => return Err(refused()),
            Some(url::Host::Domain(name))
                if name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal") =>
            {
                return Err(refused());
            }
            None => return Err("The URL has no host.".into()),
            _ => {}
        }
    }
    Ok(url)
}

/// Why an address is refused.
pub fn refused() -> String {
    "The URL points to a private, loopback, link-local or metadata address; webhooks go to public hosts only.".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn production_urls_are_https_to_public_hosts() {
        use DeploymentMode::*;
        for (url, mode, ok) in [
            ("https://hooks.example.com/in", Production, true),
            ("https://93.184.216.34/in", Production, true),
            ("http://hooks.example.com/in", Production, false),
            ("http://127.0.0.1:8080/in", Production, false),
            ("https://127.0.0.1/in", Production, false),
            ("https://169.254.169.254/latest/meta-data", Production, false),
            ("https://[::1]/in", Production, false),
            ("https://[fd00:ec2::254]/in", Production, false),
            ("https://10.0.0.5/in", Production, false),
            ("https://localhost/in", Production, false),
            ("https://metadata.google.internal/", Production, false),
            ("https://user:pass@hooks.example.com/in", Production, false),
            ("ftp://hooks.example.com/in", Production, false),
            ("not a url", Production, false),
            ("http://127.0.0.1:8080/in", Local, true),
            ("http://localhost:8080/in", Local, true),
            ("http://hooks.example.com/in", Local, false),
            ("https://hooks.example.com/in", Local, true),
        ] {
            assert_eq!(check_url(url, mode).is_ok(), ok, "{url} in {mode:?}");
        }
    }
}
