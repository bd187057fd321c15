//! Numbers both ends agree on. Changing one of these is a protocol change.

/// The protocol version this build speaks; carried in the greeting.
pub const PROTOCOL_VERSION: u32 = 1;

/// The TCP port a server listens on unless told otherwise (the original
/// design's port).
pub const DEFAULT_PORT: u16 = 8081;

/// The largest frame either side accepts, including the trailing newline.
/// A peer that sends more without a newline is cut off, so a connection's
/// read buffer can never grow past this.
pub const MAX_FRAME_LEN: usize = 16 * 1024;

/// The largest chat message, in bytes of UTF-8, after the command prefix is
/// removed. Longer input is refused with an error, never truncated.
pub const MAX_TEXT_LEN: usize = 4096;

/// The longest the greeting line may be. A client probing an unknown port
/// reads at most this many bytes before giving up on it.
pub const MAX_GREETING_LEN: usize = 1024;

/// The protocol revision this build speaks, carried in the greeting beside
/// [`PROTOCOL_VERSION`]. Revisions only add (fields with defaults, frame
/// types that older peers ignore), so a revision 1 client works with a
/// revision 2 server unchanged; [`PROTOCOL_VERSION`] changes only on a
/// break.
pub const PROTOCOL_REVISION: u32 = 2;

/// The longest label a client may put on a request, in bytes.
pub const MAX_LABEL_LEN: usize = 64;

/// What a revision 2 server offers, in the welcome's `caps`: event ids and
/// times, labels echoed, structured request frames, user lists split over
/// several frames, the earlier conversation on joining, and resuming after
/// a connection loss.
pub const SERVER_CAPS: &[&str] = &[
    "stamps",
    "labels",
    "structured",
    "split_users",
    "history",
    "resume",
];
