//! Entering and leaving the full-screen terminal mode, in one place.
//!
//! The terminal is restored (raw mode off, main screen back, mouse,
//! focus reports and bracketed paste off, cursor shown, window title
//! back) when the [`TerminalGuard`] drops,
//! which covers `/x`, errors and server loss, and by a panic hook, which
//! covers bugs. Ctrl-C arrives as a key in raw mode; SIGTERM and SIGHUP are
//! handled by the runner, which then returns normally.

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// The terminal type the TUI draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
#[derive(Debug)]
pub struct TerminalGuard(());

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Switches the terminal to full-screen raw mode.
pub fn enter() -> io::Result<(Tui, TerminalGuard)> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
    enable_raw_mode()?;
    let guard = TerminalGuard(());
    // The window title is pushed on the terminal's title stack (xterm's
    // CSI 22 t) and popped on the way out, so the title is restored.
    let mut out = io::stdout();
    let _ = out.write_all(PUSH_TITLE);
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture,
        EnableFocusChange
    )?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// Puts the terminal back as we found it. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableFocusChange,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let mut out = io::stdout();
    let _ = out.write_all(POP_TITLE);
    let _ = out.flush();
}

/// Saves the window title on the terminal's title stack.
const PUSH_TITLE: &[u8] = b"\x1b[22;0t";

/// Restores the saved window title.
const POP_TITLE: &[u8] = b"\x1b[23;0t";

/// Turns mouse capture on (the wheel scrolls) or off (select mode: the
/// terminal's own selection works).
pub fn mouse_capture(on: bool) {
    let _ = if on {
        execute!(io::stdout(), EnableMouseCapture)
    } else {
        execute!(io::stdout(), DisableMouseCapture)
    };
}

/// Sets the window title (the text is the app's own: the room's name is
/// made inert when it arrives).
pub fn set_title(title: &str) {
    let _ = execute!(io::stdout(), crossterm::terminal::SetTitle(title));
}
