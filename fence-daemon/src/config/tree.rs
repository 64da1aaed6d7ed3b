//! The configuration tree: sections holding sections and `key = "value"`
//! assignments, with the original's lookup rules (spec §11.3).
//!
//! Items are kept in file order. The original stores each level in reverse
//! file order and takes the first match; here that is "the last match in
//! file order", so a repeated key's last occurrence wins and of several
//! sections with one name only the last is consulted. Names are compared
//! ignoring ASCII case. Items added by [`ConfigTree::set`] go to the end
//! (the front of the original's list), which is why the dump
//! ([`ConfigTree::dump`]) shows them first.

use std::fmt;
use std::path::Path;

use super::error::ConfigError;
use super::parser;

/// `key = "value";` with the line it came from (`None` when set by code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    name: String,
    value: String,
    line: Option<usize>,
}

impl Value {
    pub(crate) fn new(name: String, value: String, line: Option<usize>) -> Self {
        Value { name, value, line }
    }

    /// The key as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, without quotes.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// 1-based line in the file, `None` if the value was set by code.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

/// `name [= "value"] { items }` with the line of its name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    name: String,
    value: Option<String>,
    line: Option<usize>,
    items: Vec<Item>,
}

/// One entry of a section, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A nested section.
    Section(Section),
    /// An assignment.
    Value(Value),
}

/// A name or value that cannot be written back as fence_virt.conf text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Empty, or contains whitespace, `{`, `}`, `;`, `=`, `"`, or starts with `#`.
    #[error("'{0}' cannot be used as a key or section name")]
    InvalidName(String),
    /// Empty, or contains `"` (the format has no escapes).
    #[error("value '{0}' cannot be written: values must be non-empty and may not contain '\"'")]
    InvalidValue(String),
}

impl Section {
    pub(crate) fn new(name: String, value: Option<String>, line: Option<usize>) -> Self {
        Section { name, value, line, items: Vec::new() }
    }

    pub(crate) fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    /// The section name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The optional value of `name = "value" { … }`.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// 1-based line of the section name, `None` if created by code.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// All items in file order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Nested sections in file order.
    pub fn sections(&self) -> impl DoubleEndedIterator<Item = &Section> + '_ {
        self.items.iter().filter_map(|item| match item {
            Item::Section(s) => Some(s),
            Item::Value(_) => None,
        })
    }

    /// Assignments in file order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + '_ {
        self.items.iter().filter_map(|item| match item {
            Item::Value(v) => Some(v),
            Item::Section(_) => None,
        })
    }

    /// Every nested section called `name` (case ignored), in file order.
    pub fn sections_named<'a>(&'a self, name: &'a str) -> impl DoubleEndedIterator<Item = &'a Section> + 'a {
        self.sections().filter(move |s| s.name.eq_ignore_ascii_case(name))
    }

    /// Every assignment to `name` (case ignored), in file order: the
    /// repeated `ip`/`uuid` entries of a group.
    pub fn values_named<'a>(&'a self, name: &'a str) -> impl DoubleEndedIterator<Item = &'a Value> + 'a {
        self.values().filter(move |v| v.name.eq_ignore_ascii_case(name))
    }

    /// The section called `name` that counts: the last one.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.items.iter().rev().find_map(|item| match item {
            Item::Section(s) if s.name.eq_ignore_ascii_case(name) => Some(s),
            _ => None,
        })
    }

    /// The assignment to `name` that counts: the last one.
    pub fn entry(&self, name: &str) -> Option<&Value> {
        self.items.iter().rev().find_map(|item| match item {
            Item::Value(v) if v.name.eq_ignore_ascii_case(name) => Some(v),
            _ => None,
        })
    }

    /// The value of `name` (last one wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entry(name).map(Value::value)
    }

    /// Follows `a/b/c` through nested sections (last of each name).
    pub fn find_section(&self, path: &str) -> Option<&Section> {
        path.split('/').filter(|c| !c.is_empty()).try_fold(self, |s, name| s.section(name))
    }

    fn section_mut(&mut self, name: &str) -> Option<&mut Section> {
        self.items.iter_mut().rev().find_map(|item| match item {
            Item::Section(s) if s.name.eq_ignore_ascii_case(name) => Some(s),
            _ => None,
        })
    }

    fn section_or_create(&mut self, name: &str) -> &mut Section {
        let position =
            self.items.iter().rposition(|item| matches!(item, Item::Section(s) if s.name.eq_ignore_ascii_case(name)));
        let index = match position {
            Some(index) => index,
            None => {
                self.items.push(Item::Section(Section::new(name.to_string(), None, None)));
                self.items.len() - 1
            }
        };
        match &mut self.items[index] {
            Item::Section(s) => s,
            Item::Value(_) => unreachable!("index was chosen to point at a section"),
        }
    }

    fn set(&mut self, key: &str, value: &str) {
        let existing = self.items.iter_mut().rev().find_map(|item| match item {
            Item::Value(v) if v.name.eq_ignore_ascii_case(key) => Some(v),
            _ => None,
        });
        match existing {
            Some(v) => v.value = value.to_string(),
            None => self.items.push(Item::Value(Value { name: key.to_string(), value: value.to_string(), line: None })),
        }
    }

    fn dump_into(&self, out: &mut String, depth: usize) {
        let indent = "\t".repeat(depth);
        for child in self.sections().rev() {
            out.push_str(&indent);
            out.push_str(&child.name);
            if let Some(value) = &child.value {
                out.push_str(&format!(" = \"{value}\""));
            }
            out.push_str(" {\n");
            child.dump_into(out, depth + 1);
            out.push_str(&indent);
            out.push_str("}\n\n");
        }
        for value in self.values().rev() {
            out.push_str(&format!("{indent}{} = \"{}\";\n", value.name, value.value));
        }
    }
}

/// A parsed fence_virt.conf: the children of the implicit top-level section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigTree {
    root: Section,
}

impl ConfigTree {
    /// An empty tree (the wizard's "start from scratch").
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn from_root(root: Section) -> Self {
        ConfigTree { root }
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn parse(input: &[u8], path: &Path) -> Result<Self, ConfigError> {
        parser::parse(input, path)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| ConfigError::io(path, &e))?;
        Self::parse(&bytes, path)
    }

    /// The top level as a section (name "").
    pub fn root(&self) -> &Section {
        &self.root
    }

    /// The section at `path` (e.g. `listeners/multicast`), last of each name.
    pub fn section(&self, path: &str) -> Option<&Section> {
        self.root.find_section(path)
    }

    /// The assignment at `path` (e.g. `listeners/multicast/port`), last wins.
    pub fn entry(&self, path: &str) -> Option<&Value> {
        let (dir, key) = split_path(path);
        self.root.find_section(dir)?.entry(key)
    }

    /// The value at `path`, last wins.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.entry(path).map(Value::value)
    }

    /// Sets the value at `path`, creating missing sections. An existing
    /// key (the last one of that name) is changed in place; otherwise the
    /// key is added, so it is dumped first within its section.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), TreeError> {
        let (dir, key) = split_path(path);
        let components: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        for name in components.iter().chain(std::iter::once(&key)) {
            check_name(name)?;
        }
        if value.is_empty() || value.contains('"') {
            return Err(TreeError::InvalidValue(value.to_string()));
        }
        let section = components.iter().fold(&mut self.root, |s, name| s.section_or_create(name));
        section.set(key, value);
        Ok(())
    }

    /// Removes every assignment to the key at `path` (so no older duplicate
    /// becomes visible); returns how many were removed. Sections are kept.
    pub fn remove(&mut self, path: &str) -> usize {
        let (dir, key) = split_path(path);
        let mut section = &mut self.root;
        for name in dir.split('/').filter(|c| !c.is_empty()) {
            match section.section_mut(name) {
                Some(s) => section = s,
                None => return 0,
            }
        }
        let before = section.items.len();
        section.items.retain(|item| !matches!(item, Item::Value(v) if v.name.eq_ignore_ascii_case(key)));
        before - section.items.len()
    }

    /// The tree in the original's format (spec §11.4): per level, sections
    /// then assignments, each in reverse file order; one tab per depth;
    /// `}` followed by an empty line. Comments are not kept.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        self.root.dump_into(&mut out, 0);
        out
    }
}

impl fmt::Display for ConfigTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dump())
    }
}

/// `a/b/c` → (`a/b`, `c`); `c` → (``, `c`).
fn split_path(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn check_name(name: &str) -> Result<(), TreeError> {
    let bad = name.is_empty()
        || name.starts_with('#')
        || name.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b';' | b'=' | b'"'));
    if bad {
        Err(TreeError::InvalidName(name.to_string()))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConfigTree {
        ConfigTree::parse(text.as_bytes(), Path::new("test.conf")).expect("parses")
    }

    #[test]
    fn last_value_wins_and_lines_are_kept() {
        let t = parse("a {\n b = \"1\";\n b = \"2\";\n}\n");
        assert_eq!(t.get("a/b"), Some("2"));
        assert_eq!(t.entry("a/b").and_then(Value::line), Some(3));
        assert_eq!(t.section("a").and_then(Section::line), Some(1));
    }

    #[test]
    fn only_last_section_of_a_name_is_consulted() {
        let t = parse("l { m { port = \"1\"; key = \"k\"; } m { port = \"2\"; } }");
        assert_eq!(t.get("l/m/port"), Some("2"));
        // No fallback to the earlier section.
        assert_eq!(t.get("l/m/key"), None);
    }

    #[test]
    fn lookups_ignore_case() {
        let t = parse("FENCE_VIRTD { BACKEND = \"libvirt\"; }");
        assert_eq!(t.get("fence_virtd/backend"), Some("libvirt"));
        assert_eq!(t.get("Fence_Virtd/Backend"), Some("libvirt"));
    }

    #[test]
    fn repeated_values_in_file_order() {
        let t = parse("g { group { ip = \"a\"; uuid = \"u1\"; ip = \"b\"; uuid = \"u2\"; IP = \"c\"; } }");
        let group = t.section("g/group").unwrap();
        let ips: Vec<&str> = group.values_named("ip").map(Value::value).collect();
        let uuids: Vec<&str> = group.values_named("uuid").map(Value::value).collect();
        assert_eq!(ips, ["a", "b", "c"]);
        assert_eq!(uuids, ["u1", "u2"]);
    }

    #[test]
    fn dump_reverses_siblings_sections_first() {
        let t = parse("z = \"top\";\na { b = \"1\"; c { d = \"2\"; } c2 = \"v\" { } e = \"3\"; }\nf { }\n");
        let expected = concat!(
            "f {\n}\n\n",
            "a {\n\tc2 = \"v\" {\n\t}\n\n\tc {\n\t\td = \"2\";\n\t}\n\n\te = \"3\";\n\tb = \"1\";\n}\n\n",
            "z = \"top\";\n",
        );
        assert_eq!(t.dump(), expected);
    }

    #[test]
    fn set_changes_last_or_adds_new_keys_that_dump_first() {
        let mut t = parse("s { a = \"1\"; b = \"2\"; b = \"3\"; }");
        t.set("s/b", "9").unwrap();
        t.set("s/new", "n").unwrap();
        assert_eq!(t.dump(), "s {\n\tnew = \"n\";\n\tb = \"9\";\n\tb = \"2\";\n\ta = \"1\";\n}\n\n");
        t.set("x/y/z", "v").unwrap();
        assert_eq!(t.get("x/y/z"), Some("v"));
        assert!(t.dump().starts_with("x {\n\ty {\n\t\tz = \"v\";\n\t}\n\n}\n\n"));
    }

    #[test]
    fn set_rejects_unwritable_names_and_values() {
        let mut t = ConfigTree::new();
        assert!(matches!(t.set("a/b", "x\"y"), Err(TreeError::InvalidValue(_))));
        assert!(matches!(t.set("a/b", ""), Err(TreeError::InvalidValue(_))));
        assert!(matches!(t.set("a b/c", "x"), Err(TreeError::InvalidName(_))));
        assert!(matches!(t.set("a/#c", "x"), Err(TreeError::InvalidName(_))));
        assert!(matches!(t.set("a/", "x"), Err(TreeError::InvalidName(_))));
        assert_eq!(t, ConfigTree::new());
    }

    #[test]
    fn remove_drops_every_duplicate() {
        let mut t = parse("s { i = \"a\"; k = \"1\"; i = \"b\"; }");
        assert_eq!(t.remove("s/i"), 2);
        assert_eq!(t.get("s/i"), None);
        assert_eq!(t.get("s/k"), Some("1"));
        assert_eq!(t.remove("nosuch/i"), 0);
    }

    #[test]
    fn two_round_trips_restore_the_tree() {
        let text = "a { b = \"1\"; b = \"2\"; c = \"x\" { d = \"3\"; } }\ne { }\ntop = \"t\";\n";
        let t = parse(text);
        let once = parse(&t.dump());
        let twice = parse(&once.dump());
        // Sections and assignments are kept apart, so compare the dumps.
        assert_eq!(twice.dump(), t.dump());
        assert_eq!(twice.get("a/b"), Some("2"));
        // One round trip reverses siblings, so a duplicate key flips.
        assert_eq!(once.get("a/b"), Some("1"));
    }
}
