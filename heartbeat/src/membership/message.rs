//! Cluster messages on the wire: a small `name=value` text block, signed
//! with the `authkeys` signing key.
//!
//! ```text
//! HB1
//! t=status
//! src=alpha
//! hg=3
//! seq=17
//! st=active
//! auth=2 1f0c…
//! ```
//!
//! `hg` is the sender's generation (bumped at every start) and `seq` its
//! sequence number within the generation; together they defeat replays.
//! The token after `auth=` covers every byte before the `auth=` line.
//! The format is our own: wire compatibility with Heartbeat 3.0.6 is not a
//! goal (its files and behaviour are).

use std::collections::BTreeMap;

use crate::config::authkeys::AuthKeys;

const MAGIC: &str = "HB1\n";
/// Field names of the header and signature (never taken from `fields`).
const RESERVED: [&str; 5] = ["t", "src", "hg", "seq", "auth"];
/// Datagrams larger than this are not messages.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// A decoded, authenticated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type: `status`, `shutdown` or `takeover` (others are
    /// ignored; see [`super::cluster_message`]).
    pub kind: String,
    /// Sending node.
    pub src: String,
    /// Sender's generation.
    pub generation: u64,
    /// Sequence number within the generation.
    pub seq: u64,
    /// Other fields.
    pub fields: BTreeMap<String, String>,
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Not a message of ours (magic, framing, size).
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The token does not verify with any configured key.
    #[error("authentication failed")]
    BadAuth,
}

fn valid_text(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\n', '=', '\0'])
}

impl Message {
    /// A message of `kind` from `src`.
    pub fn new(kind: &str, src: &str, generation: u64, seq: u64) -> Self {
        Message { kind: kind.to_string(), src: src.to_string(), generation, seq, fields: BTreeMap::new() }
    }

    /// Adds a field (builder style). Names and values may not contain
    /// newlines; names may not contain `=`.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.fields.insert(name.to_string(), value.replace('\n', " "));
        self
    }

    /// A field's value.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Encodes and signs the message.
    pub fn encode(&self, keys: &AuthKeys) -> Vec<u8> {
        let mut body = format!("{MAGIC}t={}\nsrc={}\nhg={}\nseq={}\n", self.kind, self.src, self.generation, self.seq);
        for (name, value) in &self.fields {
            if valid_text(name) && !value.contains('\n') && !RESERVED.contains(&name.as_str()) {
                body.push_str(&format!("{name}={value}\n"));
            }
        }
        let token = keys.token(body.as_bytes());
        body.push_str(&format!("auth={token}\n"));
        body.into_bytes()
    }

    /// Verifies and decodes a datagram.
    pub fn decode(bytes: &[u8], keys: &AuthKeys) -> Result<Message, DropReason> {
        Unverified::parse(bytes)?.verify(keys)
    }
}

/// A datagram whose header (the first four lines: `t`, `src`, `hg`,
/// `seq`, in that order, as [`Message::encode`] writes them) was parsed but
/// whose signature was NOT checked yet: only for cheap decisions that drop
/// a packet (unknown sender, stale sequence), never for acting on it. The
/// rest of the datagram is looked at only by [`Unverified::verify`], so
/// rejecting a large packet on its header costs little.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// The claimed header (no other fields yet).
    pub claimed: Message,
    text: &'a str,
}

/// The value of header line `name=` at the start of `text`, and the rest.
fn header_line<'t>(text: &'t str, name: &str) -> Result<(&'t str, &'t str), DropReason> {
    let end = text.bytes().position(|b| b == b'\n').ok_or(DropReason::Malformed("missing header field"))?;
    let (line, rest) = (&text[..end], &text[end + 1..]);
    let value = line
        .strip_prefix(name)
        .and_then(|l| l.strip_prefix('='))
        .ok_or(DropReason::Malformed("missing header field"))?;
    Ok((value, rest))
}

impl<'a> Unverified<'a> {
    /// Parses the framing and header of a datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Unverified<'a>, DropReason> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(DropReason::Malformed("too long"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| DropReason::Malformed("not UTF-8"))?;
        let rest = text.strip_prefix(MAGIC).ok_or(DropReason::Malformed("bad magic"))?;
        let (kind, rest) = header_line(rest, "t")?;
        let (src, rest) = header_line(rest, "src")?;
        let (generation, rest) = header_line(rest, "hg")?;
        let (seq, _) = header_line(rest, "seq")?;
        let generation = generation.parse().map_err(|_| DropReason::Malformed("bad generation"))?;
        let seq = seq.parse().map_err(|_| DropReason::Malformed("bad sequence number"))?;
        if !valid_text(kind) || !valid_text(src) {
            return Err(DropReason::Malformed("bad type or source"));
        }
        Ok(Unverified { claimed: Message::new(kind, src, generation, seq), text })
    }

    /// Checks the signature over everything before the `auth=` line, then
    /// reads the other fields: the message when it verifies.
    pub fn verify(self, keys: &AuthKeys) -> Result<Message, DropReason> {
        let text = self.text;
        let auth_at = text.rfind("\nauth=").ok_or(DropReason::Malformed("no auth line"))? + 1;
        let (signed, auth_line) = text.split_at(auth_at);
        let token = auth_line
            .strip_prefix("auth=")
            .and_then(|t| t.strip_suffix('\n'))
            .ok_or(DropReason::Malformed("bad auth line"))?;
        if !keys.verify_token(signed.as_bytes(), token) {
            return Err(DropReason::BadAuth);
        }
        let mut message = self.claimed;
        // Lines end at '\n' only ("\r" is data, as encode writes it).
        let body = signed[MAGIC.len()..].strip_suffix('\n').unwrap_or("");
        for line in body.split('\n').skip(4) {
            let (name, value) = line.split_once('=').ok_or(DropReason::Malformed("line without '='"))?;
            if RESERVED.contains(&name) {
                return Err(DropReason::Malformed("header field repeated"));
            }
            if !valid_text(name) {
                return Err(DropReason::Malformed("bad field name"));
            }
            message.fields.insert(name.to_string(), value.to_string());
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn keys(text: &str) -> AuthKeys {
        AuthKeys::parse(Path::new("/etc/ha.d/authkeys"), text).expect("valid authkeys").0
    }

    #[test]
    fn round_trip_with_every_method() {
        for text in ["auth 1\n1 sha1 S3cret\n", "auth 2\n2 md5 other\n", "auth 3\n3 sha256 longer-secret\n"] {
            let k = keys(text);
            let m = Message::new("status", "alpha", 7, 42).with("st", "active").with("hold", "g1,g2");
            let bytes = m.encode(&k);
            assert_eq!(Message::decode(&bytes, &k), Ok(m), "{text}");
        }
    }

    #[test]
    fn wrong_key_and_tampering_are_rejected() {
        let k = keys("auth 1\n1 sha1 S3cret\n");
        let other = keys("auth 1\n1 sha1 different\n");
        let bytes = Message::new("status", "alpha", 1, 1).with("st", "active").encode(&k);
        assert_eq!(Message::decode(&bytes, &other), Err(DropReason::BadAuth));
        let tampered = String::from_utf8(bytes.clone()).unwrap().replace("st=active", "st=dead__");
        assert_eq!(Message::decode(tampered.as_bytes(), &k), Err(DropReason::BadAuth));
        let forged = String::from_utf8(bytes).unwrap().replace("seq=1\n", "seq=1\nseq=9\n");
        assert_eq!(Message::decode(forged.as_bytes(), &k), Err(DropReason::BadAuth));
        let repeated = "HB1\nt=status\nsrc=alpha\nhg=1\nseq=1\nseq=9\n";
        let signed = format!("{repeated}auth={}\n", k.token(repeated.as_bytes()));
        assert_eq!(Message::decode(signed.as_bytes(), &k), Err(DropReason::Malformed("header field repeated")));
        // Found by the fuzzer: a field without a name (which encode cannot write).
        let nameless = "HB1\nt=status\nsrc=alpha\nhg=1\nseq=1\n=x\n";
        let signed = format!("{nameless}auth={}\n", k.token(nameless.as_bytes()));
        assert_eq!(Message::decode(signed.as_bytes(), &k), Err(DropReason::Malformed("bad field name")));
        // Also found by the fuzzer: a value ending in '\r' survives a round trip.
        let m = Message::new("status", "alpha", 1, 1).with("note", "ends in cr\r");
        assert_eq!(Message::decode(&m.encode(&k), &k), Ok(m));
        let reordered = "HB1\nsrc=alpha\nt=status\nhg=1\nseq=1\n";
        let signed = format!("{reordered}auth={}\n", k.token(reordered.as_bytes()));
        assert_eq!(Message::decode(signed.as_bytes(), &k), Err(DropReason::Malformed("missing header field")));
    }

    #[test]
    fn rotation_verifies_with_any_configured_key() {
        let old = keys("auth 1\n1 sha1 old\n");
        let both = keys("auth 4\n1 sha1 old\n4 sha1 new\n");
        let bytes = Message::new("status", "bravo", 1, 5).encode(&old);
        assert!(Message::decode(&bytes, &both).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let k = keys("auth 1\n1 sha1 S3cret\n");
        let mut rng = crate::testutil::XorShift(0x2545_f491_4f6c_dd1d);
        for len in 0..600usize {
            let mut bytes: Vec<u8> = b"HB1\nt=status\nsrc=a\nhg=1\nseq=1\nauth=1 ".to_vec();
            for _ in 0..(len % 80) {
                bytes.push(rng.below(128) as u8);
            }
            assert!(Message::decode(&bytes, &k).is_err());
            assert!(Message::decode(&bytes[..len.min(bytes.len())], &k).is_err());
        }
        assert_eq!(Message::decode(&vec![b'a'; 5000], &k), Err(DropReason::Malformed("too long")));
    }
}
