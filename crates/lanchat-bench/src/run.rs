//! One benchmark run: join every client, start the senders together, count
//! and time every delivery, and stop when all arrived or time is up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Mutex, Notify};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::proc_stats;
use crate::protocol::{self, parse_payload};
use crate::report::Report;
use crate::{Args, Proto};

/// What all clients share.
struct Shared {
    epoch: Instant,
    clients: usize,
    /// `acked[s * clients + r]`: the highest sequence number from sender
    /// `s` that receiver `r` has seen.
    acked: Vec<AtomicU64>,
    /// Whether sender `s` is waiting for its window to open.
    waiting: Vec<AtomicBool>,
    wake: Vec<Notify>,
    received: AtomicU64,
    all_received: Notify,
    expected: u64,
}

/// What one client reports at the end.
#[derive(Default)]
struct ClientResult {
    received: u64,
    latencies_us: Vec<u32>,
}

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let server_pid = args.server_pid.map(|p| p.to_string());
    let rss_before = server_pid.as_deref().and_then(proc_stats::rss_kb);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.max_secs);
    let expected = args.senders as u64 * args.messages * (args.clients as u64 - 1);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        clients: args.clients,
        acked: (0..args.senders * args.clients)
            .map(|_| AtomicU64::new(0))
            .collect(),
        waiting: (0..args.senders).map(|_| AtomicBool::new(false)).collect(),
        wake: (0..args.senders).map(|_| Notify::new()).collect(),
        received: AtomicU64::new(0),
        all_received: Notify::new(),
        expected,
    });

    // Join everyone, a batch at a time. Each client starts reading as soon
    // as it is in, so the announcements of later joins never pile up.
    let (go, start) = watch::channel(false);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for first in (0..args.clients).step_by(args.connect_batch.max(1)) {
        let last = (first + args.connect_batch.max(1)).min(args.clients);
        let mut batch = JoinSet::new();
        for i in first..last {
            let a = args.clone();
            batch.spawn(async move { (i, join(&a, i).await) });
        }
        // The deadline bounds the wait for each join, not a finished value;
        // dropping `batch` on the way out aborts the joins still going.
        while let Some(done) = timeout_at(deadline, batch.join_next())
            .await
            .context("joining took longer than --max-secs")?
        {
            let (i, conn) = done?;
            let conn = conn.with_context(|| format!("client {i} could not join"))?;
            let client = Client {
                args,
                i,
                shared: &shared,
                stopped: &stopped,
                start: &start,
                deadline,
            };
            match conn {
                Conn::Plain(stream) => {
                    let (read, write) = stream.into_split();
                    client.spawn(&mut tasks, read, write);
                }
                Conn::Tls(stream) => {
                    let (read, write) = tokio::io::split(*stream);
                    client.spawn(&mut tasks, read, write);
                }
                Conn::Ws(stream) => {
                    let (read, write) = tokio::io::split(*stream);
                    client.spawn(&mut tasks, read, write);
                }
            }
        }
    }
    let joined_at = Instant::now();
    // Let the joins' announcements drain before measuring idle memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server_pid.as_deref().and_then(proc_stats::rss_kb);
    let cpu_before = server_pid.as_deref().and_then(proc_stats::cpu_time);
    let own_before = proc_stats::cpu_time("self");
    let machine_before = proc_stats::machine_jiffies();

    let send_start = Instant::now();
    let _ = go.send(true);
    let all = shared.all_received.notified();
    let timed_out = if expected == 0 {
        false
    } else {
        tokio::select! {
            _ = all => false,
            _ = sleep_until(deadline) => true,
        }
    };
    let wall = send_start.elapsed();
    let cpu_after = server_pid.as_deref().and_then(proc_stats::cpu_time);
    let own_after = proc_stats::cpu_time("self");
    let machine_after = proc_stats::machine_jiffies();
    let rss_end = server_pid.as_deref().and_then(proc_stats::rss_kb);
    let _ = stop.send(true);
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(r)) = done {
            results.push(r);
        }
    }
    let received: u64 = results.iter().map(|r| r.received).sum();
    let mut latencies: Vec<u32> = results.into_iter().flat_map(|r| r.latencies_us).collect();
    latencies.sort_unstable();
    Ok(Report {
        expected,
        received,
        lost: expected.saturating_sub(received),
        timed_out,
        join_secs: joined_at.duration_since(started).as_secs_f64(),
        wall_secs: wall.as_secs_f64(),
        latencies_us: latencies,
        server_cpu: cpu_before.zip(cpu_after).map(|(a, b)| b.saturating_sub(a)),
        own_cpu: own_before.zip(own_after).map(|(a, b)| b.saturating_sub(a)),
        machine_busy: machine_before
            .zip(machine_after)
            .map(|((b0, t0), (b1, t1))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64),
        rss_before_kb: rss_before,
        rss_idle_kb: rss_idle,
        rss_end_kb: rss_end,
    })
}

/// A client's connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Ws(Box<crate::ws::Client>),
}

/// What a joined client's tasks are started with.
struct Client<'a> {
    args: &'a Args,
    i: usize,
    shared: &'a Arc<Shared>,
    stopped: &'a watch::Receiver<bool>,
    start: &'a watch::Receiver<bool>,
    deadline: Instant,
}

impl Client<'_> {
    /// Starts the client's reader and, for a sender, its writer.
    fn spawn<R, W>(self, tasks: &mut JoinSet<Option<ClientResult>>, read: R, write: W)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let write = Arc::new(Mutex::new(write));
        tasks.spawn(receive(
            self.args.proto,
            self.i,
            read,
            write.clone(),
            self.shared.clone(),
            self.stopped.clone(),
        ));
        if self.i < self.args.senders {
            tasks.spawn(send(
                self.args.clone(),
                self.i,
                write,
                self.shared.clone(),
                self.start.clone(),
                self.deadline,
            ));
        }
    }
}

/// Connects client `i` (with TLS if asked) and logs in; returns the
/// connection once in the room.
async fn join(args: &Args, i: usize) -> anyhow::Result<Conn> {
    let stream = TcpStream::connect(args.server).await?;
    stream.set_nodelay(true)?;
    if args.proto == Proto::Ws {
        let mut stream = crate::ws::upgrade(stream, &args.server.to_string()).await?;
        login(args, i, &mut stream).await?;
        return Ok(Conn::Ws(Box::new(stream)));
    }
    if !args.tls {
        let mut stream = stream;
        login(args, i, &mut stream).await?;
        return Ok(Conn::Plain(stream));
    }
    let connector = lanchat_client::tls::connector()?;
    let name = lanchat_client::tls::server_name();
    let mut stream = connector.connect(name, stream).await?;
    login(args, i, &mut stream).await?;
    Ok(Conn::Tls(Box::new(stream)))
}

/// Logs client `i` in on `stream` and waits until it is in the room.
async fn login(
    args: &Args,
    i: usize,
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let name = format!("b{i}");
    stream
        .write_all(&protocol::login(args.proto, &name, args.stamps))
        .await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!(
                "the server closed the connection: {}",
                String::from_utf8_lossy(&buf)
            );
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut replies = Vec::new();
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in buf[..complete].split(|&b| b == b'\n') {
            if let Some(pong) = protocol::pong(args.proto, line) {
                replies.extend_from_slice(&pong);
            }
            if let Some(join) = protocol::after_registration(args.proto, line, &args.channel) {
                replies.extend_from_slice(&join);
            }
            if protocol::is_refusal(args.proto, line) {
                bail!(
                    "refused: {} (raise the server's connection limits)",
                    String::from_utf8_lossy(line)
                );
            }
            if protocol::is_in(args.proto, line) {
                return Ok(());
            }
        }
        buf.drain(..complete);
        if !replies.is_empty() {
            stream.write_all(&replies).await?;
            stream.flush().await?;
        }
        if buf.len() > 1 << 20 {
            bail!("no welcome in the first MiB");
        }
    }
}

/// Sends `-m` messages, paced by `-r` and held back by the window `-w`.
async fn send(
    args: Args,
    s: usize,
    write: Arc<Mutex<impl AsyncWrite + Unpin>>,
    shared: Arc<Shared>,
    mut start: watch::Receiver<bool>,
    deadline: Instant,
) -> Option<ClientResult> {
    while !*start.borrow() {
        start.changed().await.ok()?;
    }
    let period =
        (args.rate > 0.0).then(|| Duration::from_secs_f64(args.senders as f64 / args.rate));
    let began = Instant::now();
    let mut line = Vec::with_capacity(args.size + 64);
    let mut min_acked = 0u64;
    for seq in 1..=args.messages {
        if let Some(period) = period {
            sleep_until(began + period * (seq - 1) as u32).await;
        }
        if args.window > 0 {
            while seq > min_acked + args.window {
                min_acked = slowest(&shared, s);
                if seq <= min_acked + args.window {
                    break;
                }
                shared.waiting[s].store(true, Ordering::SeqCst);
                let woken = shared.wake[s].notified();
                min_acked = slowest(&shared, s);
                if seq > min_acked + args.window {
                    tokio::select! {
                        _ = woken => {}
                        _ = sleep_until(deadline) => return None,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                }
                shared.waiting[s].store(false, Ordering::SeqCst);
            }
        }
        let sent_ns = shared.epoch.elapsed().as_nanos() as u64;
        protocol::message(
            args.proto,
            &protocol::payload(s, seq, sent_ns, args.size),
            &args.channel,
            &mut line,
        );
        // Flushed: TLS may keep records it could not send yet (a no-op on
        // plain TCP).
        let mut write = write.lock().await;
        if write.write_all(&line).await.is_err() || write.flush().await.is_err() {
            return None;
        }
    }
    None
}

/// The lowest sequence number from sender `s` seen by every other client.
fn slowest(shared: &Shared, s: usize) -> u64 {
    let row = &shared.acked[s * shared.clients..(s + 1) * shared.clients];
    row.iter()
        .enumerate()
        .filter(|(r, _)| *r != s)
        .map(|(_, a)| a.load(Ordering::Acquire))
        .min()
        .unwrap_or(u64::MAX)
}

/// Reads until the run ends, counting and timing deliveries.
async fn receive(
    proto: Proto,
    r: usize,
    mut read: impl AsyncRead + Unpin,
    write: Arc<Mutex<impl AsyncWrite + Unpin>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Option<ClientResult> {
    let mut result = ClientResult::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let mut latest = vec![0u64; shared.waiting.len()];
    loop {
        let n = tokio::select! {
            n = read.read(&mut buf[filled..]) => match n {
                Ok(n) => n,
                Err(_) => return Some(result),
            },
            _ = stop.changed() => return Some(result),
        };
        if n == 0 {
            return Some(result);
        }
        filled += n;
        let mut consumed = 0;
        // Shared counters are updated once per read, not per delivery, so
        // the generator's receivers do not fight over cache lines.
        let mut fresh = 0u64;
        latest.iter_mut().for_each(|l| *l = 0);
        // One clock read per read() call: every line in it arrived together.
        let now_ns = shared.epoch.elapsed().as_nanos() as u64;
        while let Some(end) = memchr::memchr(b'\n', &buf[consumed..filled]) {
            let line = &buf[consumed..consumed + end];
            consumed += end + 1;
            if let Some(p) = protocol::delivered(proto, line) {
                let Some((s, seq, sent_ns)) = parse_payload(p) else {
                    continue;
                };
                if s == r || s >= latest.len() {
                    continue; // our own echo (lanchat) is a receipt, not a delivery
                }
                result
                    .latencies_us
                    .push((now_ns.saturating_sub(sent_ns) / 1000) as u32);
                fresh += 1;
                latest[s] = latest[s].max(seq);
            } else if let Some(reply) = protocol::pong(proto, line) {
                let mut write = write.lock().await;
                let _ = write.write_all(&reply).await;
                let _ = write.flush().await;
            }
        }
        if fresh > 0 {
            result.received += fresh;
            for (s, &seq) in latest.iter().enumerate().filter(|(_, seq)| **seq > 0) {
                shared.acked[s * shared.clients + r].store(seq, Ordering::Release);
                if shared.waiting[s].load(Ordering::SeqCst) {
                    shared.wake[s].notify_one();
                }
            }
            let total = shared.received.fetch_add(fresh, Ordering::AcqRel) + fresh;
            if total == shared.expected {
                shared.all_received.notify_one();
            }
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
}
