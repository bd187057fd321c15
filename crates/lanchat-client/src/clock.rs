//! Times as people read them: an event's time (the server's, or when it
//! arrived) in the local time zone, in a strftime format the user may
//! choose (`--timestamps`).

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, Utc};

/// How times are shown unless the user chose otherwise.
pub const DEFAULT_FORMAT: &str = "%H:%M";

/// The full form, shown on demand (Alt-T in the TUI).
pub const FULL_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f %:z";

/// A moment, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Moment(pub i64);

impl Moment {
    pub fn now() -> Moment {
        Moment(Utc::now().timestamp_millis())
    }

    /// A server's `ts` (RFC 3339), if it is one.
    pub fn from_ts(ts: &str) -> Option<Moment> {
        let ms = lanchat_proto::time::parse_ms(ts)?;
        i64::try_from(ms).ok().map(Moment)
    }

    /// This moment at `offset` from UTC.
    pub fn at(self, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
        DateTime::from_timestamp_millis(self.0).map(|t| t.with_timezone(&offset))
    }
}

/// This machine's offset from UTC now.
pub fn local_offset() -> FixedOffset {
    *chrono::Local::now().offset()
}

/// Why `format` cannot be used, if it cannot.
pub fn check_format(format: &str) -> Result<(), String> {
    if format.len() > 64 {
        return Err("a time format is at most 64 bytes".into());
    }
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "'{format}' is not a time format (use strftime fields such as %H:%M:%S)"
        ));
    }
    Ok(())
}

/// `moment` at `offset`, in `format`; `?` where it cannot be shown.
pub fn show(moment: Moment, offset: FixedOffset, format: &str) -> String {
    let mut out = String::new();
    match moment.at(offset) {
        // `write!` rather than `to_string`: a bad format is an error here,
        // not a panic.
        Some(t) if write!(out, "{}", t.format(format)).is_ok() => out,
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOMENT: Moment = Moment(1_795_767_861_123); // 2026-11-27T08:24:21.123Z

    #[test]
    fn formats_in_the_given_zone_and_format() {
        let utc = FixedOffset::east_opt(0).unwrap();
        let paris = FixedOffset::east_opt(3600).unwrap();
        assert_eq!(show(MOMENT, utc, DEFAULT_FORMAT), "08:24");
        assert_eq!(show(MOMENT, paris, "%H:%M:%S"), "09:24:21");
        assert_eq!(
            show(MOMENT, utc, FULL_FORMAT),
            "2026-11-27 08:24:21.123 +00:00"
        );
    }

    #[test]
    fn a_bad_format_is_refused_and_never_panics() {
        assert!(check_format("%H:%M:%S").is_ok());
        assert!(check_format("[%H:%M]").is_ok());
        assert!(check_format("%Q").is_err());
        assert!(check_format(&"%H".repeat(40)).is_err());
        let utc = FixedOffset::east_opt(0).unwrap();
        assert_eq!(show(MOMENT, utc, "%Q"), "?");
    }

    #[test]
    fn server_times_are_read() {
        assert_eq!(Moment::from_ts("2026-11-27T08:24:21.123Z"), Some(MOMENT));
        assert_eq!(Moment::from_ts("yesterday"), None);
    }
}
