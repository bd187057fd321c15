//! `lanchat discover`: list the rooms on the LAN, and the discovery options
//! shared with `join`.

use std::process::ExitCode;
use std::time::Duration;

use lanchat_client::trust::Standing;
use lanchat_client::Trust;
use lanchat_discovery::{discover, Found, Options, Via};
use lanchat_proto::Fingerprint;

use crate::cli::{DiscoverArgs, DiscoverCmd, ViaArg};

/// How long `discover` keeps listening after the first room: every other
/// room on the LAN answers the same query within milliseconds (UDP) or
/// well under a second (mDNS).
const LISTING_SETTLE: Duration = Duration::from_secs(1);

pub async fn run(cmd: DiscoverCmd) -> anyhow::Result<ExitCode> {
    let settle = if cmd.first {
        Duration::ZERO
    } else {
        LISTING_SETTLE
    };
    let options = options(&cmd.search, Some(settle));
    let trust = Trust::default();
    let report = discover(&options, |f| println!("{}", line(f, &trust))).await;
    if report.found.is_empty() {
        eprintln!("lanchat: {}", report.diagnosis(cmd.search.port()));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Discovery options from the command line; `settle` stops soon after the
/// first room (for joining) instead of listening until the timeout.
pub fn options(args: &DiscoverArgs, settle: Option<Duration>) -> Options {
    Options {
        port: args.port(),
        scan_ranges: args.scan_range.clone(),
        via: args
            .via
            .iter()
            .map(|v| match v {
                ViaArg::Udp => Via::Udp,
                ViaArg::Mdns => Via::Mdns,
                ViaArg::Scan => Via::Scan,
            })
            .collect(),
        timeout: Duration::from_millis(args.timeout),
        include_virtual: args.include_virtual,
        settle,
        ..Options::default()
    }
}

/// One room as one line: name, address, how it was found and how fast,
/// and its key as the answer gave it, marked if `known_rooms` pins it (or
/// pins another key for it).
pub fn line(f: &Found, trust: &Trust) -> String {
    let key = match f.fingerprint.as_deref().and_then(Fingerprint::parse) {
        Some(fp) => {
            let mark = match trust.standing(&f.addr.to_string(), &f.room, &fp) {
                Standing::Pinned => " (pinned)",
                Standing::Moved => " (pinned key, new address: checked on joining)",
                Standing::Differs => " (NOT the pinned key: joining it will be refused)",
                Standing::New => " (new)",
            };
            format!("  key {}{mark}", fp.spoken())
        }
        None => "  no key announced".to_owned(),
    };
    format!(
        "{}  {}  via {}  {:.1} ms  (server {}){key}",
        lanchat_client::display::inert(&f.room),
        f.addr,
        f.via,
        f.after.as_secs_f64() * 1000.0,
        lanchat_client::display::inert(&f.server),
    )
}
