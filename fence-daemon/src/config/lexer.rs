//! Tokens of fence_virt.conf (spec §11.1).
//!
//! Whitespace is space, tab and newline only; a carriage return outside a
//! quoted string is reported as a CRLF problem. `#` starts a comment only
//! where a token would start. A word is any run of bytes other than
//! whitespace, `{`, `}`, `;`, `=` and `"`; a quoted string is `"`, one or
//! more non-`"` bytes (newlines allowed, no escapes), `"`.

/// One token and where it starts (1-based line and column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub line: usize,
    pub column: usize,
}

/// The token kinds of the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LBrace,
    RBrace,
    Semicolon,
    Equals,
    /// A quoted string, without its quotes.
    Str(String),
    Word(String),
}

impl TokenKind {
    /// How the token is named in error messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::LBrace => "'{'".to_string(),
            TokenKind::RBrace => "'}'".to_string(),
            TokenKind::Semicolon => "';'".to_string(),
            TokenKind::Equals => "'='".to_string(),
            TokenKind::Str(s) => format!("quoted string \"{}\"", shorten(s)),
            TokenKind::Word(w) => format!("'{}'", shorten(w)),
        }
    }
}

/// A lexical error: position and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Splits the bytes of a configuration file into tokens.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    column: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a [u8]) -> Self {
        Lexer { src, pos: 0, line: 1, column: 1 }
    }

    /// The current position (after the last token returned), for errors at
    /// the end of the input.
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.column)
    }

    /// The next token, `None` at the end of the input.
    pub fn next_token(&mut self) -> Result<Option<Token>, LexError> {
        self.skip_blanks()?;
        let Some(&byte) = self.src.get(self.pos) else {
            return Ok(None);
        };
        let (line, column) = (self.line, self.column);
        let kind = match byte {
            b'{' => self.single(TokenKind::LBrace),
            b'}' => self.single(TokenKind::RBrace),
            b';' => self.single(TokenKind::Semicolon),
            b'=' => self.single(TokenKind::Equals),
            b'"' => self.quoted(line, column)?,
            _ => self.word(line, column)?,
        };
        Ok(Some(Token { kind, line, column }))
    }

    fn advance(&mut self) {
        if let Some(&b) = self.src.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                self.column += 1;
            }
        }
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.advance();
        kind
    }

    fn skip_blanks(&mut self) -> Result<(), LexError> {
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' => self.advance(),
                b'#' => {
                    while self.src.get(self.pos).is_some_and(|&c| c != b'\n') {
                        self.advance();
                    }
                }
                b'\r' => {
                    return Err(LexError {
                        line: self.line,
                        column: self.column,
                        message: "carriage return (CR) outside a quoted string: the file has DOS/Windows (CRLF) \
                                  line endings; convert it to Unix (LF) line endings"
                            .to_string(),
                    })
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn quoted(&mut self, line: usize, column: usize) -> Result<TokenKind, LexError> {
        self.advance(); // opening quote
        let start = self.pos;
        while self.src.get(self.pos).is_some_and(|&c| c != b'"') {
            self.advance();
        }
        if self.pos >= self.src.len() {
            return Err(LexError { line, column, message: "unterminated quoted string (no closing '\"')".into() });
        }
        let bytes = &self.src[start..self.pos];
        self.advance(); // closing quote
        if bytes.is_empty() {
            return Err(LexError { line, column, message: "empty quoted string \"\" is not allowed".into() });
        }
        let text = utf8(bytes, line, column, "quoted string")?;
        Ok(TokenKind::Str(text))
    }

    fn word(&mut self, line: usize, column: usize) -> Result<TokenKind, LexError> {
        let start = self.pos;
        while self.src.get(self.pos).is_some_and(|&c| !is_delimiter(c)) {
            self.advance();
        }
        let text = utf8(&self.src[start..self.pos], line, column, "word")?;
        Ok(TokenKind::Word(text))
    }
}

/// Bytes that end a word. CR is included so that it is reported as a CRLF
/// problem rather than silently becoming part of a name.
fn is_delimiter(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b';' | b'=' | b'"')
}

fn utf8(bytes: &[u8], line: usize, column: usize, what: &str) -> Result<String, LexError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| LexError {
        line,
        column,
        message: format!("{what} is not valid UTF-8"),
    })
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Result<Vec<(TokenKind, usize, usize)>, LexError> {
        let mut lexer = Lexer::new(src.as_bytes());
        let mut out = Vec::new();
        while let Some(t) = lexer.next_token()? {
            out.push((t.kind, t.line, t.column));
        }
        Ok(out)
    }

    fn word(s: &str) -> TokenKind {
        TokenKind::Word(s.into())
    }

    #[test]
    fn tokens_with_positions() {
        let toks = kinds("a {\n\tkey = \"v\";\n}").unwrap();
        assert_eq!(
            toks,
            vec![
                (word("a"), 1, 1),
                (TokenKind::LBrace, 1, 3),
                (word("key"), 2, 2),
                (TokenKind::Equals, 2, 6),
                (TokenKind::Str("v".into()), 2, 8),
                (TokenKind::Semicolon, 2, 11),
                (TokenKind::RBrace, 3, 1),
            ]
        );
    }

    #[test]
    fn comments_only_where_a_token_starts() {
        let toks = kinds("# c\nfoo#bar = \"x # y\"; # tail\n").unwrap();
        assert_eq!(toks[0].0, word("foo#bar"));
        assert_eq!(toks[2].0, TokenKind::Str("x # y".into()));
        assert_eq!(toks.len(), 4);
    }

    #[test]
    fn strings_may_span_lines_and_single_quotes_are_word_chars() {
        let toks = kinds("'a' = \"x\ny\";\nz").unwrap();
        assert_eq!(toks[0].0, word("'a'"));
        assert_eq!(toks[2].0, TokenKind::Str("x\ny".into()));
        assert_eq!((toks[4].1, toks[4].2), (3, 1));
    }

    #[test]
    fn empty_string_is_an_error() {
        let err = kinds("a = \"\";").unwrap_err();
        assert_eq!((err.line, err.column), (1, 5));
        assert!(err.message.contains("empty quoted string"));
    }

    #[test]
    fn unterminated_string_points_at_opening_quote() {
        let err = kinds("a {\n b = \"x;\n}\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 6));
        assert!(err.message.contains("unterminated"));
    }

    #[test]
    fn crlf_is_reported() {
        let err = kinds("a {\r\n}").unwrap_err();
        assert_eq!((err.line, err.column), (1, 4));
        assert!(err.message.contains("CRLF"));
        // Inside a quoted string a CR is just a character.
        assert!(kinds("a = \"x\r\";").is_ok());
    }

    #[test]
    fn columns_count_characters() {
        let toks = kinds("é = \"ü\"; x").unwrap();
        assert_eq!(toks[4], (word("x"), 1, 10));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut lexer = Lexer::new(b"a\xff = \"x\";");
        assert!(lexer.next_token().unwrap_err().message.contains("UTF-8"));
    }
}
