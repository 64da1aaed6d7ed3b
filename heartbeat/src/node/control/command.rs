//! What travels over the control socket, as typed values: a
//! [`ControlCommand`] (one line) and the node's [`ControlReply`] (text).
//!
//! The text is the protocol of every version: a command is a verb and
//! an optional group set (`standby all`); a reply is the text to show,
//! or for an error `error: MESSAGE` and a newline. Both ends read it with
//! [`ControlCommand::parse`] and [`ControlReply::from_wire`], so older
//! and newer CLIs and nodes understand each other.

use std::fmt;

use crate::membership::announcement::GroupSet;

/// A command to the running node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlCommand {
    /// The node's process id.
    Pid,
    /// The node's state, its groups and dropped-packet counters.
    Status,
    /// The nodes and ping nodes with their states and links.
    Nodes,
    /// A graceful stop.
    Stop,
    /// Give this node's groups of the set to the peer and keep them away.
    Standby(GroupSet),
    /// Ask the peer for the groups of the set (as seen from this node).
    Takeover(GroupSet),
}

/// Why a command line is no [`ControlCommand`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// `standby` or `takeover` with a word that is no group set.
    #[error("the set must be all, local or foreign")]
    BadSet,
    /// Anything else (the line as given).
    #[error("unknown command [{0}]")]
    Unknown(String),
}

impl ControlCommand {
    /// Reads a command line (trimmed). Words after the set are ignored; a
    /// missing set is `all`.
    pub fn parse(line: &str) -> Result<ControlCommand, CommandError> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("");
        let argument = words.next();
        let set = || argument.map_or(Some(GroupSet::All), GroupSet::parse).ok_or(CommandError::BadSet);
        match (verb, argument) {
            ("pid", None) => Ok(ControlCommand::Pid),
            ("status", None) => Ok(ControlCommand::Status),
            ("nodes", None) => Ok(ControlCommand::Nodes),
            ("stop", None) => Ok(ControlCommand::Stop),
            ("standby", _) => set().map(ControlCommand::Standby),
            ("takeover", _) => set().map(ControlCommand::Takeover),
            _ => Err(CommandError::Unknown(line.to_string())),
        }
    }
}

/// The command line (without its newline), as [`ControlCommand::parse`] reads it.
impl fmt::Display for ControlCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlCommand::Pid => f.write_str("pid"),
            ControlCommand::Status => f.write_str("status"),
            ControlCommand::Nodes => f.write_str("nodes"),
            ControlCommand::Stop => f.write_str("stop"),
            ControlCommand::Standby(set) => write!(f, "standby {set}"),
            ControlCommand::Takeover(set) => write!(f, "takeover {set}"),
        }
    }
}

/// The node's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlReply {
    /// Done: the text to show (lines, each with its newline).
    Answer(String),
    /// Refused or failed: why (without the final newline).
    Error(String),
}

/// Marks an error reply on the socket (before its message).
const ERROR_PREFIX: &str = "error: ";

impl ControlReply {
    /// Whether the command failed.
    pub fn is_error(&self) -> bool {
        matches!(self, ControlReply::Error(_))
    }

    /// Reads the text a node sent: `error: MESSAGE` and a newline is an
    /// error; anything else is an answer.
    pub fn from_wire(text: String) -> ControlReply {
        match text.strip_prefix(ERROR_PREFIX).and_then(|rest| rest.strip_suffix('\n')) {
            Some(message) => ControlReply::Error(message.to_string()),
            None => ControlReply::Answer(text),
        }
    }
}

/// The reply's text as sent and shown ([`ControlReply::from_wire`] reads it back).
impl fmt::Display for ControlReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlReply::Answer(text) => f.write_str(text),
            ControlReply::Error(message) => writeln!(f, "{ERROR_PREFIX}{message}"),
        }
    }
}

impl From<CommandError> for ControlReply {
    fn from(e: CommandError) -> ControlReply {
        ControlReply::Error(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_every_version_writes_them() {
        let cases = [
            ("pid", ControlCommand::Pid),
            ("status", ControlCommand::Status),
            ("nodes", ControlCommand::Nodes),
            ("stop", ControlCommand::Stop),
            ("standby", ControlCommand::Standby(GroupSet::All)),
            ("standby local", ControlCommand::Standby(GroupSet::Local)),
            ("standby failback", ControlCommand::Standby(GroupSet::Foreign)),
            ("takeover  foreign  extra", ControlCommand::Takeover(GroupSet::Foreign)),
            ("takeover all", ControlCommand::Takeover(GroupSet::All)),
        ];
        for (line, command) in cases {
            assert_eq!(ControlCommand::parse(line), Ok(command), "{line}");
            assert_eq!(ControlCommand::parse(&command.to_string()), Ok(command), "{command}");
        }
        assert_eq!(ControlCommand::Takeover(GroupSet::Local).to_string(), "takeover local");
    }

    #[test]
    fn bad_commands_are_named_in_the_error() {
        assert_eq!(ControlCommand::parse("standby sideways"), Err(CommandError::BadSet));
        assert_eq!(ControlCommand::parse("takeover most all"), Err(CommandError::BadSet));
        for line in ["", "reboot", "pid 2", "status all", "stop now", "Status"] {
            assert_eq!(ControlCommand::parse(line), Err(CommandError::Unknown(line.to_string())), "{line}");
        }
        let reply = ControlReply::from(CommandError::Unknown("reboot now".into()));
        assert_eq!(reply.to_string(), "error: unknown command [reboot now]\n");
        assert_eq!(
            ControlReply::from(CommandError::BadSet).to_string(),
            "error: the set must be all, local or foreign\n"
        );
    }

    #[test]
    fn replies_keep_their_text_and_whether_they_failed() {
        let texts = [
            ("error: shutdown in progress\n", true),
            ("standby [all] requested\n", false),
            ("heartbeat OK [pid 7] is running on a [a]...\nlocal status: active\n", false),
            ("", false),
            ("error: two\nlines\n", true),
            ("error: no newline", false),
        ];
        for (text, failed) in texts {
            let reply = ControlReply::from_wire(text.to_string());
            assert_eq!(reply.is_error(), failed, "{text:?}");
            assert_eq!(reply.to_string(), text);
        }
        assert_eq!(
            ControlReply::from_wire("error: shutdown in progress\n".into()),
            ControlReply::Error("shutdown in progress".into())
        );
    }
}
