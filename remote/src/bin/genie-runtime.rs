//! `genie-runtime serve`: the Genie runtime daemon (see `genie_remote::server`).

use clap::{Arg, Command};
use genie_remote::server::{serve, Config};
use std::time::Duration;

fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("'{s}' is not a size (examples: 8GiB, 512MiB, 1000000)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1000_000_000_000,
        "tib" => 1 << 40,
        u => return Err(format!("unknown size unit '{u}' in '{s}' (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")),
    };
    Ok((n * scale as f64) as u64)
}

/// Whether `listen` is reachable from this host only: a Unix socket or a
/// loopback address.
fn local_only(listen: &str) -> bool {
    if listen.starts_with("unix://") {
        return true;
    }
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn main() {
    let serve_cmd = Command::new("serve")
        .about("Serve plans to Genie clients (TCP or a Unix socket)")
        .arg(Arg::new("listen").long("listen").default_value("127.0.0.1:7400").help("host:port, or unix:///path for a Unix socket"))
        .arg(Arg::new("device").long("device").default_value("cpu").help("the device kernels run on (cpu)"))
        .arg(Arg::new("memory-limit").long("memory-limit").default_value("8GiB").value_parser(parse_bytes).help("bytes of tensors and plans held at once (e.g. 8GiB)"))
        .arg(Arg::new("session-memory-limit").long("session-memory-limit").value_parser(parse_bytes).help("the most one session may hold at once: kept tensors, its run, its payload (default: the memory limit)"))
        .arg(Arg::new("session-plan-limit").long("session-plan-limit").default_value("1024").value_parser(clap::value_parser!(u64)).help("the most plans one session may upload, and have loaded at once"))
        .arg(Arg::new("auth-token-file").long("auth-token-file").help("a file holding the shared secret clients must present"))
        .arg(Arg::new("metrics").long("metrics").help("host:port for a Prometheus /metrics endpoint"))
        .arg(Arg::new("idle-timeout").long("idle-timeout").default_value("600").value_parser(clap::value_parser!(u64)).help("seconds a silent session lives"))
        .arg(Arg::new("max-connections").long("max-connections").default_value("256").value_parser(clap::value_parser!(u64)).help("connections served at once"))
        .arg(Arg::new("payload-timeout").long("payload-timeout").default_value("30").value_parser(clap::value_parser!(u64)).help("seconds a request may go without a byte arriving mid-frame"))
        .arg(Arg::new("max-request").long("max-request").value_parser(parse_bytes).help("the largest payload one request may carry (default: the memory limit)"))
        .arg(Arg::new("tls-cert").long("tls-cert").requires("tls-key").help("PEM certificate chain: serve TCP clients over TLS"))
        .arg(Arg::new("tls-key").long("tls-key").requires("tls-cert").help("PEM private key for --tls-cert"))
        .arg(Arg::new("run-workers").long("run-workers").default_value("2").value_parser(clap::value_parser!(u64).range(1..256)).help("device workers: runs bigger than a tiny call queue for them, fairly between sessions"))
        .arg(Arg::new("threads").long("threads").value_parser(clap::value_parser!(usize)).help("IO worker threads (default 2)"))
        .arg(Arg::new("resume-grace").long("resume-grace").default_value("60").value_parser(clap::value_parser!(u64)).help("seconds a session whose connection broke keeps what it holds for its client to resume it (0: freed at once)"))
        .arg(Arg::new("insecure").long("insecure").alias("allow-no-auth").action(clap::ArgAction::SetTrue).help("serve a non-loopback address without --auth-token-file (a private network only: anyone who reaches it runs plans)"));
    let calibrate_cmd = Command::new("calibrate")
        .about("Measure this host's device (f32 GEMM rate, memory read bandwidth, memory) and, with --link, the link to a server; print them as a target file")
        .arg(Arg::new("name").long("name").default_value("dev0").help("the device's name in the target"))
        .arg(Arg::new("link").long("link").help("a server URL (tcp://host:port, unix:///path): measure the link to it too; the device is then that server's"))
        .arg(Arg::new("auth-token-file").long("auth-token-file").help("the server's shared secret, for --link"));
    let cmd = Command::new("genie-runtime").about("Genie runtime server").subcommand_required(true).subcommand(serve_cmd).subcommand(calibrate_cmd);
    let m = cmd.get_matches();
    if let Some(("calibrate", a)) = m.subcommand() {
        let token = a.get_one::<String>("auth-token-file").map(|p| std::fs::read_to_string(p).map(|t| t.trim().as_bytes().to_vec()));
        let token = match token.transpose() {
            Ok(t) => t.unwrap_or_default(),
            Err(e) => {
                eprintln!("genie-runtime: error: cannot read the auth token file: {e}");
                std::process::exit(2);
            }
        };
        let link = a.get_one::<String>("link").map(|url| (url.as_str(), token.as_slice()));
        match genie_remote::calibrate::target(a.get_one::<String>("name").unwrap(), link) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("genie-runtime: error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let Some(("serve", a)) = m.subcommand() else { unreachable!("clap requires a subcommand") };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("GENIE_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let device = a.get_one::<String>("device").unwrap();
    if device != "cpu" {
        eprintln!("genie-runtime: error: device '{device}' is not available in this build (only 'cpu')");
        std::process::exit(2);
    }
    let token = match a.get_one::<String>("auth-token-file") {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(mut t) => {
                while t.last().is_some_and(|b| b.is_ascii_whitespace()) {
                    t.pop();
                }
                if t.is_empty() {
                    eprintln!("genie-runtime: error: auth token file {path} is empty");
                    std::process::exit(2);
                }
                Some(t)
            }
            Err(e) => {
                eprintln!("genie-runtime: error: cannot read auth token file {path}: {e}");
                std::process::exit(2);
            }
        },
    };
    let listen = a.get_one::<String>("listen").unwrap();
    if token.is_none() && !a.get_flag("insecure") && !local_only(listen) {
        eprintln!("genie-runtime: error: refusing to serve {listen} without --auth-token-file: anyone who can reach it could run plans and read what they compute. Give a token (and --tls-cert/--tls-key, so it and the tensors do not cross the network in the clear), or pass --insecure on a private network");
        std::process::exit(2);
    }
    let memory_limit = *a.get_one::<u64>("memory-limit").unwrap();
    let tls = match (a.get_one::<String>("tls-cert"), a.get_one::<String>("tls-key")) {
        (Some(cert), Some(key)) => match genie_remote::tls::server_config(cert, key) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("genie-runtime: error: {e}");
                std::process::exit(2);
            }
        },
        _ => None,
    };
    let config = Config {
        listen: a.get_one::<String>("listen").unwrap().clone(),
        memory_limit,
        token,
        metrics: a.get_one::<String>("metrics").cloned(),
        idle_timeout: Duration::from_secs(*a.get_one::<u64>("idle-timeout").unwrap()),
        max_payload: a.get_one::<u64>("max-request").copied().unwrap_or(memory_limit),
        max_connections: *a.get_one::<u64>("max-connections").unwrap(),
        payload_timeout: Duration::from_secs((*a.get_one::<u64>("payload-timeout").unwrap()).max(1)),
        ready: None,
        tls,
        run_workers: *a.get_one::<u64>("run-workers").unwrap() as usize,
        resume_grace: Duration::from_secs(*a.get_one::<u64>("resume-grace").unwrap()),
        session_memory: a.get_one::<u64>("session-memory-limit").copied().unwrap_or(memory_limit),
        session_plans: *a.get_one::<u64>("session-plan-limit").unwrap() as usize,
    };
    let threads = a.get_one::<usize>("threads").copied().unwrap_or(2);
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genie-runtime: error: cannot start the IO runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("signal received: shutting down");
            let _ = tx.send(true);
        });
        serve(config, rx).await
    });
    if let Err(e) = result {
        eprintln!("genie-runtime: error: {e}");
        std::process::exit(1);
    }
}
