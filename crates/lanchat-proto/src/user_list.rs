//! The `welcome` and `users` frames as the server writes them: borrowing
//! the names instead of owning them. A newcomer's welcome lists the whole
//! room, so in a join storm copying each name into a [`ServerFrame`] before
//! encoding it was most of the server's work. The bytes are the same as the
//! owned frame's (a test holds them equal).

use serde::{Serialize, Serializer};

use crate::frame::Limits;
#[cfg(doc)]
use crate::ServerFrame;

/// A [`ServerFrame::Welcome`] or [`ServerFrame::Users`] that borrows its
/// fields; `N` is any kind of name (`String`, `Arc<str>`).
#[derive(Debug, Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    bound(serialize = "N: AsRef<str>")
)]
pub enum UserListFrame<'a, N> {
    Welcome {
        name: &'a str,
        room: &'a str,
        #[serde(serialize_with = "names")]
        users: &'a [N],
        #[serde(skip_serializing_if = "crate::frame::is_false")]
        more: bool,
        caps: &'a [&'a str],
        #[serde(skip_serializing_if = "Option::is_none")]
        limits: Option<Limits>,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<&'a str>,
    },
    Users {
        #[serde(serialize_with = "names")]
        users: &'a [N],
        #[serde(skip_serializing_if = "crate::frame::is_false")]
        more: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<&'a str>,
    },
}

fn names<N: AsRef<str>, S: Serializer>(users: &&[N], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(users.iter().map(AsRef::as_ref))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::codec::encode;
    use crate::ServerFrame;

    const LIMITS: Limits = Limits {
        text: 4096,
        name: 32,
        frame_in: 8192,
        frame_out: 16384,
        rate: 5.0,
        burst: 10,
        label: 64,
    };

    /// The borrowed frames encode to exactly the owned frames' bytes, with
    /// and without the optional fields, and names that need escaping.
    #[test]
    fn borrowed_frames_are_the_owned_frames_byte_for_byte() {
        let owned: Vec<String> = vec!["alice".into(), "b\"o\\b".into(), "名前".into()];
        let shared: Vec<Arc<str>> = owned.iter().map(|n| n.as_str().into()).collect();
        for (more, label) in [(false, None), (true, Some("l1"))] {
            let welcome = ServerFrame::Welcome {
                name: "carol".into(),
                room: "lab".into(),
                users: owned.clone(),
                more,
                caps: vec!["stamps".into()],
                limits: label.map(|_| LIMITS),
                label: label.map(str::to_owned),
            };
            let borrowed = UserListFrame::Welcome {
                name: "carol",
                room: "lab",
                users: &shared,
                more,
                caps: &["stamps"],
                limits: label.map(|_| LIMITS),
                label,
            };
            assert_eq!(encode(&borrowed).unwrap(), encode(&welcome).unwrap());
            let users = ServerFrame::Users {
                users: owned.clone(),
                more,
                label: label.map(str::to_owned),
            };
            let borrowed = UserListFrame::Users {
                users: &owned,
                more,
                label,
            };
            assert_eq!(encode(&borrowed).unwrap(), encode(&users).unwrap());
        }
    }
}
