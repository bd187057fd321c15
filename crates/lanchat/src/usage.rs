//! Usage errors: the command line asked for something impossible. They
//! exit with status 2, like clap's own, so that a script can tell "you
//! called me wrong" (2) from "it did not work" (1).

use std::fmt;

/// A usage error, with the message to print.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A usage error as an `anyhow` error.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// The address to connect to for `--server` and `--port`: the port in
/// `--server` if it names one, else `--port`, else 8081. Both naming
/// different ports, or a malformed port, is a usage error.
pub fn server_address(server: &str, port: Option<u16>) -> anyhow::Result<String> {
    let (host, named) = lanchat_client::connection::parse_server(server)
        .map_err(|why| usage(format!("--server {server}: {why}")))?;
    if host.is_empty() {
        return Err(usage(format!("--server {server}: no host")));
    }
    let port = match (named, port) {
        (Some(a), Some(b)) if a != b => {
            return Err(usage(format!(
                "--server {server} names port {a} but --port says {b}; give one"
            )))
        }
        (Some(a), _) => a,
        (None, Some(b)) => b,
        (None, None) => lanchat_proto::limits::DEFAULT_PORT,
    };
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(test)]
mod tests {
    use super::server_address;

    #[test]
    fn server_and_port_combine_or_conflict() {
        let ok = |s: &str, p: Option<u16>| server_address(s, p).unwrap();
        assert_eq!(ok("127.0.0.1", None), "127.0.0.1:8081");
        assert_eq!(ok("127.0.0.1", Some(18600)), "127.0.0.1:18600");
        assert_eq!(ok("h:9000", None), "h:9000");
        assert_eq!(ok("h:9000", Some(9000)), "h:9000");
        assert_eq!(ok("::1", Some(9)), "[::1]:9");
        for (bad, port) in [
            ("h:9000", Some(9001)),
            ("127.0.0.1:abc", None),
            (":9", None),
        ] {
            assert!(server_address(bad, port).is_err(), "{bad}");
        }
    }
}
