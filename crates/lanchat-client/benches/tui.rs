//! How much CPU the terminal UI spends per incoming message and per frame,
//! with a full 10,000-line scrollback: the numbers behind "typing stays
//! responsive while 500 messages a second arrive".
//!
//! Run with `cargo bench -p lanchat-client --bench tui`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use divan::Bencher;
use lanchat_client::tui::{ui, App, Event};
use lanchat_proto::ServerFrame;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn main() {
    divan::main();
}

fn message(i: usize) -> Event {
    Event::Server(ServerFrame::Message {
        id: 0,
        ts: String::new(),
        action: false,
        label: None,
        from: format!("user{}", i % 40),
        text: format!("message number {i}: the quick brown fox jumps over the lazy dog 🦊 狐狸"),
    })
}

/// A room with a full scrollback.
fn full_room() -> App {
    let mut app = App::new();
    app.handle(
        Event::Server(ServerFrame::Welcome {
            more: false,
            caps: vec![],
            limits: None,
            label: None,
            name: "me".into(),
            room: "bench".into(),
            users: (0..40).map(|i| format!("user{i}")).collect(),
        }),
        lanchat_client::clock::Moment(0),
    );
    for i in 0..10_000 {
        app.handle(message(i), lanchat_client::clock::Moment(0));
    }
    app
}

/// One incoming message applied to the state (at 500 a second, this is
/// the per-message cost).
#[divan::bench]
fn apply_one_message(bencher: Bencher) {
    let mut app = full_room();
    let mut i = 0;
    bencher.bench_local(|| {
        i += 1;
        app.handle(message(i), lanchat_client::clock::Moment(0))
    });
}

/// One keystroke in the input line.
#[divan::bench]
fn apply_one_keystroke(bencher: Bencher) {
    let mut app = full_room();
    bencher.bench_local(|| {
        app.handle(
            Event::Key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)),
            lanchat_client::clock::Moment(0),
        )
    });
}

/// One whole frame drawn (at most 60 a second, however fast messages come).
#[divan::bench(args = [(80, 24), (200, 60)])]
fn draw_one_frame(bencher: Bencher, (width, height): (u16, u16)) {
    let app = full_room();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    bencher.bench_local(|| terminal.draw(|f| ui::render(&app, f)).map(|_| ()));
}
