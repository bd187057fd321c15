//! What a run measured, printed for people and, on the last line, as one
//! JSON object for scripts.

use std::time::Duration;

use serde_json::json;

use crate::Args;

pub struct Report {
    pub expected: u64,
    pub received: u64,
    pub lost: u64,
    pub timed_out: bool,
    pub join_secs: f64,
    pub wall_secs: f64,
    /// Sorted.
    pub latencies_us: Vec<u32>,
    pub server_cpu: Option<Duration>,
    pub own_cpu: Option<Duration>,
    /// Busy fraction of all cores during the sending phase.
    pub machine_busy: Option<f64>,
    pub rss_before_kb: Option<u64>,
    pub rss_idle_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
}

impl Report {
    fn percentile(&self, p: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[i]
    }

    pub fn print(&self, args: &Args) {
        let rate = self.received as f64 / self.wall_secs.max(1e-9);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let per_delivery_us = self
            .server_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.received.max(1) as f64);
        let idle_kb_per_client = self
            .rss_before_kb
            .zip(self.rss_idle_kb)
            .map(|(before, idle)| idle.saturating_sub(before) as f64 / args.clients as f64);
        println!(
            "{:?} on {}: {} clients, {} senders x {} messages of {} B, rate {}, window {}",
            args.proto,
            args.server,
            args.clients,
            args.senders,
            args.messages,
            args.size,
            if args.rate > 0.0 {
                format!("{}/s", args.rate)
            } else {
                "max".into()
            },
            args.window
        );
        println!(
            "joined in {:.2} s; sending phase {:.3} s",
            self.join_secs, self.wall_secs
        );
        println!(
            "deliveries: {} expected, {} received, {} lost{}",
            self.expected,
            self.received,
            self.lost,
            if self.timed_out {
                " (hit --max-secs)"
            } else {
                ""
            }
        );
        println!("throughput: {:.0} deliveries/s", rate);
        println!(
            "latency: p50 {} us, p90 {} us, p99 {} us, max {} us",
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.latencies_us.last().copied().unwrap_or(0)
        );
        if let (Some(cpu), Some(per)) = (self.server_cpu, per_delivery_us) {
            println!(
                "server CPU: {:.2} s, {:.3} us per delivery",
                cpu.as_secs_f64(),
                per
            );
        }
        if let (Some(before), Some(idle), Some(end)) =
            (self.rss_before_kb, self.rss_idle_kb, self.rss_end_kb)
        {
            println!(
                "server RSS: {before} kB empty, {idle} kB with {} idle clients ({:.2} kB each), {end} kB at the end",
                args.clients,
                idle_kb_per_client.unwrap_or(0.0)
            );
        }
        if let Some(own) = self.own_cpu {
            let share = own.as_secs_f64() / self.wall_secs.max(1e-9) / cores;
            println!(
                "generator CPU: {:.2} s ({:.0}% of the machine){}",
                own.as_secs_f64(),
                share * 100.0,
                if share > 0.45 {
                    " <- the generator may be the bottleneck"
                } else {
                    ""
                }
            );
        }
        if let Some(busy) = self.machine_busy {
            println!("machine busy: {:.0}% of {} cores", busy * 100.0, cores);
        }
        let summary = json!({
            "proto": format!("{:?}", args.proto).to_lowercase(),
            "clients": args.clients,
            "senders": args.senders,
            "messages": args.messages,
            "size": args.size,
            "window": args.window,
            "rate": args.rate,
            "expected": self.expected,
            "received": self.received,
            "lost": self.lost,
            "timed_out": self.timed_out,
            "wall_s": self.wall_secs,
            "deliveries_per_s": rate,
            "latency_us": {
                "p50": self.percentile(0.50),
                "p90": self.percentile(0.90),
                "p99": self.percentile(0.99),
                "max": self.latencies_us.last().copied().unwrap_or(0),
            },
            "server": {
                "cpu_s": self.server_cpu.map(|c| c.as_secs_f64()),
                "cpu_us_per_delivery": per_delivery_us,
                "rss_kb_empty": self.rss_before_kb,
                "rss_kb_idle": self.rss_idle_kb,
                "idle_kb_per_client": idle_kb_per_client,
            },
            "generator_cpu_s": self.own_cpu.map(|c| c.as_secs_f64()),
            "machine_busy": self.machine_busy,
        });
        println!("{summary}");
    }
}
