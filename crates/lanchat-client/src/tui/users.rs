//! The user list: sorted case-insensitively, updated in O(log n) per join
//! or departure, and capped, so that a server announcing users without
//! end cannot freeze the client or grow its memory.

use std::collections::BTreeSet;

use crate::connection::MAX_USERS;

/// Everyone in the room, in display order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserList {
    /// (sort key, name): the key is the lowercase name, then the name
    /// itself breaks ties, so the order is total and stable.
    sorted: BTreeSet<(String, String)>,
}

/// The server announced more users than any room holds: it is broken or
/// hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

fn entry(name: String) -> (String, String) {
    (name.to_lowercase(), name)
}

impl UserList {
    /// Replaces the whole list (a welcome, an answer to `/list`).
    pub fn replace(&mut self, names: Vec<String>) -> Result<(), TooMany> {
        if names.len() > MAX_USERS {
            return Err(TooMany);
        }
        self.sorted = names.into_iter().map(entry).collect();
        Ok(())
    }

    /// Adds one name.
    pub fn insert(&mut self, name: String) -> Result<(), TooMany> {
        if self.sorted.len() >= MAX_USERS {
            return Err(TooMany);
        }
        self.sorted.insert(entry(name));
        Ok(())
    }

    /// Removes one name, if present.
    pub fn remove(&mut self, name: &str) {
        self.sorted.remove(&(name.to_lowercase(), name.to_owned()));
    }

    /// Whether `name` is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.sorted
            .contains(&(name.to_lowercase(), name.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The names in display order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(|(_, name)| name.as_str())
    }
}

impl PartialEq<[&str]> for UserList {
    fn eq(&self, other: &[&str]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for UserList {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_case_insensitively_and_capped() {
        let mut list = UserList::default();
        list.replace(vec!["bob".into(), "Alice".into(), "李雷".into()])
            .unwrap();
        list.insert("carol".into()).unwrap();
        list.remove("bob");
        assert_eq!(list, ["Alice", "carol", "李雷"]);
        let many: Vec<String> = (0..MAX_USERS).map(|i| format!("u{i}")).collect();
        list.replace(many).unwrap();
        assert_eq!(list.insert("one too many".into()), Err(TooMany));
        assert_eq!(list.len(), MAX_USERS);
    }
}
