//! The web door: the page the room serves itself (embedded in the binary,
//! nothing loaded from elsewhere), and a WebSocket over which the page
//! speaks the lanchat protocol through the lanchat door, unchanged.
//!
//! - `ws`: WebSocket frames as a byte stream (as TLS is one).
//! - `page/`: the page, its script and its style.
//!
//! A connection sends one HTTP request: a page asset (answered, then
//! closed) or the upgrade to `/ws` (whose `Origin` must be this server,
//! so another site's page cannot join on a visitor's behalf). The request
//! has the registration deadline and a size cap; every rule after the
//! upgrade is the lanchat door's.

mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::admission::Ticket;
use crate::connection::{self, Arrival, Door, Entry};

/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;

/// The headers every answer carries: no script but ours, no framing, no
/// sniffing, no referrer, no caching.
const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'none'; script-src 'self'; \
style-src 'self'; connect-src 'self'; img-src 'self'; manifest-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\n\
Referrer-Policy: no-referrer\r\n\
X-Frame-Options: DENY\r\n\
Cache-Control: no-store\r\n";

/// One embedded asset: its path, type and bytes.
struct Asset {
    path: &'static str,
    kind: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        kind: "text/html; charset=utf-8",
        body: include_str!("page/index.html"),
    },
    Asset {
        path: "/app.js",
        kind: "text/javascript; charset=utf-8",
        body: include_str!("page/app.js"),
    },
    Asset {
        path: "/app.css",
        kind: "text/css; charset=utf-8",
        body: include_str!("page/app.css"),
    },
];

/// A request head, as much of it as the door uses.
#[derive(Debug, Default, PartialEq)]
struct Request {
    method: String,
    path: String,
    host: Option<String>,
    origin: Option<String>,
    upgrade: bool,
    key: Option<String>,
    version: Option<String>,
}

/// Parses a request head (without the blank line); `None` if it is not
/// HTTP/1.1.
fn parse(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, proto) = (first.next()?, first.next()?, first.next()?);
    if !proto.starts_with("HTTP/1.") {
        return None;
    }
    let mut req = Request {
        method: method.to_owned(),
        // The query string is not ours to read.
        path: target.split('?').next().unwrap_or("/").to_owned(),
        ..Request::default()
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => req.host = Some(value),
            "origin" => req.origin = Some(value),
            "upgrade" => req.upgrade = value.eq_ignore_ascii_case("websocket"),
            "sec-websocket-key" => req.key = Some(value),
            "sec-websocket-version" => req.version = Some(value),
            _ => {}
        }
    }
    Some(req)
}

/// Whether the page that opened the WebSocket is this server's own: its
/// origin is `http://` and the host the browser asked for.
fn same_origin(req: &Request) -> bool {
    match (&req.origin, &req.host) {
        (Some(origin), Some(host)) => {
            origin.eq_ignore_ascii_case(&format!("http://{host}"))
                || origin.eq_ignore_ascii_case(&format!("https://{host}"))
        }
        _ => false,
    }
}

fn answer(status: &str, kind: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{SECURITY_HEADERS}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads the request head within `limit`: the head and what came after it.
async fn read_head(stream: &mut TcpStream) -> Option<(String, BytesMut)> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf.split_to(end + 4);
            let head = std::str::from_utf8(&head[..end]).ok()?.to_owned();
            return Some((head, buf));
        }
        if buf.len() >= MAX_HEAD {
            return None;
        }
        buf.reserve(1024);
        if stream.read_buf(&mut buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// Serves one connection to the web door.
pub(crate) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    door: Arc<Door>,
    ticket: Ticket,
) {
    let limit = door.config.register_timeout;
    let Ok(Some((head, early))) = timeout(limit, read_head(&mut stream)).await else {
        let _ = stream
            .write_all(&answer("400 Bad Request", "text/plain", "bad request\n"))
            .await;
        return;
    };
    let Some(req) = parse(&head) else {
        return;
    };
    let reply = if req.method != "GET" {
        answer("405 Method Not Allowed", "text/plain", "GET only\n")
    } else if req.path == "/ws" {
        match (&req.key, req.upgrade, req.version.as_deref()) {
            (Some(key), true, Some("13")) if same_origin(&req) => {
                let accept = ws::accept_key(key);
                let switching = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                if stream.write_all(switching.as_bytes()).await.is_err() {
                    return;
                }
                let arrival = Arrival {
                    binding: None,
                    door: Entry::Web,
                };
                let stream = ws::WsStream::new(stream, early);
                return connection::serve(stream, peer, door, ticket, arrival).await;
            }
            (Some(_), true, Some("13")) => {
                tracing::info!(%peer, origin = ?req.origin, "refused a websocket from another site");
                answer(
                    "403 Forbidden",
                    "text/plain",
                    "only this room's own page may connect\n",
                )
            }
            _ => answer(
                "400 Bad Request",
                "text/plain",
                "a websocket upgrade was expected\n",
            ),
        }
    } else {
        let path = if req.path == "/index.html" {
            "/"
        } else {
            &req.path
        };
        match ASSETS.iter().find(|a| a.path == path) {
            Some(asset) => answer("200 OK", asset.kind, asset.body),
            None => answer("404 Not Found", "text/plain", "not found\n"),
        }
    };
    let _ = timeout(limit, stream.write_all(&reply)).await;
    let _ = stream.shutdown().await;
}

/// Turns a connection away before reading it (a full room, another
/// network), saying why, without waiting.
pub(crate) fn refuse(stream: TcpStream, reason: &str) {
    let _ = stream.try_write(&answer(
        "503 Service Unavailable",
        "text/plain",
        &format!("{reason}\n"),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_and_origins_checked() {
        let head =
            "GET /ws?x=1 HTTP/1.1\r\nHost: 127.0.0.5:8082\r\nOrigin: http://127.0.0.5:8082\r\n\
                    Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\n\
                    Sec-WebSocket-Version: 13";
        let req = parse(head).unwrap();
        assert_eq!(req.path, "/ws");
        assert!(req.upgrade && same_origin(&req));
        let evil = Request {
            origin: Some("http://evil.example".into()),
            ..parse(head).unwrap()
        };
        assert!(!same_origin(&evil));
        let none = Request {
            origin: None,
            ..parse(head).unwrap()
        };
        assert!(!same_origin(&none));
        assert_eq!(parse("SSH-2.0-OpenSSH"), None);
    }

    #[test]
    fn every_answer_carries_the_security_headers() {
        let page = String::from_utf8(answer("200 OK", "text/html", "<p>")).unwrap();
        assert!(page.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"));
        assert!(page.contains("X-Content-Type-Options: nosniff"));
        assert!(!page.to_ascii_lowercase().contains("set-cookie"));
        // The page has no inline script or style for the policy to allow.
        let html = ASSETS[0].body;
        assert!(
            !html.contains("<script>") && !html.contains(" onclick=") && !html.contains("style=")
        );
    }
}
