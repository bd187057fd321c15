//! Resuming after a connection loss, the hub's side: who may resume (a
//! secret token each, issued at join and renewed at every resume), who is
//! held (their name kept for the grace period after their connection
//! dropped), and the latest room events, replayed to a member who comes
//! back from the id it last saw, so that nothing is missed or repeated.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use lanchat_core::{Delivery, Event, LeaveReason, MemberId, Stamp, Target};
use tokio::time::Instant;

/// The most recent room events kept for replay.
const RECENT: usize = 4096;

/// A resume token's bytes.
type Token = [u8; 16];

/// One room event as it was delivered, for replay.
#[derive(Debug, Clone)]
pub(crate) struct Recent {
    pub stamp: Stamp,
    pub to: Target,
    pub event: Event,
}

/// Whether `to` includes `id`.
fn includes(to: &Target, id: MemberId) -> bool {
    match to {
        Target::One(one) => *one == id,
        Target::All => true,
        Target::AllBut(but) => *but != id,
        Target::AllExcept(except) => !except.contains(&id),
    }
}

/// The hub's resume state.
#[derive(Debug)]
pub(crate) struct Resume {
    grace: Duration,
    /// The most names held at once: beyond it a lost connection is a
    /// departure at once (connect, drop, repeat must not fill the room
    /// with held names).
    max_held: usize,
    tokens: HashMap<Token, MemberId>,
    by_member: HashMap<MemberId, Token>,
    /// Members whose connection dropped, until when their name is kept,
    /// and how the connection ended (said when the name is let go).
    held: HashMap<MemberId, (Instant, LeaveReason)>,
    recent: VecDeque<Recent>,
}

impl Resume {
    /// Resume with a grace period of `grace` (zero: off), holding at most
    /// `max_held` names at once.
    pub fn new(grace: Duration, max_held: usize) -> Self {
        Resume {
            grace,
            max_held,
            tokens: HashMap::new(),
            by_member: HashMap::new(),
            held: HashMap::new(),
            recent: VecDeque::new(),
        }
    }

    pub fn is_on(&self) -> bool {
        !self.grace.is_zero()
    }

    /// A new secret token for `id` (any earlier one stops working), as
    /// sent to the client: 32 hex digits.
    pub fn issue(&mut self, id: MemberId) -> Option<String> {
        let mut token = [0u8; 16];
        // Without the system's randomness there is no secret to give.
        getrandom::fill(&mut token).ok()?;
        if let Some(old) = self.by_member.insert(id, token) {
            self.tokens.remove(&old);
        }
        self.tokens.insert(token, id);
        Some(token.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether `id` may be held when its connection drops.
    pub fn can_hold(&self, id: MemberId) -> bool {
        self.is_on() && self.by_member.contains_key(&id) && self.held.len() < self.max_held
    }

    /// Keeps `id`'s name until `now` plus the grace period; `why` is how
    /// its connection ended.
    pub fn hold(&mut self, id: MemberId, now: Instant, why: LeaveReason) {
        self.held.insert(id, (now + self.grace, why));
    }

    pub fn is_held(&self, id: MemberId) -> bool {
        self.held.contains_key(&id)
    }

    /// The member whose token `token` is (32 hex digits), if any; the
    /// token is used up.
    pub fn take(&mut self, token: &str) -> Option<MemberId> {
        let bytes = parse(token)?;
        let id = self.tokens.remove(&bytes)?;
        self.by_member.remove(&id);
        self.held.remove(&id);
        Some(id)
    }

    /// When the next held name must be let go.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.held.values().map(|(until, _)| *until).min()
    }

    /// The held members whose grace period is over at `now` (forgotten),
    /// with how their connection ended.
    pub fn expired(&mut self, now: Instant) -> Vec<(MemberId, LeaveReason)> {
        let gone: Vec<(MemberId, LeaveReason)> = self
            .held
            .iter()
            .filter(|(_, (until, _))| *until <= now)
            .map(|(id, (_, why))| (*id, *why))
            .collect();
        for (id, _) in &gone {
            self.forget(*id);
        }
        gone
    }

    /// `id` left the room for good.
    pub fn forget(&mut self, id: MemberId) {
        self.held.remove(&id);
        if let Some(token) = self.by_member.remove(&id) {
            self.tokens.remove(&token);
        }
    }

    /// Keeps a room event for replay, while anyone may resume (a member
    /// given a token later only ever needs what follows).
    pub fn remember(&mut self, delivery: &Delivery) {
        let Some(stamp) = delivery.stamp else { return };
        if self.by_member.is_empty() || !delivery.event.is_room_event() {
            return;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Recent {
            stamp,
            to: delivery.to.clone(),
            event: delivery.event.clone(),
        });
    }

    /// The room events after id `after` that were for `id`, oldest first;
    /// and whether some may have been forgotten already (the oldest kept
    /// is later than the one after `after`).
    pub fn replay(&self, id: MemberId, after: u64) -> (Vec<Recent>, bool) {
        let gap = self
            .recent
            .front()
            .is_some_and(|r| r.stamp.id > after.saturating_add(1));
        let events = self
            .recent
            .iter()
            .filter(|r| r.stamp.id > after && includes(&r.to, id))
            .cloned()
            .collect();
        (events, gap)
    }
}

/// A token as sent, back into bytes.
fn parse(token: &str) -> Option<Token> {
    if token.len() != 32 || !token.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&token[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanchat_core::RoomId;

    fn id(n: u64) -> MemberId {
        // Members are numbered by the room; make some.
        let mut room = lanchat_core::Room::new(RoomId::MAIN, "t", 100);
        let mut out = Vec::new();
        let mut last = None;
        for i in 0..n {
            last = room.join(&format!("m{i}"), None, 0, &mut out).ok();
        }
        last.expect("a member")
    }

    fn said(n: u64, to: Target) -> Delivery {
        Delivery {
            room: RoomId::MAIN,
            to,
            event: Event::Message {
                from: "x".into(),
                text: format!("{n}"),
            },
            stamp: Some(Stamp { id: n, ms: n }),
            label: None,
        }
    }

    #[test]
    fn tokens_are_secret_single_use_and_renewed() {
        let mut r = Resume::new(Duration::from_secs(120), 10);
        let (a, b) = (id(1), id(2));
        let first = r.issue(a).unwrap();
        assert_eq!(first.len(), 32);
        let second = r.issue(a).unwrap();
        assert_ne!(first, second);
        assert_eq!(r.take(&first), None, "an old token stops working");
        let other = r.issue(b).unwrap();
        assert_eq!(r.take(&second), Some(a));
        assert_eq!(r.take(&second), None, "a token is used up");
        assert_eq!(r.take("not a token"), None);
        assert_eq!(r.take(&"zz".repeat(16)), None);
        assert_eq!(r.take(&other), Some(b));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_name_is_let_go_after_the_grace_period() {
        let mut r = Resume::new(Duration::from_secs(120), 10);
        let a = id(1);
        r.issue(a);
        assert!(r.can_hold(a));
        let now = Instant::now();
        r.hold(a, now, LeaveReason::TimedOut);
        assert_eq!(r.next_expiry(), Some(now + Duration::from_secs(120)));
        tokio::time::advance(Duration::from_secs(119)).await;
        assert!(r.expired(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(r.expired(Instant::now()), [(a, LeaveReason::TimedOut)]);
        assert!(!r.can_hold(a) && r.next_expiry().is_none());
    }

    #[test]
    fn only_so_many_names_are_held_at_once() {
        let mut r = Resume::new(Duration::from_secs(120), 1);
        let (a, b) = (id(1), id(2));
        r.issue(a);
        r.issue(b);
        r.hold(a, Instant::now(), LeaveReason::Dropped);
        assert!(!r.can_hold(b), "the cap is reached");
    }

    #[test]
    fn replay_gives_what_was_for_the_member_after_its_last_id() {
        let mut r = Resume::new(Duration::from_secs(120), 10);
        let (a, b) = (id(1), id(2));
        // Nobody may resume yet: nothing is kept.
        r.remember(&said(0, Target::All));
        assert!(r.recent.is_empty());
        r.issue(a);
        r.issue(b);
        r.remember(&said(1, Target::All));
        r.remember(&said(2, Target::One(b)));
        r.remember(&said(3, Target::AllBut(a)));
        r.remember(&said(4, Target::One(a)));
        r.remember(&said(5, Target::All));
        let ids = |(events, gap): (Vec<Recent>, bool)| {
            (events.iter().map(|e| e.stamp.id).collect::<Vec<_>>(), gap)
        };
        assert_eq!(ids(r.replay(a, 1)), (vec![4, 5], false));
        assert_eq!(ids(r.replay(b, 0)), (vec![1, 2, 3, 5], false));
        for n in 6..(6 + RECENT as u64) {
            r.remember(&said(n, Target::All));
        }
        assert!(r.replay(a, 1).1, "the ring forgot some: said so");
    }
}
