//! `logfacility`: the syslog facilities ha.cf may name, checked once when
//! the file is read and carried as their syslog code.

use std::fmt;

/// A syslog facility `logfacility` accepts (`none` is the absence of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    /// `kern`
    Kern,
    /// `user`
    User,
    /// `mail`
    Mail,
    /// `daemon`
    Daemon,
    /// `auth`
    Auth,
    /// `syslog`
    Syslog,
    /// `lpr`
    Lpr,
    /// `news`
    News,
    /// `uucp`
    Uucp,
    /// `cron`
    Cron,
    /// `authpriv`
    AuthPriv,
    /// `ftp`
    Ftp,
    /// `local0` … `local7`: the number is 0 to 7.
    Local(u8),
}

/// `local0` … `local7` by number.
const LOCAL_NAMES: [&str; 8] = ["local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];

/// Names and facilities other than `local0`–`local7`.
const NAMED: &[(&str, Facility)] = &[
    ("kern", Facility::Kern),
    ("user", Facility::User),
    ("mail", Facility::Mail),
    ("daemon", Facility::Daemon),
    ("auth", Facility::Auth),
    ("syslog", Facility::Syslog),
    ("lpr", Facility::Lpr),
    ("news", Facility::News),
    ("uucp", Facility::Uucp),
    ("cron", Facility::Cron),
    ("authpriv", Facility::AuthPriv),
    ("ftp", Facility::Ftp),
];

impl Facility {
    /// The facility called `name` (exact, lower case as syslog.conf writes
    /// it); `None` for anything else, including `none`.
    pub fn from_name(name: &str) -> Option<Self> {
        if let Some(digit) = name.strip_prefix("local") {
            return match digit.as_bytes() {
                [d @ b'0'..=b'7'] => Some(Facility::Local(d - b'0')),
                _ => None,
            };
        }
        NAMED.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The name as written in ha.cf.
    pub fn name(self) -> &'static str {
        match self {
            Facility::Local(n) => LOCAL_NAMES[usize::from(n.min(7))],
            named => NAMED.iter().find(|(_, f)| *f == named).map_or("", |(n, _)| n),
        }
    }

    /// The syslog facility code (RFC 5424: kern 0 … ftp 11, local0 16 …
    /// local7 23); the priority of a message is `code * 8 + severity`.
    pub fn code(self) -> u8 {
        match self {
            Facility::Kern => 0,
            Facility::User => 1,
            Facility::Mail => 2,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Syslog => 5,
            Facility::Lpr => 6,
            Facility::News => 7,
            Facility::Uucp => 8,
            Facility::Cron => 9,
            Facility::AuthPriv => 10,
            Facility::Ftp => 11,
            Facility::Local(n) => 16 + n,
        }
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_syslog_codes() {
        let code = |name: &str| Facility::from_name(name).map(Facility::code);
        assert_eq!(code("kern"), Some(0));
        assert_eq!(code("daemon"), Some(3));
        assert_eq!(code("authpriv"), Some(10));
        assert_eq!(code("local0"), Some(16));
        assert_eq!(code("local7"), Some(23));
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in ["none", "local8", "local", "local01", "Daemon", "security", ""] {
            assert_eq!(Facility::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn names_round_trip() {
        for name in ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv"] {
            assert_eq!(Facility::from_name(name).map(|f| f.to_string()).as_deref(), Some(name));
        }
        assert_eq!(Facility::Local(5).to_string(), "local5");
        assert_eq!(Facility::Ftp.to_string(), "ftp");
    }
}
