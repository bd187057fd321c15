//! Putting a user list split over several frames back together.
//!
//! A revision 2 server never sends a frame over the frame limit: in a big
//! room the welcome, or the answer to `/list`, carries the first names and
//! `more`, and `users` frames with the rest follow, the last without
//! `more`. Front ends want one list, shown once.

use lanchat_proto::ServerFrame;

use crate::connection::MAX_USERS;

/// Holds back the frames of a split list until the last one arrives.
#[derive(Debug, Default)]
pub struct Gather {
    /// The welcome or `users` frame being completed.
    partial: Option<ServerFrame>,
}

impl Gather {
    /// `Some(frame)` to act on now; `None` while a split list is
    /// incomplete. A list never grows past [`MAX_USERS`] names.
    pub fn gather(&mut self, frame: ServerFrame) -> Option<ServerFrame> {
        let (users, more) = match frame {
            ServerFrame::Users { users, more, .. } if self.partial.is_some() => (users, more),
            ServerFrame::Welcome { more: true, .. } | ServerFrame::Users { more: true, .. } => {
                self.partial = Some(frame);
                return None;
            }
            other => return Some(other),
        };
        if let Some(
            ServerFrame::Welcome {
                users: all,
                more: open,
                ..
            }
            | ServerFrame::Users {
                users: all,
                more: open,
                ..
            },
        ) = &mut self.partial
        {
            let room = MAX_USERS.saturating_sub(all.len());
            all.extend(users.into_iter().take(room));
            *open = more;
        }
        if more {
            None
        } else {
            self.partial.take()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(names: &[&str], more: bool) -> ServerFrame {
        ServerFrame::Users {
            users: names.iter().map(|n| (*n).to_owned()).collect(),
            more,
            label: None,
        }
    }

    #[test]
    fn a_split_list_becomes_one_and_other_frames_pass() {
        let mut g = Gather::default();
        assert_eq!(g.gather(users(&["a"], true)), None);
        assert_eq!(g.gather(users(&["b"], true)), None);
        assert_eq!(
            g.gather(users(&["c"], false)),
            Some(users(&["a", "b", "c"], false))
        );
        assert_eq!(g.gather(users(&["d"], false)), Some(users(&["d"], false)));
        let welcome = ServerFrame::Welcome {
            name: "me".into(),
            room: "lab".into(),
            users: vec!["a".into()],
            more: true,
            caps: vec![],
            limits: None,
            label: None,
        };
        assert_eq!(g.gather(welcome), None);
        let Some(ServerFrame::Welcome { users, more, .. }) = g.gather(users(&["b"], false)) else {
            panic!("no welcome")
        };
        assert_eq!((users, more), (vec!["a".to_owned(), "b".to_owned()], false));
    }
}
