//! `authkeys`: the keys that sign and verify cluster packets (spec §2).
//!
//! ```text
//! auth 2            # key number used to SIGN outgoing packets
//! 1 crc             # no secret
//! 2 sha1 S3cretKey  # any of these may VERIFY incoming packets
//! ```
//!
//! Methods: `crc` (an unkeyed CRC-32: detects corruption, authenticates
//! nothing — loaded with a warning), `md5` and `sha1` (HMAC, as Heartbeat),
//! and `sha256` (HMAC-SHA256, our extension). Incoming packets verify with
//! any configured HMAC key (rotation); a `crc` key verifies only when no
//! HMAC key is configured (a crc-only cluster), never next to a real key.
//! A `#` starts a comment where
//! it begins a field, so secrets may contain `#`. The file must not be
//! accessible to group or other.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

use super::{numbered_lines, read_text, ConfigError, Warning};

/// CRC-32 as Heartbeat's `crc` method computes it: polynomial 0x04C11DB7,
/// MSB first, initial value 0, final XOR 0xFFFFFFFF, no length appended.
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_CKSUM);

/// A signing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Unkeyed CRC-32 (no authentication).
    Crc,
    /// HMAC-MD5.
    Md5,
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256 (extension).
    Sha256,
}

impl AuthMethod {
    /// The name written in authkeys.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Crc => "crc",
            AuthMethod::Md5 => "md5",
            AuthMethod::Sha1 => "sha1",
            AuthMethod::Sha256 => "sha256",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [AuthMethod::Crc, AuthMethod::Md5, AuthMethod::Sha1, AuthMethod::Sha256].into_iter().find(|m| m.name() == name)
    }
}

/// One numbered key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey {
    /// The method.
    pub method: AuthMethod,
    secret: Vec<u8>,
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey({}, {} secret bytes)", self.method.name(), self.secret.len())
    }
}

impl AuthKey {
    /// The digest of `data` under this key.
    fn mac(&self, data: &[u8]) -> Vec<u8> {
        fn hmac<D: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac = <D as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self.method {
            AuthMethod::Crc => CRC32.checksum(data).to_be_bytes().to_vec(),
            AuthMethod::Md5 => hmac::<Hmac<md5::Md5>>(&self.secret, data),
            AuthMethod::Sha1 => hmac::<Hmac<sha1::Sha1>>(&self.secret, data),
            AuthMethod::Sha256 => hmac::<Hmac<sha2::Sha256>>(&self.secret, data),
        }
    }

    /// Constant-time check of `tag` against the digest of `data`.
    fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        let expected = self.mac(data);
        expected.len() == tag.len() && bool::from(expected.ct_eq(tag))
    }

    /// The digest as Heartbeat writes it: lower-case hex; for crc without
    /// leading zeros.
    fn hex(&self, mac: &[u8]) -> String {
        match (self.method, <[u8; 4]>::try_from(mac)) {
            (AuthMethod::Crc, Ok(bytes)) => format!("{:x}", u32::from_be_bytes(bytes)),
            _ => hex::encode(mac),
        }
    }
}

/// The parsed authkeys file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthKeys {
    /// The file it was read from.
    pub path: PathBuf,
    signing: u8,
    keys: BTreeMap<u8, AuthKey>,
}

impl AuthKeys {
    /// Checks permissions, then reads and parses `path`.
    pub fn load(path: &Path) -> Result<(AuthKeys, Vec<Warning>), ConfigError> {
        check_permissions(path)?;
        AuthKeys::parse(path, &read_text(path)?)
    }

    /// Parses the text of an authkeys file (`path` is used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<(AuthKeys, Vec<Warning>), ConfigError> {
        let mut warnings = Vec::new();
        let mut auth: Option<(u8, usize)> = None;
        let mut keys = BTreeMap::new();
        let mut key_lines: BTreeMap<u8, usize> = BTreeMap::new();
        for (no, line) in numbered_lines(text) {
            let fields: Vec<&str> = line.split_whitespace().take_while(|f| !f.starts_with('#')).collect();
            let at = |message: String| ConfigError::at(path, no, message);
            match fields.as_slice() {
                [] => {}
                ["auth", rest @ ..] => {
                    let [number] = rest else {
                        return Err(at("auth needs exactly one key number: auth N".into()));
                    };
                    let number = key_number(number).map_err(at)?;
                    if let Some((_, first)) = auth {
                        return Err(at(format!("auth directive multiply specified (first on line {first})")));
                    }
                    auth = Some((number, no));
                }
                [number, rest @ ..] if number.bytes().all(|b| b.is_ascii_digit()) => {
                    let number = key_number(number).map_err(at)?;
                    let key = parse_key(rest).map_err(at)?;
                    if key.method == AuthMethod::Crc {
                        warnings.push(Warning::at(
                            path,
                            no,
                            format!(
                                "Auth key [{number}] uses crc, which provides NO authentication: anyone on the \
                                 network can forge cluster packets; use sha1 or sha256 (crc packets are refused \
                                 whenever an HMAC key is configured)"
                            ),
                        ));
                    }
                    if let Some(first) = key_lines.insert(number, no) {
                        return Err(at(format!("Auth key [{number}] defined twice (first on line {first})")));
                    }
                    keys.insert(number, key);
                }
                [other, ..] => {
                    return Err(at(format!(
                        "unrecognised line [{other} ...]: expected 'auth N' or 'N METHOD [SECRET]'"
                    )))
                }
            }
        }
        let Some((signing, auth_line)) = auth else {
            return Err(ConfigError::file(path, format!("Missing auth directive in keyfile [{}]", path.display())));
        };
        if !keys.contains_key(&signing) {
            return Err(ConfigError::at(
                path,
                auth_line,
                format!("Auth Key [{signing}] not found in keyfile [{}]", path.display()),
            ));
        }
        Ok((AuthKeys { path: path.to_path_buf(), signing, keys }, warnings))
    }

    /// The number of the key that signs (`auth N`).
    pub fn signing_key(&self) -> u8 {
        self.signing
    }

    /// The method of key `number`, if configured.
    pub fn method(&self, number: u8) -> Option<AuthMethod> {
        self.keys.get(&number).map(|k| k.method)
    }

    /// Signs `data` with the `auth N` key: `(N, digest bytes)`. For crc the
    /// digest is the CRC-32 in big-endian order.
    pub fn sign(&self, data: &[u8]) -> (u8, Vec<u8>) {
        let key = &self.keys[&self.signing];
        (self.signing, key.mac(data))
    }

    /// Whether any HMAC key (md5, sha1, sha256) is configured.
    pub fn has_hmac_key(&self) -> bool {
        self.keys.values().any(|k| k.method != AuthMethod::Crc)
    }

    /// Whether key `number` may verify incoming packets: any configured
    /// HMAC key (so keys can be rotated), but a `crc` key only when no HMAC
    /// key is configured at all — anyone can compute a CRC, so accepting it
    /// next to a real key would make the real key worthless.
    pub fn verifies_with(&self, number: u8) -> bool {
        match self.method(number) {
            Some(AuthMethod::Crc) => !self.has_hmac_key(),
            Some(_) => true,
            None => false,
        }
    }

    /// Whether `mac` is the digest of `data` under configured key
    /// `key_number` (see [`AuthKeys::verifies_with`] for which keys count).
    /// Unknown key numbers and wrong lengths are `false`; comparison is
    /// constant-time.
    pub fn verify(&self, key_number: u8, data: &[u8], mac: &[u8]) -> bool {
        self.verifies_with(key_number) && self.keys.get(&key_number).is_some_and(|key| key.verify(data, mac))
    }

    /// The wire token `N HEX` of `data` (spec §2.3).
    pub fn token(&self, data: &[u8]) -> String {
        let (number, mac) = self.sign(data);
        format!("{number} {}", self.keys[&number].hex(&mac))
    }

    /// Checks a wire token `N HEX` against `data`.
    pub fn verify_token(&self, data: &[u8], token: &str) -> bool {
        let Some((number, digits)) = token.split_once(' ') else { return false };
        let Ok(number) = number.parse::<u8>() else { return false };
        let mac = match self.method(number) {
            Some(AuthMethod::Crc) if digits.len() <= 8 => match u32::from_str_radix(digits, 16) {
                Ok(crc) if !digits.starts_with('+') => crc.to_be_bytes().to_vec(),
                _ => return false,
            },
            Some(_) => match hex::decode(digits) {
                Ok(mac) => mac,
                Err(_) => return false,
            },
            None => return false,
        };
        self.verify(number, data, &mac)
    }
}

/// Refuses a key file with any group or other permission bit.
pub fn check_permissions(path: &Path) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::file(path, format!("cannot read file: {e}")))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(ConfigError::file(
            path,
            format!("Bad permissions on keyfile [{}], 600 recommended.", path.display()),
        ));
    }
    Ok(())
}

/// A key number 1–15.
fn key_number(text: &str) -> Result<u8, String> {
    match text.parse::<u8>() {
        Ok(n @ 1..=15) => Ok(n),
        _ => Err(format!("Invalid authnum [{text}] (1-15)")),
    }
}

/// `METHOD [SECRET]` of a key line.
fn parse_key(fields: &[&str]) -> Result<AuthKey, String> {
    let [method, secret @ ..] = fields else {
        return Err("key line needs a method: N crc|md5|sha1|sha256 [SECRET]".into());
    };
    let method = AuthMethod::from_name(method).ok_or_else(|| format!("Invalid authtype [{method}]"))?;
    match (method, secret) {
        (AuthMethod::Crc, []) => Ok(AuthKey { method, secret: Vec::new() }),
        (AuthMethod::Crc, _) => Err("Auth method [crc] doesn't use a key".into()),
        (_, []) => Err(format!("Auth method [{}] requires a key", method.name())),
        (_, [secret]) => Ok(AuthKey { method, secret: secret.as_bytes().to_vec() }),
        (_, _) => Err("the secret must be one field without blanks".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const P: &str = "/etc/ha.d/authkeys";

    fn parse(text: &str) -> Result<(AuthKeys, Vec<Warning>), ConfigError> {
        AuthKeys::parse(Path::new(P), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn keys(text: &str) -> AuthKeys {
        parse(text).unwrap().0
    }

    #[test]
    fn the_spec_example_parses_with_a_loud_crc_warning() {
        let (k, w) =
            parse("auth 2            # signs\n1 crc             # no secret\n2 sha1 S3cretKey\n3 md5  Other!Key\n")
                .unwrap();
        assert_eq!(k.signing_key(), 2);
        assert_eq!(k.method(1), Some(AuthMethod::Crc));
        assert_eq!(k.method(2), Some(AuthMethod::Sha1));
        assert_eq!(k.method(3), Some(AuthMethod::Md5));
        assert_eq!(k.method(4), None);
        assert_eq!(w.len(), 1);
        assert!(w[0]
            .to_string()
            .starts_with("/etc/ha.d/authkeys:2: Auth key [1] uses crc, which provides NO authentication"));
        assert!(!format!("{k:?}").contains("S3cretKey"), "Debug must not print secrets");
    }

    #[test]
    fn secrets_may_contain_hash_signs() {
        let k = keys("auth 1\n1 sha1 pa#ss # comment\n");
        let reference = keys("auth 1\n1 sha1 pa#ss\n");
        assert_eq!(k.sign(b"x"), reference.sign(b"x"));
        assert_ne!(k.sign(b"x"), keys("auth 1\n1 sha1 pa\n").sign(b"x"));
    }

    #[test]
    fn errors_from_the_table() {
        assert_eq!(err("1 sha1 k\n"), "/etc/ha.d/authkeys: Missing auth directive in keyfile [/etc/ha.d/authkeys]");
        assert_eq!(err(""), "/etc/ha.d/authkeys: Missing auth directive in keyfile [/etc/ha.d/authkeys]");
        assert_eq!(err("auth 16\n"), "/etc/ha.d/authkeys:1: Invalid authnum [16] (1-15)");
        assert_eq!(err("auth 0\n"), "/etc/ha.d/authkeys:1: Invalid authnum [0] (1-15)");
        assert_eq!(err("auth x\n"), "/etc/ha.d/authkeys:1: Invalid authnum [x] (1-15)");
        assert_eq!(err("auth 1\n16 sha1 k\n"), "/etc/ha.d/authkeys:2: Invalid authnum [16] (1-15)");
        assert_eq!(err("auth 1\n999999999999 sha1 k\n"), "/etc/ha.d/authkeys:2: Invalid authnum [999999999999] (1-15)");
        assert_eq!(
            err("auth 3\n1 sha1 k\n"),
            "/etc/ha.d/authkeys:1: Auth Key [3] not found in keyfile [/etc/ha.d/authkeys]"
        );
        assert_eq!(err("auth 1\n1 crc secret\n"), "/etc/ha.d/authkeys:2: Auth method [crc] doesn't use a key");
        assert_eq!(err("auth 1\n1 md5\n"), "/etc/ha.d/authkeys:2: Auth method [md5] requires a key");
        assert_eq!(err("auth 1\n1 sha1\n"), "/etc/ha.d/authkeys:2: Auth method [sha1] requires a key");
        assert_eq!(err("auth 1\n1 sha256\n"), "/etc/ha.d/authkeys:2: Auth method [sha256] requires a key");
        assert_eq!(err("auth 1\n1 sha512 k\n"), "/etc/ha.d/authkeys:2: Invalid authtype [sha512]");
        assert_eq!(err("auth 1\n1 SHA1 k\n"), "/etc/ha.d/authkeys:2: Invalid authtype [SHA1]");
        assert_eq!(err("auth 1\n1\n"), "/etc/ha.d/authkeys:2: key line needs a method: N crc|md5|sha1|sha256 [SECRET]");
        assert_eq!(
            err("auth 1\n1 sha1 two words\n"),
            "/etc/ha.d/authkeys:2: the secret must be one field without blanks"
        );
        assert_eq!(err("auth\n"), "/etc/ha.d/authkeys:1: auth needs exactly one key number: auth N");
        assert_eq!(err("auth 1 2\n"), "/etc/ha.d/authkeys:1: auth needs exactly one key number: auth N");
        assert_eq!(
            err("auth 1\nauth 1\n1 sha1 k\n"),
            "/etc/ha.d/authkeys:2: auth directive multiply specified (first on line 1)"
        );
        assert_eq!(
            err("auth 1\n1 sha1 k\n1 md5 j\n"),
            "/etc/ha.d/authkeys:3: Auth key [1] defined twice (first on line 2)"
        );
        assert_eq!(
            err("auth 1\nkey 1 sha1 k\n"),
            "/etc/ha.d/authkeys:2: unrecognised line [key ...]: expected 'auth N' or 'N METHOD [SECRET]'"
        );
    }

    #[test]
    fn hmac_digests_match_the_rfc_vectors() {
        // RFC 2202 test case 2 (MD5, SHA-1) and RFC 4231 test case 2 (SHA-256).
        let data = b"what do ya want for nothing?";
        let digest = |method: &str| hex::encode(keys(&format!("auth 1\n1 {method} Jefe\n")).sign(data).1);
        assert_eq!(digest("md5"), "750c783e6ab0b503eaa86e310a5db738");
        assert_eq!(digest("sha1"), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        assert_eq!(digest("sha256"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn crc_is_the_cksum_crc32() {
        let k = keys("auth 1\n1 crc\n");
        assert_eq!(k.sign(b"123456789"), (1, vec![0x76, 0x5e, 0x76, 0x80]));
        assert_eq!(k.token(b"123456789"), "1 765e7680");
    }

    #[test]
    fn crc_tokens_have_no_leading_zeros() {
        let k = keys("auth 1\n1 crc\n");
        // Find an input whose CRC starts with a zero nibble.
        let data = (0u32..).map(|i| i.to_string()).find(|d| CRC32.checksum(d.as_bytes()) < 0x1000_0000).unwrap();
        let token = k.token(data.as_bytes());
        assert_eq!(token, format!("1 {:x}", CRC32.checksum(data.as_bytes())));
        assert!(token.len() < "1 ".len() + 8);
        assert!(k.verify_token(data.as_bytes(), &token));
    }

    #[test]
    fn sign_uses_the_auth_key_and_verify_accepts_any_configured_key() {
        let k = keys("auth 2\n1 md5 old\n2 sha256 new\n");
        let (number, mac) = k.sign(b"packet");
        assert_eq!(number, 2);
        assert_eq!(mac.len(), 32);
        assert!(k.verify(2, b"packet", &mac));
        assert!(!k.verify(2, b"packet!", &mac));
        assert!(!k.verify(1, b"packet", &mac));
        assert!(!k.verify(3, b"packet", &mac));
        assert!(!k.verify(2, b"packet", &mac[..31]));
        // A peer still signing with the old key is accepted during rotation.
        let old = keys("auth 1\n1 md5 old\n");
        let (n, old_mac) = old.sign(b"packet");
        assert!(k.verify(n, b"packet", &old_mac));
        // Same method, different secret: rejected.
        let other = keys("auth 2\n2 sha256 other\n");
        assert!(!k.verify(2, b"packet", &other.sign(b"packet").1));
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let k = keys("auth 3\n3 sha1 s\n4 crc\n");
        let token = k.token(b"data");
        assert!(token.starts_with("3 ") && token.len() == 2 + 40, "{token}");
        assert!(k.verify_token(b"data", &token));
        assert!(!k.verify_token(b"datA", &token));
        for bad in ["", "3", "3 ", "x 00", "9 00", "3 zz", "4 +1", "4 123456789", "4 g"] {
            assert!(!k.verify_token(b"data", bad), "{bad:?}");
        }
        // crc never verifies next to an HMAC key...
        let crc = format!("4 {:x}", CRC32.checksum(b"data"));
        assert!(!k.verify_token(b"data", &crc));
        assert!(!k.verify(4, b"data", &CRC32.checksum(b"data").to_be_bytes()));
        // ...only in a crc-only configuration.
        let crc_only = keys("auth 4\n4 crc\n");
        assert!(crc_only.verify_token(b"data", &crc));
    }

    #[test]
    fn brute_truncated_and_random_input_never_panics_and_errors_are_one_line() {
        let sample = "auth 2 # sign\n1 crc\n2 sha1 S3cret#Key\n3 md5 x\n15 sha256 y\n";
        let check = |text: &str| match parse(text) {
            Ok((_, w)) => w.iter().for_each(|w| assert!(!w.to_string().contains('\n'))),
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        };
        assert!(parse(sample).is_ok());
        for cut in 0..=sample.len() {
            check(&sample[..cut]);
            check(&sample[cut..]);
        }
        let pieces =
            ["auth", "1", "2", "15", "16", "0", "crc", "md5", "sha1", "sha256", "k", "#", " ", "\n", "é", "-1"];
        let mut rng = crate::testutil::XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..10_000 {
            let text: String = (0..rng.below(20)).map(|_| pieces[rng.below(pieces.len())]).collect();
            check(&text);
        }
    }

    #[test]
    fn permissions_with_group_or_other_bits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authkeys");
        std::fs::write(&path, "auth 1\n1 sha1 secret\n").unwrap();
        for mode in [0o640, 0o604, 0o644, 0o610, 0o601] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(
                AuthKeys::load(&path).unwrap_err().to_string(),
                format!("{0}: Bad permissions on keyfile [{0}], 600 recommended.", path.display()),
                "mode {mode:o}"
            );
        }
        for mode in [0o600, 0o400, 0o700] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let (k, w) = AuthKeys::load(&path).unwrap();
            assert_eq!(k.signing_key(), 1);
            assert!(w.is_empty());
        }
        let missing = AuthKeys::load(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("cannot read file"), "{missing}");
    }
}
