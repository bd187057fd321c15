//! Searching the scrollback: `/search TEXT` or Ctrl-R finds the newest
//! line containing the text (ignoring case), Ctrl-R steps to older ones and
//! Ctrl-S to newer ones, and Esc ends the search. Matches are highlighted
//! where they are drawn.

use crate::tui::transcript::Transcript;

/// An active search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// What is looked for, as typed.
    pub query: String,
    /// The entry (by sequence number) the view is on.
    pub at: u64,
    /// Which match that is, counting from the oldest, and how many there
    /// were, as of the last step (for "2 of 5").
    pub index: usize,
    pub total: usize,
}

impl Search {
    /// A search for `query`, on the entry `at`.
    pub fn new(transcript: &Transcript, query: &str, at: u64) -> Search {
        let (index, total) = count(transcript, query, at);
        Search {
            query: query.to_owned(),
            at,
            index,
            total,
        }
    }
}

/// Which way to step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Older,
    Newer,
}

/// Where `query` occurs in `text`, ignoring case: byte ranges of `text`.
/// (Where lowercasing changes a text's length, the case must match.)
pub fn matches(text: &str, query: &str) -> Vec<(usize, usize)> {
    if query.is_empty() {
        return Vec::new();
    }
    let lower = text.to_lowercase();
    let needle = query.to_lowercase();
    if lower.len() != text.len() || needle.len() != query.len() {
        return text
            .match_indices(query)
            .map(|(i, m)| (i, i + m.len()))
            .collect();
    }
    lower
        .match_indices(&needle)
        .filter(|(i, m)| text.is_char_boundary(*i) && text.is_char_boundary(i + m.len()))
        .map(|(i, m)| (i, i + m.len()))
        .collect()
}

/// The position (0 = newest) and sequence number of the first entry
/// matching `query` when stepping from position `from` (exclusive) in
/// direction `step`; `from = None` starts at the newest.
pub fn find(
    transcript: &Transcript,
    query: &str,
    from: Option<usize>,
    step: Step,
) -> Option<(usize, u64)> {
    let hit = |(i, e): (usize, &crate::tui::transcript::Entry)| {
        (!matches(&e.text, query).is_empty()).then_some((i, e.seq))
    };
    let entries = transcript.newest_first().enumerate();
    match (from, step) {
        (None, _) => entries.filter_map(hit).next(),
        (Some(at), Step::Older) => entries.skip(at + 1).filter_map(hit).next(),
        (Some(at), Step::Newer) => entries.take(at).filter_map(hit).last(),
    }
}

/// The position (0 = newest) of the entry with sequence number `seq`.
pub fn position(transcript: &Transcript, seq: u64) -> Option<usize> {
    transcript.newest_first().position(|e| e.seq == seq)
}

/// How many entries match, and which of them (counting from the oldest)
/// is the one at `seq`: for "2 of 5".
pub fn count(transcript: &Transcript, query: &str, seq: u64) -> (usize, usize) {
    let mut total = 0;
    let mut index = 0;
    for entry in transcript
        .newest_first()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        if !matches(&entry.text, query).is_empty() {
            total += 1;
            if entry.seq == seq {
                index = total;
            }
        }
    }
    (index, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::transcript::Kind;

    #[test]
    fn matches_ignore_case_and_respect_char_boundaries() {
        assert_eq!(matches("Pizza at 8, PIZZA!", "pizza"), [(0, 5), (12, 17)]);
        assert_eq!(matches("你好 pizza", "PIZ"), [(7, 10)]);
        assert_eq!(matches("nothing", ""), []);
        // Lowercasing İ changes its length: the case must match then.
        assert_eq!(matches("İstanbul", "stan"), [(2, 6)]);
    }

    #[test]
    fn find_steps_older_and_newer() {
        let mut t = Transcript::default();
        for text in ["pizza one", "other", "pizza two", "more", "pizza three"] {
            t.push(crate::clock::Moment(0), Kind::Notice, text.into());
        }
        let newest = find(&t, "PIZZA", None, Step::Older).unwrap();
        assert_eq!(newest, (0, 4));
        let older = find(&t, "pizza", Some(0), Step::Older).unwrap();
        assert_eq!(older, (2, 2));
        assert_eq!(find(&t, "pizza", Some(2), Step::Older), Some((4, 0)));
        assert_eq!(find(&t, "pizza", Some(4), Step::Older), None);
        assert_eq!(find(&t, "pizza", Some(4), Step::Newer), Some((2, 2)));
        assert_eq!(count(&t, "pizza", 2), (2, 3));
        assert_eq!(position(&t, 2), Some(2));
    }
}
