//! The messages nodes exchange, as typed values: [`ClusterMessage`] and
//! its mapping to and from the signed [`Message`] on the wire.
//!
//! | kind       | fields                                       |
//! |------------|----------------------------------------------|
//! | `status`   | `st`, `hold`, `ping`, `sb`, `wd`, `dead`, `ft` |
//! | `shutdown` | none                                         |
//! | `takeover` | `set`                                        |
//!
//! Lists (`hold`, `dead`) are space-separated names; durations (`wd`,
//! `ft`) are whole milliseconds; `sb` is a group set or `none`.

use std::time::Duration;

use super::announcement::{Announcement, GroupSet, NodeStatus};
use super::message::Message;
use super::names::GroupKey;

/// A message between cluster nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMessage {
    /// The sender's periodic (or changed) state.
    Status(Announcement),
    /// The sender has released everything and is leaving.
    Shutdown,
    /// The sender asks its peer to give up the groups of this set, as the
    /// sender sees it (the peer mirrors it).
    Takeover(GroupSet),
}

/// Why a [`Message`] is no [`ClusterMessage`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A `status` message with a missing or unreadable field.
    #[error("malformed status message")]
    BadStatus,
    /// A `takeover` message without a valid `set`.
    #[error("takeover message without a valid set")]
    BadTakeover,
    /// A kind this node does not know.
    #[error("message type [{0}]")]
    UnknownKind(String),
}

impl ClusterMessage {
    /// The `t=` word of the message.
    pub fn kind(&self) -> &'static str {
        match self {
            ClusterMessage::Status(_) => "status",
            ClusterMessage::Shutdown => "shutdown",
            ClusterMessage::Takeover(_) => "takeover",
        }
    }

    /// The unsigned message from `src` with this content.
    pub fn to_message(&self, src: &str, generation: u64, seq: u64) -> Message {
        let msg = Message::new(self.kind(), src, generation, seq);
        match self {
            ClusterMessage::Status(a) => with_announcement(msg, a),
            ClusterMessage::Shutdown => msg,
            ClusterMessage::Takeover(set) => msg.with("set", &set.to_string()),
        }
    }

    /// Reads the content of an authenticated message.
    pub fn decode(msg: &Message) -> Result<ClusterMessage, DecodeError> {
        match msg.kind.as_str() {
            "status" => parse_announcement(msg).map(ClusterMessage::Status).ok_or(DecodeError::BadStatus),
            "shutdown" => Ok(ClusterMessage::Shutdown),
            "takeover" => {
                msg.field("set").and_then(GroupSet::parse).map(ClusterMessage::Takeover).ok_or(DecodeError::BadTakeover)
            }
            other => Err(DecodeError::UnknownKind(other.to_string())),
        }
    }
}

fn join<T: AsRef<str>>(names: &std::collections::BTreeSet<T>) -> String {
    names.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ")
}

fn with_announcement(msg: Message, a: &Announcement) -> Message {
    msg.with("st", a.status.as_str())
        .with("hold", &join(&a.holds))
        .with("ping", &a.ping.to_string())
        .with("sb", &a.standby.map_or("none".to_string(), |s| s.to_string()))
        .with("wd", &a.watchdog.as_millis().to_string())
        .with("dead", &join(&a.unclean))
        .with("ft", &a.fence_time.as_millis().to_string())
}

/// The announcement in a status message; `None` when a field is malformed.
fn parse_announcement(msg: &Message) -> Option<Announcement> {
    let status = NodeStatus::parse(msg.field("st")?)?;
    let holds = msg.field("hold").unwrap_or("").split_whitespace().map(GroupKey::from).collect();
    let ping = msg.field("ping").unwrap_or("0").parse().ok()?;
    let standby = match msg.field("sb").unwrap_or("none") {
        "none" => None,
        s => Some(GroupSet::parse(s)?),
    };
    let watchdog = Duration::from_millis(msg.field("wd").unwrap_or("0").parse().ok()?);
    let unclean = msg.field("dead").unwrap_or("").split_whitespace().map(str::to_string).collect();
    let fence_time = Duration::from_millis(msg.field("ft").unwrap_or("0").parse().ok()?);
    Some(Announcement { status, holds, ping, standby, watchdog, unclean, fence_time })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn announcement() -> Announcement {
        Announcement {
            status: NodeStatus::Active,
            holds: ["db".into(), "web".into()].into(),
            ping: 2,
            standby: Some(GroupSet::Foreign),
            watchdog: Duration::from_millis(10_200),
            unclean: ["charlie".to_string()].into(),
            fence_time: Duration::from_millis(1_500),
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn status_fields_are_the_wire_format() {
        let msg = ClusterMessage::Status(announcement()).to_message("alpha", 3, 17);
        assert_eq!((msg.kind.as_str(), msg.src.as_str(), msg.generation, msg.seq), ("status", "alpha", 3, 17));
        let want = [
            ("st", "active"),
            ("hold", "db web"),
            ("ping", "2"),
            ("sb", "foreign"),
            ("wd", "10200"),
            ("dead", "charlie"),
            ("ft", "1500"),
        ];
        assert_eq!(msg.fields, fields(&want));
        let idle = Announcement {
            status: NodeStatus::Up,
            holds: Default::default(),
            ping: 0,
            standby: None,
            watchdog: Duration::ZERO,
            unclean: Default::default(),
            fence_time: Duration::ZERO,
        };
        let msg = ClusterMessage::Status(idle).to_message("alpha", 3, 18);
        let want = [("st", "up"), ("hold", ""), ("ping", "0"), ("sb", "none"), ("wd", "0"), ("dead", ""), ("ft", "0")];
        assert_eq!(msg.fields, fields(&want));
    }

    #[test]
    fn shutdown_and_takeover_fields_are_the_wire_format() {
        let msg = ClusterMessage::Shutdown.to_message("bravo", 1, 2);
        assert_eq!((msg.kind.as_str(), msg.fields.len()), ("shutdown", 0));
        let msg = ClusterMessage::Takeover(GroupSet::Local).to_message("bravo", 1, 3);
        assert_eq!(msg.kind, "takeover");
        assert_eq!(msg.fields, fields(&[("set", "local")]));
    }

    #[test]
    fn every_message_survives_a_round_trip() {
        let mut messages = vec![ClusterMessage::Status(announcement()), ClusterMessage::Shutdown];
        for set in [GroupSet::All, GroupSet::Local, GroupSet::Foreign] {
            messages.push(ClusterMessage::Takeover(set));
            let mut a = announcement();
            a.standby = Some(set);
            messages.push(ClusterMessage::Status(a));
        }
        for status in [NodeStatus::Up, NodeStatus::Active, NodeStatus::Leaving] {
            messages.push(ClusterMessage::Status(Announcement { status, standby: None, ..announcement() }));
        }
        for m in messages {
            assert_eq!(ClusterMessage::decode(&m.to_message("alpha", 1, 1)), Ok(m.clone()), "{m:?}");
        }
    }

    #[test]
    fn peers_may_leave_out_optional_status_fields() {
        let msg = Message::new("status", "bravo", 1, 1).with("st", "init");
        let Ok(ClusterMessage::Status(a)) = ClusterMessage::decode(&msg) else { panic!("not a status") };
        assert_eq!((a.status, a.ping, a.standby, a.watchdog), (NodeStatus::Up, 0, None, Duration::ZERO));
        assert!(a.holds.is_empty() && a.unclean.is_empty());
    }

    #[test]
    fn malformed_and_unknown_messages_are_errors() {
        let status = |name: &str, value: &str| Message::new("status", "bravo", 1, 1).with("st", "up").with(name, value);
        for (name, value) in [("st", "asleep"), ("ping", "-1"), ("sb", "sideways"), ("wd", "1s"), ("ft", "x")] {
            assert_eq!(ClusterMessage::decode(&status(name, value)), Err(DecodeError::BadStatus), "{name}={value}");
        }
        assert_eq!(ClusterMessage::decode(&Message::new("status", "bravo", 1, 1)), Err(DecodeError::BadStatus));
        let takeover = Message::new("takeover", "bravo", 1, 1);
        assert_eq!(ClusterMessage::decode(&takeover), Err(DecodeError::BadTakeover));
        assert_eq!(ClusterMessage::decode(&takeover.with("set", "most")), Err(DecodeError::BadTakeover));
        let hello = Message::new("hello", "bravo", 1, 1);
        assert_eq!(ClusterMessage::decode(&hello), Err(DecodeError::UnknownKind("hello".into())));
    }
}
