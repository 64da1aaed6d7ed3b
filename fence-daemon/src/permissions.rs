//! The `groups` permission map: which requester may fence which domains.
//!
//! Unlike the original, groups fail closed: once any group is configured a
//! requester in no group is denied, and an empty group grants nothing
//! (the original disabled every map when the last group was empty).
//!
//! Entries are parsed once: `ip` entries become addresses (or vsock CIDs)
//! compared as values, so `fd00:0::2` and `fd00::2` are the same requester.
//! A domain is authorized against what the hypervisor actually found — its
//! exact (case-sensitive) name or its canonical UUID — never against the
//! text of the request, which libvirt may resolve differently (`WEB` is
//! not `web`, and a UUID-shaped name is looked up as a UUID).

use std::net::IpAddr;

/// A requester as named in `ip` entries and as seen by a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requester {
    /// A network address (IPv4-mapped IPv6 addresses count as IPv4).
    Ip(IpAddr),
    /// A vsock context id.
    Cid(u32),
}

impl Requester {
    /// Parses an address or CID; `None` for anything else.
    pub fn parse(text: &str) -> Option<Requester> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Requester::Ip(ip.to_canonical()));
        }
        // Bracketed IPv6 and zone-less link-local forms are not used here.
        text.parse::<u32>().ok().map(Requester::Cid)
    }
}

/// A `uuid` entry: a domain name or a UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    text: String,
    uuid: Option<String>,
}

impl Target {
    /// Parses a target entry.
    pub fn parse(text: &str) -> Target {
        Target { text: text.to_string(), uuid: canonical_uuid(text) }
    }

    /// Whether this entry names the domain `name` (exactly) or `uuid`.
    pub fn matches(&self, domain: &FoundDomain<'_>) -> bool {
        (!domain.name.is_empty() && self.text == domain.name)
            || self.uuid.as_deref().is_some_and(|u| canonical_uuid(domain.uuid).as_deref() == Some(u))
    }

    /// Whether the request text is literally this entry (exact name, or
    /// the same UUID): used only to word an error for a domain that does
    /// not exist, never to grant anything.
    pub fn is_spelled(&self, requested: &str) -> bool {
        self.text == requested || (self.uuid.is_some() && self.uuid == canonical_uuid(requested))
    }
}

/// A domain as the backend found it.
#[derive(Debug, Clone, Copy)]
pub struct FoundDomain<'a> {
    /// Its exact name.
    pub name: &'a str,
    /// Its UUID (any case).
    pub uuid: &'a str,
}

/// The canonical (lowercase, hyphenated) form of a UUID, if `text` is one
/// (with or without hyphens).
fn canonical_uuid(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let hyphens_ok = text.len() == 32 || (text.len() == 36 && [8, 13, 18, 23].iter().all(|&i| &text[i..=i] == "-"));
    if hex.len() != 32 || !hyphens_ok || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
}

/// One `group { ip = …; uuid = …; }` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    /// Optional informational name.
    pub name: Option<String>,
    /// Requesters (entries that are neither an address nor a CID match nobody).
    pub requesters: Vec<Requester>,
    /// Domains they may fence.
    pub targets: Vec<Target>,
}

impl Group {
    /// A group from the configured entry texts.
    pub fn from_entries(name: Option<String>, ips: &[String], targets: &[String]) -> Group {
        Group {
            name,
            requesters: ips.iter().filter_map(|ip| Requester::parse(ip)).collect(),
            targets: targets.iter().map(|t| Target::parse(t)).collect(),
        }
    }
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

    fn groups_of(&self, source: &str) -> impl Iterator<Item = &Group> + '_ {
        let requester = Requester::parse(source);
        self.groups.iter().filter(move |g| requester.is_some_and(|r| g.requesters.contains(&r)))
    }

    /// May `source` fence anything at all? (Checked before a request takes
    /// any shared capacity.)
    pub fn may_request(&self, source: &str) -> bool {
        !self.is_restricted() || self.groups_of(source).any(|g| !g.targets.is_empty())
    }

    /// May `source` act on the domain the backend found?
    pub fn allows(&self, source: &str, domain: &FoundDomain<'_>) -> bool {
        !self.is_restricted() || self.groups_of(source).any(|g| g.targets.iter().any(|t| t.matches(domain)))
    }

    /// Did `source`'s groups name `requested` literally? Only for wording
    /// the answer about a domain that was not found.
    pub fn names(&self, source: &str, requested: &str) -> bool {
        !self.is_restricted() || self.groups_of(source).any(|g| g.targets.iter().any(|t| t.is_spelled(requested)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(ips: &[&str], targets: &[&str]) -> Group {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Group::from_entries(None, &own(ips), &own(targets))
    }

    fn found<'a>(name: &'a str, uuid: &'a str) -> FoundDomain<'a> {
        FoundDomain { name, uuid }
    }

    const UUID: &str = "6695eb01-f6a4-8304-79aa-97f2502e193f";

    #[test]
    fn no_groups_allow_everything() {
        assert!(PermissionMap::default().allows("198.18.0.9", &found("anything", UUID)));
        assert!(PermissionMap::default().may_request("198.18.0.9"));
    }

    #[test]
    fn groups_fail_closed() {
        let map = PermissionMap::new(vec![group(&["198.18.0.2"], &["vm-a"]), group(&["198.18.0.3"], &[])]);
        assert!(map.allows("198.18.0.2", &found("vm-a", UUID)));
        assert!(!map.allows("198.18.0.2", &found("vm-b", UUID)));
        assert!(!map.allows("198.18.0.3", &found("vm-a", UUID)), "an empty group grants nothing");
        assert!(!map.allows("198.18.0.4", &found("vm-a", UUID)), "a requester in no group is denied");
        assert!(map.may_request("198.18.0.2"));
        assert!(!map.may_request("198.18.0.3"));
        assert!(!map.may_request("198.18.0.4"));
    }

    #[test]
    fn names_are_exact_as_libvirt_resolves_them() {
        // Guests `web` and `WEB`; the group allows `web` only.
        let map = PermissionMap::new(vec![group(&["198.18.0.2"], &["web"])]);
        assert!(map.allows("198.18.0.2", &found("web", "11111111-1111-1111-1111-111111111111")));
        assert!(!map.allows("198.18.0.2", &found("WEB", "22222222-2222-2222-2222-222222222222")));
    }

    #[test]
    fn uuids_match_in_any_spelling_and_only_the_found_domain() {
        let map = PermissionMap::new(vec![group(&["fd00::2"], &[&UUID.to_ascii_uppercase()])]);
        assert!(map.allows("fd00::2", &found("test", UUID)));
        assert!(map.allows("fd00::2", &found("test", &UUID.replace('-', ""))));
        assert!(!map.allows("fd00::2", &found("test", "6695eb01-f6a4-8304-79aa-97f2502e1940")));
        // A domain *named* like the allowed UUID is another domain.
        assert!(!map.allows("fd00::2", &found(UUID, "00000000-0000-0000-0000-000000000001")));
    }

    #[test]
    fn requesters_are_compared_as_addresses() {
        let map = PermissionMap::new(vec![group(&["fd00:0::2", "198.18.0.7", "3"], &["vm"])]);
        let vm = found("vm", UUID);
        assert!(map.allows("fd00::2", &vm), "fd00:0::2 is fd00::2");
        assert!(map.allows("FD00:0:0:0:0:0:0:2", &vm));
        assert!(map.allows("::ffff:198.18.0.7", &vm), "an IPv4-mapped address is the IPv4 requester");
        assert!(map.allows("3", &vm), "vsock CIDs");
        assert!(!map.allows("198.18.0.70", &vm));
        assert!(!map.allows("not-an-address", &vm));
        let unparsable = PermissionMap::new(vec![group(&["host.example"], &["vm"])]);
        assert!(!unparsable.allows("host.example", &vm), "a name is not an address: it matches nobody");
    }
}
