//! The fence_virt.conf grammar (spec §11.2), parsed without recursion so
//! that no input can exhaust the stack:
//!
//! ```text
//! file       := item+
//! item       := section | assignment
//! section    := WORD [ "=" STRING ] "{" item* "}"
//! assignment := WORD "=" STRING ";"
//! ```

use std::path::Path;

use super::error::{ConfigError, ConfigErrorKind};
use super::lexer::{LexError, Lexer, Token, TokenKind};
use super::tree::{ConfigTree, Item, Section, Value};

/// Sections nested deeper than this are refused (the original has no
/// limit; a bound keeps every later recursive walk of the tree safe).
pub const MAX_DEPTH: usize = 64;

/// Parses configuration bytes into a tree; `path` names the file in errors.
pub(crate) fn parse(input: &[u8], path: &Path) -> Result<ConfigTree, ConfigError> {
    Parser { lexer: Lexer::new(input), path }.run()
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    path: &'a Path,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Option<Token>, ConfigError> {
        self.lexer.next_token().map_err(|LexError { line, column, message }| self.error_at(line, column, message))
    }

    fn error_at(&self, line: usize, column: usize, message: impl Into<String>) -> ConfigError {
        ConfigError::syntax(self.path, line, column, message)
    }

    /// An error at `token`, or at the end of the input when there is none.
    fn unexpected(&self, token: Option<&Token>, message: impl Into<String>) -> ConfigError {
        match token {
            Some(t) => self.error_at(t.line, t.column, message),
            None => {
                let (line, column) = self.lexer.position();
                self.error_at(line, column, format!("{}, found end of file", message.into()))
            }
        }
    }

    fn run(mut self) -> Result<ConfigTree, ConfigError> {
        let mut root = Section::default();
        // Open sections, innermost last.
        let mut stack: Vec<Section> = Vec::new();
        loop {
            let Some(token) = self.next()? else {
                if let Some(open) = stack.last() {
                    let (line, column) = self.lexer.position();
                    let opened = open.line().map(|l| format!(" (opened on line {l})")).unwrap_or_default();
                    return Err(self.error_at(
                        line,
                        column,
                        format!("unexpected end of file: section '{}'{opened} is not closed", open.name()),
                    ));
                }
                break;
            };
            let Token { kind, line, column } = token;
            match kind {
                TokenKind::Word(name) => match self.after_name(name, line)? {
                    Parsed::Value(value) => stack.last_mut().unwrap_or(&mut root).push(Item::Value(value)),
                    Parsed::Open(section) => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(self.error_at(
                                line,
                                column,
                                format!("sections are nested more than {MAX_DEPTH} levels deep"),
                            ));
                        }
                        stack.push(section);
                    }
                },
                TokenKind::RBrace => match stack.pop() {
                    Some(done) => stack.last_mut().unwrap_or(&mut root).push(Item::Section(done)),
                    None => return Err(self.error_at(line, column, "unexpected '}' with no section open")),
                },
                other => {
                    return Err(self.error_at(
                        line,
                        column,
                        format!("unexpected {}: expected a key or section name", other.describe()),
                    ))
                }
            }
        }
        if root.items().is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Syntax,
                self.path,
                None,
                None,
                "file is empty: it must contain at least one section or assignment",
            ));
        }
        Ok(ConfigTree::from_root(root))
    }

    /// After a name: `= "v";` (an assignment), `= "v" {` or `{` (a section).
    fn after_name(&mut self, name: String, name_line: usize) -> Result<Parsed, ConfigError> {
        let next = self.next()?;
        match next.as_ref().map(|t| &t.kind) {
            Some(TokenKind::LBrace) => return Ok(Parsed::Open(Section::new(name, None, Some(name_line)))),
            Some(TokenKind::Equals) => {}
            _ => return Err(self.unexpected(next.as_ref(), format!("expected '=' or '{{' after '{name}'"))),
        }
        let next = self.next()?;
        let value = match next.map(|t| (t.kind, t.line, t.column)) {
            Some((TokenKind::Str(value), _, _)) => value,
            Some((TokenKind::Word(word), line, column)) => {
                return Err(self.error_at(
                    line,
                    column,
                    format!("value of '{name}' must be in double quotes: {name} = \"{word}\";"),
                ))
            }
            other => {
                let token = other.map(|(kind, line, column)| Token { kind, line, column });
                return Err(self.unexpected(token.as_ref(), format!("expected a quoted value after '{name} ='")));
            }
        };
        let next = self.next()?;
        match next.as_ref().map(|t| &t.kind) {
            Some(TokenKind::Semicolon) => Ok(Parsed::Value(Value::new(name, value, Some(name_line)))),
            Some(TokenKind::LBrace) => Ok(Parsed::Open(Section::new(name, Some(value), Some(name_line)))),
            _ => Err(self.unexpected(next.as_ref(), format!("expected ';' after value of '{name}'"))),
        }
    }
}

/// What a name started.
enum Parsed {
    Value(Value),
    Open(Section),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(text.as_bytes(), Path::new("/etc/fence_virt.conf")).expect_err("should fail")
    }

    fn at(text: &str) -> (Option<usize>, Option<usize>, String) {
        let e = err(text);
        assert_eq!(e.kind, ConfigErrorKind::Syntax);
        (e.line, e.column, e.message)
    }

    #[test]
    fn parses_sections_values_and_section_values() {
        let t = parse(b"a { b = \"1\"; c = \"v\" { d = \"2\"; } }\ntop = \"t\";", Path::new("x")).unwrap();
        assert_eq!(t.get("a/b"), Some("1"));
        assert_eq!(t.section("a/c").and_then(|s| s.value()), Some("v"));
        assert_eq!(t.get("a/c/d"), Some("2"));
        assert_eq!(t.get("top"), Some("t"));
    }

    #[test]
    fn missing_semicolon_names_key_and_position() {
        let text = "listeners {\n\tmulticast {\n\t\tport = \"1229\"\n\t}\n}\n";
        let e = err(text);
        assert_eq!(e.to_string(), "/etc/fence_virt.conf:4:2: expected ';' after value of 'port'");
    }

    #[test]
    fn missing_semicolon_at_end_of_file() {
        let (line, column, message) = at("a = \"1\"");
        assert_eq!((line, column), (Some(1), Some(8)));
        assert_eq!(message, "expected ';' after value of 'a', found end of file");
    }

    #[test]
    fn unquoted_value() {
        let (line, column, message) = at("a {\n  port = 1229;\n}");
        assert_eq!((line, column), (Some(2), Some(10)));
        assert!(message.contains("double quotes"), "{message}");
    }

    #[test]
    fn word_without_equals_or_brace() {
        let (line, column, message) = at("a b { }");
        assert_eq!((line, column), (Some(1), Some(3)));
        assert_eq!(message, "expected '=' or '{' after 'a'");
    }

    #[test]
    fn stray_tokens() {
        assert_eq!(at("}").2, "unexpected '}' with no section open");
        assert_eq!(at("a { } ;").2, "unexpected ';': expected a key or section name");
        assert_eq!(at("\n  { }").0, Some(2));
        assert!(at("\"x\" = \"y\";").2.starts_with("unexpected quoted string"));
        assert!(at("a = ;").2.starts_with("expected a quoted value after 'a ='"));
        // A semicolon after a closing brace is not allowed.
        assert_eq!(at("a { };").0, Some(1));
    }

    #[test]
    fn unclosed_section() {
        let (line, _, message) = at("a {\n  b {\n    c = \"1\";\n");
        assert_eq!(line, Some(4));
        assert_eq!(message, "unexpected end of file: section 'b' (opened on line 2) is not closed");
    }

    #[test]
    fn empty_and_comment_only_files_are_errors() {
        for text in ["", "  \n\t\n", "# only a comment\n# another\n"] {
            let e = err(text);
            assert_eq!(e.kind, ConfigErrorKind::Syntax);
            assert_eq!(e.line, None);
            assert!(e.to_string().starts_with("/etc/fence_virt.conf: file is empty"), "{e}");
        }
    }

    #[test]
    fn empty_sections_alone_are_a_valid_file() {
        assert!(parse(b"a { }", Path::new("x")).is_ok());
    }

    #[test]
    fn empty_quoted_string_is_an_error() {
        let (line, column, message) = at("a {\n b = \"\";\n}");
        assert_eq!((line, column), (Some(2), Some(6)));
        assert!(message.contains("empty quoted string"));
    }

    #[test]
    fn crlf_file_is_an_error_that_says_so() {
        let e = err("fence_virtd {\r\n\tlistener = \"multicast\";\r\n}\r\n");
        assert_eq!((e.line, e.column), (Some(1), Some(14)));
        assert!(e.message.contains("CRLF"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "a { ".repeat(MAX_DEPTH + 1) + &"} ".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).message.contains("nested"));
        let ok = "a { ".repeat(MAX_DEPTH) + &"} ".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes(), Path::new("x")).is_ok());
    }

    /// Parses `bytes`; an error must say something and point inside the input.
    fn parse_checked(bytes: &[u8]) {
        if let Err(e) = parse(bytes, Path::new("x")) {
            assert!(!e.message.trim().is_empty(), "an error without a message for {bytes:?}");
            let lines = bytes.split(|&b| b == b'\n').count();
            if let Some(line) = e.line {
                assert!((1..=lines).contains(&line), "line {line} outside the {lines}-line input {bytes:?}: {e}");
            }
            if let Some(column) = e.column {
                assert!(column >= 1, "column 0 for {bytes:?}: {e}");
            }
        }
    }

    /// Brute force: random, mutated and truncated inputs never panic, and
    /// every error names a place inside the input.
    #[test]
    fn never_panics_on_arbitrary_input() {
        let seeds: [&[u8]; 4] = [
            include_bytes!("../../testdata/debian-fence_virt.conf"),
            include_bytes!("../../testdata/manpage-example.conf"),
            include_bytes!("../../testdata/wizard-existing.input.conf"),
            b"a = \"x\" { b { c = \"\xc3\xa9\"; } }\r\n#",
        ];
        let alphabet = b"{};=\"# \t\n\rab\xff\xc3";
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for seed in &seeds[..3] {
            assert!(parse(seed, Path::new("x")).is_ok(), "a real configuration file must parse");
        }
        for seed in seeds {
            for cut in 0..=seed.len() {
                parse_checked(&seed[..cut]);
            }
            for _ in 0..2000 {
                let mut bytes = seed.to_vec();
                for _ in 0..(rng.next() % 8 + 1) {
                    let pos = (rng.next() as usize) % (bytes.len() + 1);
                    let choice = alphabet[(rng.next() as usize) % alphabet.len()];
                    match rng.next() % 3 {
                        0 => bytes.insert(pos, choice),
                        1 if pos < bytes.len() => bytes[pos] = choice,
                        _ if pos < bytes.len() => {
                            bytes.remove(pos);
                        }
                        _ => {}
                    }
                }
                parse_checked(&bytes);
            }
        }
        for _ in 0..20000 {
            let len = (rng.next() % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[(rng.next() as usize) % alphabet.len()]).collect();
            parse_checked(&bytes);
            let random: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            parse_checked(&random);
        }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }
}
