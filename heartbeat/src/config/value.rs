//! Value syntax shared by the configuration files (spec §1.1): time values
//! and booleans.

use std::time::Duration;

/// Parses a Heartbeat time value: `number[unit]`.
///
/// The number is ASCII digits with an optional `.`; blanks may separate it
/// from the unit; no unit means seconds, `ms` milliseconds, `us` or `usec`
/// microseconds (units are case-insensitive). The result is rounded to the
/// nearest millisecond, as Heartbeat stores it. `2` = 2 s, `1.5` = 1500 ms,
/// `250 ms` = 250 ms. Anything else (negative, exponent, other unit,
/// overflow) is `None`.
pub fn parse_time(text: &str) -> Option<Duration> {
    let text = text.trim();
    let number_len = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let nanos_per_unit: u128 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "usec" => 1_000,
        _ => return None,
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return None;
    }
    let mut nanos: u128 = 0;
    for digit in int_part.bytes() {
        nanos = nanos.checked_mul(10)?.checked_add(u128::from(digit - b'0'))?;
    }
    nanos = nanos.checked_mul(nanos_per_unit)?;
    // Fraction: digits past the 9th cannot change a value rounded to 1 ms.
    let mut scale = nanos_per_unit;
    for digit in frac_part.bytes().take(9) {
        scale /= 10;
        nanos = nanos.checked_add(u128::from(digit - b'0') * scale)?;
    }
    let millis = nanos.checked_add(500_000)? / 1_000_000;
    Some(Duration::from_millis(u64::try_from(millis).ok()?))
}

/// Parses a Heartbeat boolean: `true on yes y 1` / `false off no n 0`,
/// case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Option<Duration> {
        Some(Duration::from_millis(n))
    }

    #[test]
    fn time_values_from_the_spec() {
        assert_eq!(parse_time("2"), ms(2000));
        assert_eq!(parse_time("1.5"), ms(1500));
        assert_eq!(parse_time("1500ms"), ms(1500));
        assert_eq!(parse_time("250ms"), ms(250));
        assert_eq!(parse_time("250 ms"), ms(250));
        assert_eq!(parse_time("250\tMS"), ms(250));
        assert_eq!(parse_time("0.5"), ms(500));
        assert_eq!(parse_time(".5"), ms(500));
        assert_eq!(parse_time("3."), ms(3000));
        assert_eq!(parse_time("0"), ms(0));
    }

    #[test]
    fn microseconds_round_to_the_nearest_millisecond() {
        assert_eq!(parse_time("1500us"), ms(2));
        assert_eq!(parse_time("1499usec"), ms(1));
        assert_eq!(parse_time("400 US"), ms(0));
        assert_eq!(parse_time("0.0004"), ms(0));
        assert_eq!(parse_time("0.0005"), ms(1));
        assert_eq!(parse_time("1.2345678901234"), ms(1235));
    }

    #[test]
    fn invalid_time_values_are_rejected() {
        for bad in ["", " ", ".", "1..5", "1.2.3", "-1", "+1", "1e3", "5s", "5 sec", "ms", "5 m s", "5msx", "1,5", "５"]
        {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_time_values_are_rejected_not_wrapped() {
        assert_eq!(parse_time("99999999999999999999999999999999999999999"), None);
        assert_eq!(parse_time("18446744073709551616"), None); // 2^64 s in ms overflows u64
        assert!(parse_time("18446744073709551").is_some());
    }

    #[test]
    fn booleans_from_the_spec() {
        for t in ["true", "on", "yes", "y", "1", "TRUE", "On", "Y"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "off", "no", "n", "0", "OFF", "No", "N"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "2", "enabled", "legacy", "o"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}
