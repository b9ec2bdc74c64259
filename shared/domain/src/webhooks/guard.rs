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
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one carries to reach it: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) or 6to4
/// (`2002:aabb:ccdd::/48`). Each is judged by the IPv4 address, which is where it leads.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(last),
        [0, 0, 0, 0, 0, 0, ..] if !ip.is_loopback() && !ip.is_unspecified() => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 1, ..] => Some(last),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
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
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && ip.octets()[2] == 99) // 6to4 relays
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, third, ..] = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (AWS's metadata service fd00:ec2::254 too)
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x0100 // discard only
        || first == 0x2001 && second == 0x0db8 // documentation
        || first == 0x2001 && second == 0 // Teredo: leads to an address it hides
        || first == 0x2001 && second == 2 && third == 0 // benchmarking
        || first == 0x2001 && (second & 0xfff0) == 0x0020) // ORCHIDv2
}

/// The ports deliveries may go to in production: HTTPS's, and its usual alternative. Any other
/// would let an endpoint (and its test delivery) probe the ports of a host.
pub const PORTS: [u16; 2] = [443, 8443];

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
        if url.port().is_some_and(|port| !PORTS.contains(&port)) {
            return Err("Webhooks go to port 443 (or 8443) only.".into());
        }
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
            // IPv4 addresses inside IPv6 ones: NAT64, IPv4-compatible, 6to4.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::127.0.0.1",
            "::169.254.169.254",
            "::10.1.2.3",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:20::1",
            "100::1",
            "192.0.0.170",
            "192.88.99.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn production_urls_are_https_to_public_hosts() {
        use DeploymentMode::*;
        for (url, mode, ok) in [
            ("https://hooks.example.com/in", Production, true),
            ("https://93.184.216.34/in", Production, true),
            ("https://hooks.example.com:8443/in", Production, true),
            ("https://hooks.example.com:443/in", Production, true),
            ("https://hooks.example.com:22/in", Production, false),
            ("https://hooks.example.com:6379/in", Production, false),
            ("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", Production, false),
            ("https://[2002:a9fe:a9fe::1]/in", Production, false),
            ("https://192.0.0.170/in", Production, false),
            ("http://127.0.0.1:6379/in", Local, true),
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
