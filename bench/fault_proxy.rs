//! The fault-injecting proxy of the tests (`tests/common/proxy.rs`) as a program, for
//! `bench/faults.sh`: `fault_proxy UPSTREAM [--reset-percent P --seed S] [--every-nth-503 N]
//! [--stall-secs S] [--unauthorized] [--latency-ms MS]` prints `127.0.0.1:PORT` and forwards until killed.

#[allow(dead_code)]
#[path = "../tests/common/proxy.rs"]
mod proxy;

use std::time::Duration;

use proxy::{Faults, Proxy};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let upstream = args
        .next()
        .ok_or("usage: fault_proxy UPSTREAM [FAULT...]")?;
    let mut faults = Faults::default();
    let mut seed = 0;
    let mut percent = None;
    while let Some(flag) = args.next() {
        let mut value = || -> Result<u64, String> {
            let text = args.next().ok_or(format!("{flag} needs a value"))?;
            text.parse().map_err(|e| format!("{flag} {text}: {e}"))
        };
        match flag.as_str() {
            "--reset-percent" => percent = Some(u8::try_from(value()?).map_err(|e| e.to_string())?),
            "--seed" => seed = value()?,
            "--every-nth-503" => faults.unavailable_every = Some(value()? as usize),
            "--stall-secs" => faults.stall = Some(Duration::from_secs(value()?)),
            "--unauthorized" => faults.unauthorized = true,
            "--latency-ms" => faults.latency = Some(Duration::from_millis(value()?)),
            "--manifest-puts-failing" => faults.manifest_puts_failing_first = value()? as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    faults.reset_share = percent.map(|p| (p, seed));
    let proxy = Proxy::start(&upstream, faults);
    println!("{}", proxy.host);
    // Each request, as it is seen, on stderr.
    let mut shown = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let seen = proxy.seen();
        for request in &seen[shown..] {
            eprintln!("{request}");
        }
        shown = seen.len();
    }
}
