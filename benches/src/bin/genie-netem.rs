//! `genie-netem`: a user-space link emulator for the network benchmark suite.
//!
//! This kernel is built without `sch_netem`, so `tc` can limit rate but
//! cannot add delay. `genie-netem` joins two network namespaces with a pair of
//! TUN devices and forwards every IP packet between them itself, holding each
//! one for the configured one-way delay plus its serialization time at the
//! configured rate (netem's model: a FIFO link that is busy while it sends).
//!
//! ```text
//! genie-netem --a gn-cli:gn-t0 --b gn-srv:gn-t1 --delay-us 10 --rate-gbit 25
//! ```
//!
//! It creates the devices (`NS:DEVICE`, in `/var/run/netns/NS`), prints
//! `ready` and forwards until killed; the devices vanish with the process.
//! The caller gives them addresses (`ip -n NS addr add ... peer ...`).
//! Needs root (CAP_NET_ADMIN).
//!
//! Faults, for the failure-injection tests: `--loss PCT` drops each packet
//! with that probability (`--seed N` makes the drops repeatable);
//! `--spike-ms MS --spike-every-ms P` holds every packet MS longer during
//! one window of each period P; SIGUSR1 partitions the link (every packet
//! dropped) until SIGUSR2 heals it.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `_IOW('T', 202, int)` from linux/if_tun.h (the libc crate lacks it).
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// Largest IP packet a TUN device hands over (its MTU is set below this).
const MAX_PACKET: usize = 65_536;

struct Link {
    delay: Duration,
    /// Bits per second; 0 means unlimited.
    rate_bps: u64,
    /// Probability a packet is lost, in [0, 1].
    loss: f64,
    seed: u64,
    /// Extra delay during the first `spike` of every `spike_every`.
    spike: Duration,
    spike_every: Duration,
}

/// Set by SIGUSR1, cleared by SIGUSR2: the link drops everything.
static PARTITIONED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    PARTITIONED.store(sig == libc::SIGUSR1, Relaxed);
}

fn main() {
    if let Err(e) = run() {
        eprintln!("genie-netem: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let (mut a, mut b, mut delay_us, mut rate_gbit) = (None, None, 0.0f64, 0.0f64);
    let (mut loss_pct, mut seed, mut spike_ms, mut spike_every_ms) = (0.0f64, 1u64, 0.0f64, 0.0f64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--a" => a = Some(value()?),
            "--b" => b = Some(value()?),
            "--delay-us" => delay_us = value()?.parse().map_err(|e| format!("--delay-us: {e}"))?,
            "--rate-gbit" => rate_gbit = value()?.parse().map_err(|e| format!("--rate-gbit: {e}"))?,
            "--loss" => loss_pct = value()?.parse().map_err(|e| format!("--loss: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--spike-ms" => spike_ms = value()?.parse().map_err(|e| format!("--spike-ms: {e}"))?,
            "--spike-every-ms" => spike_every_ms = value()?.parse().map_err(|e| format!("--spike-every-ms: {e}"))?,
            "-h" | "--help" => {
                println!("usage: genie-netem --a NS:DEV --b NS:DEV [--delay-us US] [--rate-gbit GBIT] [--loss PCT] [--seed N] [--spike-ms MS --spike-every-ms P]\n(SIGUSR1 partitions the link, SIGUSR2 heals it)");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let (a, b) = (a.ok_or("--a NS:DEV is required")?, b.ok_or("--b NS:DEV is required")?);
    if !(delay_us >= 0.0 && rate_gbit >= 0.0 && spike_ms >= 0.0 && spike_every_ms >= 0.0) {
        return Err("--delay-us, --rate-gbit, --spike-ms and --spike-every-ms must be non-negative".into());
    }
    if !(0.0..=100.0).contains(&loss_pct) {
        return Err(format!("--loss {loss_pct}: a percentage from 0 to 100"));
    }
    if spike_ms > 0.0 && spike_every_ms <= spike_ms {
        return Err("--spike-ms needs --spike-every-ms longer than the spike".into());
    }
    let link = Arc::new(Link {
        delay: Duration::from_nanos((delay_us * 1e3) as u64),
        rate_bps: (rate_gbit * 1e9) as u64,
        loss: loss_pct / 100.0,
        seed,
        spike: Duration::from_micros((spike_ms * 1e3) as u64),
        spike_every: Duration::from_micros((spike_every_ms * 1e3) as u64),
    });
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGUSR1, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR2, on_signal as *const () as libc::sighandler_t);
    }
    let tun_a = Arc::new(open_tun(&a)?);
    let tun_b = Arc::new(open_tun(&b)?);
    println!("ready");
    let forward = |from: &Arc<File>, to: &Arc<File>, direction: u64| {
        let (from, to, link) = (from.clone(), to.clone(), link.clone());
        std::thread::spawn(move || forward_loop(&from, &to, &link, direction))
    };
    let ab = forward(&tun_a, &tun_b, 0);
    let ba = forward(&tun_b, &tun_a, 1);
    for t in [ab, ba] {
        t.join().map_err(|_| "a forwarding thread panicked".to_string())??;
    }
    Ok(())
}

/// Below this wait, spinning beats a timer wake-up (tens of µs on a VM).
const SPIN: Duration = Duration::from_micros(15);

/// One direction of the link: stamps each packet with the time it leaves
/// the far end (after the link is free, its serialization time, and the
/// delay) and delivers it then, in order. One thread waits on both the
/// arrivals and the next departure, so a packet costs no thread hand-off.
fn forward_loop(from: &File, to: &File, link: &Link, direction: u64) -> Result<(), String> {
    // Sleep to the microsecond, not the default 50 µs timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong) };
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut link_free = Instant::now();
    let start = link_free;
    // xorshift64*: repeatable drops per seed and direction.
    let mut rng = (link.seed ^ (direction + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)).max(1);
    let mut lost = move |p: f64| {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        let u = (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        p > 0.0 && u < p
    };
    loop {
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _)| *due <= now) {
            let (_, packet) = queue.pop_front().expect("front exists");
            // A full or down device drops the packet, as a real link would.
            let _ = (&*to).write(&packet);
            spare.push(packet);
        }
        let wait = queue.front().map(|(due, _)| due.saturating_duration_since(Instant::now()));
        let mut fd = libc::pollfd { fd: from.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // Sleep (ppoll: microsecond wake-ups) until SPIN before the next
        // departure, poll without waiting inside it, block when idle.
        let ready = match wait {
            Some(w) if w > SPIN => {
                let w = w - SPIN;
                let ts = libc::timespec { tv_sec: w.as_secs() as libc::time_t, tv_nsec: w.subsec_nanos() as libc::c_long };
                unsafe { libc::ppoll(&mut fd, 1, &ts, std::ptr::null()) }
            }
            Some(_) => unsafe { libc::poll(&mut fd, 1, 0) },
            None => unsafe { libc::poll(&mut fd, 1, -1) },
        };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("waiting for packets: {e}"));
        }
        if fd.revents & libc::POLLIN == 0 {
            continue;
        }
        let mut packet = spare.pop().unwrap_or_default();
        packet.resize(MAX_PACKET, 0);
        let n = (&*from).read(&mut packet).map_err(|e| format!("reading a packet: {e}"))?;
        packet.truncate(n);
        let arrived = Instant::now();
        if PARTITIONED.load(Relaxed) || lost(link.loss) {
            spare.push(packet);
            continue;
        }
        let in_spike = !link.spike.is_zero() && (arrived - start).as_micros() % link.spike_every.as_micros() < link.spike.as_micros();
        let extra = if in_spike { link.spike } else { Duration::ZERO };
        let serialize = if link.rate_bps == 0 { Duration::ZERO } else { Duration::from_nanos(n as u64 * 8 * 1_000_000_000 / link.rate_bps) };
        link_free = link_free.max(arrived) + serialize;
        // A spike holds packets longer but keeps their order.
        let due = (link_free + link.delay + extra).max(queue.back().map_or(link_free, |(d, _)| *d));
        queue.push_back((due, packet));
    }
}

/// Creates TUN device `DEV` inside network namespace `NS` ("NS:DEV").
fn open_tun(spec: &str) -> Result<File, String> {
    let (ns, dev) = spec.split_once(':').ok_or(format!("{spec:?}: expected NS:DEVICE"))?;
    if dev.is_empty() || dev.len() > 15 {
        return Err(format!("{dev:?}: a device name has 1 to 15 bytes"));
    }
    let home = File::open("/proc/self/ns/net").map_err(|e| format!("/proc/self/ns/net: {e}"))?;
    let target = File::open(format!("/var/run/netns/{ns}")).map_err(|e| format!("network namespace {ns:?}: {e}"))?;
    enter(&target).map_err(|e| format!("entering namespace {ns:?}: {e}"))?;
    let tun = OpenOptions::new().read(true).write(true).open("/dev/net/tun");
    let created = tun.map_err(|e| format!("/dev/net/tun: {e}")).and_then(|tun| {
        // struct ifreq: the name, then the flags (a short).
        let mut ifr = [0u8; 40];
        ifr[..dev.len()].copy_from_slice(dev.as_bytes());
        ifr[16..18].copy_from_slice(&((libc::IFF_TUN | libc::IFF_NO_PI) as i16).to_ne_bytes());
        if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) } < 0 {
            return Err(format!("creating {dev} in {ns}: {}", std::io::Error::last_os_error()));
        }
        Ok(tun)
    });
    enter(&home).map_err(|e| format!("returning to the original namespace: {e}"))?;
    created
}

fn enter(ns: &File) -> std::io::Result<()> {
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
