//! CIDR functions: `parseCidr`, `cidrHost`, `cidrSubnet` (IPv4 and IPv6, via `ipnet`).

use super::{as_int, as_str};
use ipnet::IpNet;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(super) fn call(name: &str, a: &[Value]) -> Option<Result<Value, String>> {
    Some(match name {
        "parseCidr" => network(&a[0]).map(|n| parse_cidr(&n)),
        "cidrHost" => cidr_host(a),
        "cidrSubnet" => cidr_subnet(a),
        _ => return None,
    })
}

fn network(v: &Value) -> Result<IpNet, String> {
    let s = as_str(v, "the network")?;
    s.parse::<IpNet>()
        .map_err(|_| format!("'{s}' is not a network in CIDR notation (like 10.0.0.0/16)"))
}

fn parse_cidr(net: &IpNet) -> Value {
    let (first, last) = match net {
        IpNet::V4(n) if n.prefix_len() < 32 => (
            Ipv4Addr::from(u32::from(n.network()) + 1).to_string(),
            Ipv4Addr::from(u32::from(n.broadcast()) - 1).to_string(),
        ),
        _ => (net.network().to_string(), net.broadcast().to_string()),
    };
    json!({
        "network": net.network().to_string(),
        "netmask": net.netmask().to_string(),
        "broadcast": net.broadcast().to_string(),
        "firstUsable": first,
        "lastUsable": last,
        "cidr": net.prefix_len(),
    })
}

fn host_index(v: &Value) -> Result<u128, String> {
    let i = as_int(v, "the host index")?;
    u128::try_from(i).map_err(|_| format!("the host index must not be negative, got {i}"))
}

/// The usable host at `index`: IPv4 skips the network and broadcast addresses (a /31 has two
/// usable hosts, a /32 none); IPv6 skips the network address (a /127 has two, a /128 none).
fn cidr_host(a: &[Value]) -> Result<Value, String> {
    let net = network(&a[0])?;
    let index = host_index(&a[1])?;
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    if host_bits == 0 {
        return Err("the network has no usable host addresses".into());
    }
    let size = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
    let (offset, usable) = match (&net, host_bits) {
        (_, 1) => (0, 2),
        (IpNet::V4(_), _) => (1, size - 2),
        (IpNet::V6(_), _) => (1, size.saturating_sub(1)),
    };
    if index >= usable {
        return Err(format!(
            "host index {index} is out of range (the network has {usable} usable hosts)"
        ));
    }
    Ok(Value::String(nth(&net, index + offset).to_string()))
}

fn nth(net: &IpNet, i: u128) -> IpAddr {
    match net {
        IpNet::V4(n) => IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) + i as u32)),
        IpNet::V6(n) => IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) + i)),
    }
}

fn cidr_subnet(a: &[Value]) -> Result<Value, String> {
    let net = network(&a[0])?;
    let new_prefix = as_int(&a[1], "the new prefix length")?;
    let index = as_int(&a[2], "the subnet index")?;
    let max = i64::from(net.max_prefix_len());
    if !(0..=max).contains(&new_prefix) {
        return Err(format!(
            "the new prefix length must be between 0 and {max}, got {new_prefix}"
        ));
    }
    let new_prefix = new_prefix as u8;
    if new_prefix < net.prefix_len() {
        return Err(format!(
            "the new prefix length {new_prefix} is shorter than the network's {}",
            net.prefix_len()
        ));
    }
    if index < 0 {
        return Err(format!(
            "the subnet index must not be negative, got {index}"
        ));
    }
    let subnet_bits = u32::from(new_prefix - net.prefix_len());
    if subnet_bits > 32 {
        return Err("splitting into more than 2^32 subnets is not supported".into());
    }
    let count = 1u128 << subnet_bits;
    let index = index as u128;
    if index >= count {
        return Err(format!(
            "subnet index {index} is out of range (there are {count} subnets of /{new_prefix})"
        ));
    }
    let host_bits = u32::from(net.max_prefix_len() - new_prefix);
    let step = 1u128.checked_shl(host_bits).unwrap_or(0);
    let start = nth(&net, index * step);
    Ok(Value::String(format!("{start}/{new_prefix}")))
}
