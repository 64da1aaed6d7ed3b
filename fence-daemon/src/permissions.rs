//! The `groups` permission map: which requester may fence which domains.
//!
//! Unlike the original, groups fail closed: once any group is configured a
//! requester in no group is denied, and an empty group grants nothing
//! (the original disabled every map when the last group was empty).

/// One `group { ip = …; uuid = …; }` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Optional informational name.
    pub name: Option<String>,
    /// Requesters: IP address text (or vsock CID).
    pub ips: Vec<String>,
    /// Domains they may fence: names or UUIDs.
    pub targets: Vec<String>,
}

/// The loaded permission map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionMap {
    groups: Vec<Group>,
}

impl PermissionMap {
    /// A map from configured groups; no groups means no restriction.
    pub fn new(groups: Vec<Group>) -> Self {
        PermissionMap { groups }
    }

    /// Whether any group is configured.
    pub fn is_restricted(&self) -> bool {
        !self.groups.is_empty()
    }

    fn groups_of<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.iter().filter(move |g| g.ips.iter().any(|ip| ip.eq_ignore_ascii_case(source)))
    }

    /// May `source` act on the domain named (or identified) by any of `names`?
    pub fn allows(&self, source: &str, names: &[&str]) -> bool {
        if !self.is_restricted() {
            return true;
        }
        self.groups_of(source)
            .any(|g| g.targets.iter().any(|t| names.iter().any(|n| !n.is_empty() && t.eq_ignore_ascii_case(n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(ips: &[&str], targets: &[&str]) -> Group {
        Group {
            name: None,
            ips: ips.iter().map(|s| s.to_string()).collect(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn no_groups_allow_everything() {
        assert!(PermissionMap::default().allows("198.18.0.9", &["anything"]));
    }

    #[test]
    fn groups_fail_closed() {
        let map = PermissionMap::new(vec![group(&["198.18.0.2"], &["vm-a"]), group(&["198.18.0.3"], &[])]);
        assert!(map.allows("198.18.0.2", &["VM-A"]));
        assert!(!map.allows("198.18.0.2", &["vm-b"]));
        assert!(!map.allows("198.18.0.3", &["vm-a"]), "an empty group grants nothing");
        assert!(!map.allows("198.18.0.4", &["vm-a"]), "a requester in no group is denied");
    }

    #[test]
    fn name_or_uuid_may_match() {
        let map = PermissionMap::new(vec![group(&["fd00::2"], &["6695eb01-f6a4-8304-79aa-97f2502e193f"])]);
        assert!(map.allows("FD00::2", &["test", "6695eb01-f6a4-8304-79aa-97f2502e193f"]));
        assert!(!map.allows("fd00::2", &["test"]));
        assert!(!map.allows("fd00::2", &["", ""]));
    }
}
