//! Operation, hash-type and result codes as they appear on the wire.

use keys::HashAlgorithm;

/// The request code (byte 0 of a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `null`: a no-op; the daemon's dispatcher answers it with failure
    /// without calling a backend (stock's libvirt backend fails it too).
    Null,
    /// `off`: hard power-off.
    Off,
    /// `reboot`: power-cycle (the default action).
    Reboot,
    /// `on`: start the domain.
    On,
    /// `status`: is the domain running?
    Status,
    /// `monitor`: is the daemon/backend healthy?
    DevStatus,
    /// `list` / `list-status`: the host list.
    HostList,
}

impl Operation {
    /// All operations that may be sent on the wire.
    pub const ALL: [Operation; 7] =
        [Self::Null, Self::Off, Self::Reboot, Self::On, Self::Status, Self::DevStatus, Self::HostList];

    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Self::Null => 0,
            Self::Off => 1,
            Self::Reboot => 2,
            Self::On => 3,
            Self::Status => 4,
            Self::DevStatus => 5,
            Self::HostList => 6,
        }
    }

    /// Decodes a wire code; codes 7 (metadata) and 8 (validate-all) are local
    /// actions that are never sent, so they are unknown here too.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.code() == code)
    }

    /// A short lowercase name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Off => "off",
            Self::Reboot => "reboot",
            Self::On => "on",
            Self::Status => "status",
            Self::DevStatus => "monitor",
            Self::HostList => "list",
        }
    }

    /// Whether the operation names a domain and is subject to the
    /// permission map (null and devstatus are never checked; host lists are
    /// filtered per domain).
    pub fn targets_domain(self) -> bool {
        matches!(self, Self::Off | Self::Reboot | Self::On | Self::Status)
    }
}

/// Wire code of a hash/auth type (byte 1 of a request).
pub fn hash_code(algorithm: HashAlgorithm) -> u8 {
    match algorithm {
        HashAlgorithm::None => 0,
        HashAlgorithm::Sha1 => 1,
        HashAlgorithm::Sha256 => 2,
        HashAlgorithm::Sha512 => 3,
    }
}

/// Decodes a hash code; 4 and above are unknown.
pub fn hash_from_code(code: u8) -> Option<HashAlgorithm> {
    HashAlgorithm::ALL.into_iter().find(|a| hash_code(*a) == code)
}

/// The one-byte answer of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: success; for status, the domain is on.
    Success,
    /// 1: failure.
    Failure,
    /// 2: the domain is off (status).
    Off,
    /// 3: permission denied by the static map.
    PermissionDenied,
    /// 0xFD: a host list follows.
    HostListFollows,
    /// Any other byte.
    Other(u8),
}

impl ResultCode {
    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Off => 2,
            Self::PermissionDenied => 3,
            Self::HostListFollows => 0xFD,
            Self::Other(b) => b,
        }
    }

    /// Decodes the byte on the wire.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Self::Success,
            1 => Self::Failure,
            2 => Self::Off,
            3 => Self::PermissionDenied,
            0xFD => Self::HostListFollows,
            other => Self::Other(other),
        }
    }

    /// A short lowercase name for logs.
    pub fn name(self) -> String {
        match self {
            Self::Success => "success".into(),
            Self::Failure => "failure".into(),
            Self::Off => "off".into(),
            Self::PermissionDenied => "permission denied".into(),
            Self::HostListFollows => "host list".into(),
            Self::Other(b) => format!("code {b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_codes_round_trip_and_reject_local_actions() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_code(op.code()), Some(op));
        }
        assert_eq!(Operation::from_code(7), None);
        assert_eq!(Operation::from_code(8), None);
        assert_eq!(Operation::from_code(255), None);
    }

    #[test]
    fn hash_codes_match_the_spec() {
        assert_eq!(hash_code(HashAlgorithm::Sha256), 2);
        assert_eq!(hash_from_code(3), Some(HashAlgorithm::Sha512));
        assert_eq!(hash_from_code(4), None);
    }

    #[test]
    fn result_bytes_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(ResultCode::from_byte(b).byte(), b);
        }
    }
}
