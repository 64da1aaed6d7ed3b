//! Names the cluster messages carry: a node's name and a resource group's
//! key. Distinct types so a group key cannot be passed where a node is
//! meant; both print exactly their text (log lines and the wire form stay
//! the plain string).

use std::borrow::Borrow;
use std::fmt;

/// Defines a transparent string newtype with the shared conversions.
macro_rules! string_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_string())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        impl From<&String> for $name {
            fn from(text: &String) -> Self {
                $name(text.clone())
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_name!(
    /// A node's name, as in ha.cf `node` lines and `uname -n`.
    NodeName
);

string_name!(
    /// A resource group's key (its haresources line's identity).
    GroupKey
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn display_prints_exactly_the_text() {
        assert_eq!(NodeName::from("node-a").to_string(), "node-a");
        assert_eq!(format!("[{}]", GroupKey::from("web 10.0.0.1")), "[web 10.0.0.1]");
    }

    #[test]
    fn maps_keyed_by_a_name_are_looked_up_by_text() {
        let mut held = BTreeMap::new();
        held.insert(GroupKey::from("web"), 1);
        assert_eq!(held.get("web"), Some(&1));
        assert_eq!(held.get("db"), None);
    }

    #[test]
    fn order_follows_the_text() {
        let mut nodes = vec![NodeName::from("b"), NodeName::from("a")];
        nodes.sort();
        assert_eq!(nodes, vec![NodeName::from("a"), NodeName::from("b")]);
    }
}
