//! A test server and a raw-frame test client.

use std::net::SocketAddr;
use std::time::Duration;

use lanchat_proto::{encode, ClientFrame, Greeting, LeaveReason, LineDecoder, ServerFrame};
use lanchat_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound on any single wait, so a broken server fails a test instead
/// of hanging it. Not a performance threshold.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    /// The IRC door.
    pub irc: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::with_store(tweak, None).await
    }

    /// A server that keeps its history in `store`.
    pub async fn with_store(
        tweak: impl FnOnce(&mut Config),
        store: Option<lanchat_server::store::Store>,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let irc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let irc_addr = irc.local_addr().unwrap();
        let listeners = lanchat_server::Listeners {
            lanchat: listener,
            irc: Some(irc),
            irc_tls: None,
            web: None,
        };
        let mut config = Config::new("lab", "testhost");
        // Tests connect from one address many times a second; the connect
        // rate has tests of its own, which turn it back on.
        config.max_connects_per_minute = 0;
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(lanchat_server::run_doors(listeners, config, store, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            irc: irc_addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for `run` to return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task)
                .await
                .expect("server did not stop")
                .unwrap();
        }
    }

    /// A connected client that has read the greeting.
    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    /// A client that has joined as `name` and read its welcome.
    pub async fn join(&self, name: &str) -> Client {
        let mut c = self.connect().await;
        c.send(&join(name)).await;
        match c.recv().await {
            ServerFrame::Welcome { .. } => c,
            other => panic!("{name} expected a welcome, got {other:?}"),
        }
    }
}

impl TestServer {
    /// Alice and bob in the room, alice having seen bob arrive.
    pub async fn alice_and_bob(&self) -> (Client, Client) {
        let mut alice = self.join("alice").await;
        let bob = self.join("bob").await;
        let _ = alice.recv().await;
        (alice, bob)
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: bytes::BytesMut,
    decoder: LineDecoder,
    pub greeting: Greeting,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            stream,
            buf: bytes::BytesMut::new(),
            decoder: LineDecoder::default(),
            greeting: Greeting::new("", ""),
        };
        let line = c.recv_line().await.expect("greeting");
        c.greeting = Greeting::parse(&line).expect("a valid greeting");
        c
    }

    /// Reads the greeting on a raw stream and reports whether the server
    /// admitted us (a refused connection gets the greeting and a bye).
    pub async fn admitted(stream: &mut TcpStream) -> bool {
        let mut buf = bytes::BytesMut::new();
        let mut decoder = LineDecoder::default();
        let mut lines = Vec::new();
        while lines.len() < 2 {
            if let Some(line) = decoder.next_line(&mut buf).unwrap() {
                lines.push(line);
                continue;
            }
            let read = tokio::time::timeout(Duration::from_millis(50), stream.read_buf(&mut buf));
            match read.await {
                Ok(Ok(0)) => break,
                Ok(Ok(_)) => {}
                Ok(Err(_)) => break,
                // Nothing more within a moment: admitted, waiting for a join.
                Err(_) => break,
            }
        }
        let greeting = lines.first().map(|l| Greeting::parse(l));
        assert!(matches!(greeting, Some(Ok(_))), "{greeting:?}");
        match lines.get(1) {
            Some(bye) => {
                let frame: ServerFrame = lanchat_proto::codec::decode(bye).expect("a frame");
                assert!(matches!(frame, ServerFrame::Bye { .. }), "{frame:?}");
                false
            }
            None => true,
        }
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.stream
            .write_all(&encode(frame).unwrap())
            .await
            .unwrap();
    }

    pub async fn say(&mut self, text: &str) {
        self.send(&ClientFrame::Input {
            text: text.into(),
            label: None,
        })
        .await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The server may already have closed on us; that is fine here.
        let _ = self.stream.write_all(bytes).await;
    }

    async fn recv_line(&mut self) -> Option<Vec<u8>> {
        read_line(&mut self.stream, &mut self.buf, &mut self.decoder).await
    }

    /// The next line as raw JSON, pings included, or `None` once the
    /// server closed the connection.
    pub async fn try_recv_json(&mut self) -> Option<serde_json::Value> {
        let line = self.recv_line().await?;
        Some(serde_json::from_slice(&line).expect("a JSON line"))
    }

    /// The next frame, or `None` once the server closed the connection.
    pub async fn try_recv(&mut self) -> Option<ServerFrame> {
        let line = self.recv_line().await?;
        Some(lanchat_proto::codec::decode(&line).expect("a valid frame"))
    }

    /// The next frame other than a ping, as it came; panics if the
    /// connection closed.
    pub async fn recv_stamped(&mut self) -> ServerFrame {
        loop {
            match self.try_recv().await {
                Some(ServerFrame::Ping { .. }) => continue,
                Some(frame) => return frame,
                None => panic!("connection closed"),
            }
        }
    }

    /// The next frame other than a ping, without its id, time and label
    /// (what it says); panics if the connection closed.
    pub async fn recv(&mut self) -> ServerFrame {
        self.recv_stamped().await.unstamped()
    }

    /// Resets the connection (SO_LINGER 0 sends RST, like a killed process
    /// whose kernel tears the socket down).
    pub fn reset(self) {
        #[allow(deprecated)] // Blocking on drop is what we want: an immediate RST.
        self.stream.set_linger(Some(Duration::ZERO)).unwrap();
    }

    /// Asserts the next frame announces `name` leaving for `reason`.
    pub async fn expect_left(&mut self, name: &str, reason: LeaveReason) {
        let want = ServerFrame::Left {
            id: 0,
            ts: String::new(),
            name: name.into(),
            reason,
        };
        assert_eq!(self.recv().await, want);
    }

    /// Asks `/list` and asserts the answer.
    pub async fn expect_users(&mut self, users: &[&str]) {
        self.say("/list").await;
        let want = ServerFrame::Users {
            more: false,
            label: None,
            users: users.iter().map(|u| u.to_string()).collect(),
        };
        assert_eq!(self.recv().await, want);
    }

    /// Reads until the server closes; returns what came before.
    pub async fn until_closed(&mut self) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while let Some(f) = self.try_recv().await {
            frames.push(f.unstamped());
        }
        frames
    }
}

/// The next line from `stream` (buffered in `buf`), or `None` once the
/// server closed the connection.
pub async fn read_line(
    stream: &mut TcpStream,
    buf: &mut bytes::BytesMut,
    decoder: &mut LineDecoder,
) -> Option<Vec<u8>> {
    loop {
        if let Some(line) = decoder.next_line(buf).unwrap() {
            return Some(line.to_vec());
        }
        let n = tokio::time::timeout(PATIENCE, stream.read_buf(buf))
            .await
            .expect("timed out waiting for the server")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
    }
}

pub fn message(from: &str, text: &str) -> ServerFrame {
    ServerFrame::Message {
        id: 0,
        ts: String::new(),
        action: false,
        label: None,
        from: from.into(),
        text: text.into(),
    }
}

/// A `join` frame for `name` with the capabilities the lanchat client
/// announces, and no label.
pub fn join(name: impl Into<String>) -> ClientFrame {
    ClientFrame::Join {
        name: name.into(),
        caps: ["stamps", "labels", "split_users"]
            .map(String::from)
            .to_vec(),
        label: None,
    }
}

/// A `join` frame for `name` with the lanchat client's capabilities and
/// `extra` ones.
pub fn join_with(name: &str, extra: &[&str]) -> ClientFrame {
    let ClientFrame::Join {
        name,
        mut caps,
        label,
    } = join(name)
    else {
        unreachable!("join makes a join frame")
    };
    caps.extend(extra.iter().map(|c| (*c).to_owned()));
    ClientFrame::Join { name, caps, label }
}

/// A goodbye as the server sends it.
pub fn bye(code: &str, reason: &str) -> ServerFrame {
    ServerFrame::Bye {
        code: code.into(),
        reason: reason.into(),
    }
}
