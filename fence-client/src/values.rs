//! Parsers for single option values: each turns the text given for one
//! parameter into its typed value, or a one-line error naming it.

use std::net::IpAddr;
use std::path::PathBuf;

use keys::HashAlgorithm;

use crate::options::{Action, Family, OptionError};

fn invalid(msg: String) -> OptionError {
    OptionError(msg)
}

/// Parses an integer the way C's `strtol(…, 0)` does: decimal, `0x` hex or
/// leading-`0` octal, but the whole string must be a number.
pub fn parse_c_number(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    Some(if neg { -value } else { value })
}

/// A number within `range`, or `message` as the error.
fn number_in(
    text: &str,
    range: std::ops::RangeInclusive<i64>,
    message: impl FnOnce() -> String,
) -> Result<i64, OptionError> {
    parse_c_number(text).filter(|n| range.contains(n)).ok_or_else(|| invalid(message()))
}

/// `debug`: no value increments `current`; a value sets it (negative means 1).
pub fn debug(current: u32, value: Option<&str>) -> Result<u32, OptionError> {
    match value {
        None => Ok(current + 1),
        Some(v) => {
            let n = parse_c_number(v).ok_or_else(|| invalid(format!("Invalid debug level '{v}'")))?;
            Ok(if n < 0 { 1 } else { n as u32 })
        }
    }
}

/// `ip_family`: auto, ipv4 or ipv6 in any case.
pub fn family(text: &str) -> Result<Family, OptionError> {
    match text.to_ascii_lowercase().as_str() {
        "auto" => Ok(Family::Auto),
        "ipv4" => Ok(Family::V4),
        "ipv6" => Ok(Family::V6),
        other => Err(invalid(format!("Invalid family '{other}' (expected auto, ipv4 or ipv6)"))),
    }
}

/// `multicast_address`: an IPv4 or IPv6 multicast group.
pub fn multicast_address(text: &str) -> Result<IpAddr, OptionError> {
    let address: IpAddr = text.parse().map_err(|_| invalid(format!("Invalid multicast address '{text}'")))?;
    if !address.is_multicast() {
        return Err(invalid(format!("'{address}' is not a multicast address")));
    }
    Ok(address)
}

/// `ipaddr`: any IP address.
pub fn ip_address(text: &str) -> Result<IpAddr, OptionError> {
    text.parse().map_err(|_| invalid(format!("Invalid IP address '{text}'")))
}

/// `vsock`: a CID from 2 up; left out or empty means 2.
pub fn vsock_cid(value: Option<&str>) -> Result<u32, OptionError> {
    match value {
        None | Some("") => Ok(2),
        Some(s) => Ok(number_in(s, 2..=4_294_967_294, || format!("Invalid vsock CID '{s}' (2 to 4294967294)"))? as u32),
    }
}

/// `channel_address`: any non-empty text.
pub fn channel_address(text: &str) -> Result<String, OptionError> {
    if text.is_empty() {
        return Err(invalid("Invalid channel address ''".to_string()));
    }
    Ok(text.to_string())
}

/// `ipport`: 1 to 65535.
pub fn port(text: &str) -> Result<u16, OptionError> {
    Ok(number_in(text, 1..=65535, || format!("Invalid port '{text}' (1 to 65535)"))? as u16)
}

/// `retrans`: tenths of a second, more than zero.
pub fn retrans(text: &str) -> Result<u32, OptionError> {
    let range = 1..=i64::from(u32::MAX);
    Ok(number_in(text, range, || format!("Invalid retransmit time '{text}' (tenths of a second, > 0)"))? as u32)
}

/// `hash` or `auth` (`kind` names which in the error).
pub fn algorithm(text: &str, kind: &str) -> Result<HashAlgorithm, OptionError> {
    text.parse().map_err(|_| invalid(format!("Invalid {kind} type '{text}' (none, sha1, sha256, sha512)")))
}

/// `key_file`: a path that exists.
pub fn key_file(text: &str) -> Result<PathBuf, OptionError> {
    let path = PathBuf::from(text);
    if let Err(e) = std::fs::metadata(&path) {
        return Err(invalid(format!("Invalid key file: '{text}' ({e})")));
    }
    Ok(path)
}

/// `action`: one of the actions, in any case.
pub fn action(text: &str) -> Result<Action, OptionError> {
    Action::parse(text).ok_or_else(|| invalid(format!("Unsupported operation: {text}")))
}

/// `plug`, `port` or `domain`: 1 to 63 bytes.
pub fn domain(text: &str) -> Result<String, OptionError> {
    if text.is_empty() || text.len() >= protocol::request::DOMAIN_LEN {
        return Err(invalid(format!("Invalid domain name '{text}' (1 to 63 bytes)")));
    }
    Ok(text.to_string())
}

/// `use_uuid`: no value means yes; a number means yes unless 0.
pub fn use_uuid(value: Option<&str>) -> Result<bool, OptionError> {
    match value {
        None => Ok(true),
        Some(s) => Ok(parse_c_number(s).ok_or_else(|| invalid(format!("Invalid use_uuid '{s}'")))? != 0),
    }
}

/// `timeout`: 1 to 86400 seconds.
pub fn timeout(text: &str) -> Result<u32, OptionError> {
    Ok(number_in(text, 1..=86_400, || format!("Invalid timeout '{text}' (seconds, > 0)"))? as u32)
}

/// `delay`: 0 to 86400 seconds.
pub fn delay(text: &str) -> Result<u32, OptionError> {
    Ok(number_in(text, 0..=86_400, || format!("Invalid delay '{text}' (seconds, >= 0)"))? as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_strtol() {
        assert_eq!(parse_c_number("0x4cd"), Some(1229));
        assert_eq!(parse_c_number("02315"), Some(1229));
        assert_eq!(parse_c_number(" -7 "), Some(-7));
        assert_eq!(parse_c_number("12abc"), None);
    }

    #[test]
    fn ranges_are_enforced() {
        assert_eq!(port("65535"), Ok(65535));
        assert!(port("0").is_err());
        assert_eq!(delay("0"), Ok(0));
        assert!(timeout("0").is_err());
        assert_eq!(vsock_cid(Some("")), Ok(2));
        assert_eq!(debug(1, Some("-3")), Ok(1));
        assert_eq!(debug(1, None), Ok(2));
    }
}
