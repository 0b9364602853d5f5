//! `genie-runtime serve`: a long-lived daemon running plans for many clients.
//!
//! Each connection is one session. Shared state (plans, weights, loaded
//! executables, the memory account) lives in the [`Store`]; what a session
//! creates (kept outputs such as a KV cache) lives in its own handle table,
//! so a client can only name its own tensors, and all of it is freed when
//! the connection closes or goes idle. A bad frame or request gets an error
//! reply to that client alone; the server keeps serving everyone else.

use crate::protocol::*;
use crate::scheduler::RunQueue;
use crate::sessions::{new_secret, Claim, Sessions};
use crate::store::{tensor_bytes, Refusal, Store};
use genie_runtime::{Executable, Tensor, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::timeout;

pub struct Config {
    /// `host:port` (TCP) or `unix:///path` (Unix socket).
    pub listen: String,
    pub memory_limit: u64,
    pub token: Option<Vec<u8>>,
    pub metrics: Option<String>,
    /// A session with no request for this long is closed and freed.
    pub idle_timeout: Duration,
    /// The largest payload one request may carry.
    pub max_payload: u64,
    /// Connections served at once; one more gets an error and is closed.
    pub max_connections: u64,
    /// How long a request's meta or payload may go without a byte arriving
    /// before the connection is closed (a stalled frame holds nothing long).
    pub payload_timeout: Duration,
    /// Told the address actually bound (for `--listen 127.0.0.1:0` in-process).
    pub ready: Option<std::sync::mpsc::Sender<String>>,
    /// TLS on TCP connections (see `tls::server_config`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Threads taking runs from the device queue (all but tiny runs).
    pub run_workers: usize,
    /// The most one session may hold at once of the memory limit: its kept
    /// tensors, replies kept for retries, its run in progress and the
    /// payload it is sending.
    pub session_memory: u64,
    /// The most plans one session may upload, and the most it may have
    /// loaded at once.
    pub session_plans: usize,
    /// How long a session whose connection broke waits, with everything it
    /// holds, for its client to resume it (zero: freed at once).
    pub resume_grace: Duration,
}

#[derive(Default)]
struct Metrics {
    connections: AtomicU64,
    connections_open: AtomicU64,
    sessions_active: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    runs: AtomicU64,
    /// Runs stopped by their deadline or a cancel.
    runs_stopped: AtomicU64,
    run_micros: AtomicU64,
    upload_bytes: AtomicU64,
}

struct State {
    config: Config,
    store: Mutex<Store>,
    /// The device's run queue: kernels run on its workers, not IO threads.
    device: RunQueue,
    /// Which sessions are attached to a connection, and which are parked.
    sessions: Mutex<Sessions<Session>>,
    metrics: Metrics,
    next_session: AtomicU64,
}

impl State {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic elsewhere must not take the server down with a poisoned lock.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions<Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves until `shutdown` turns true, then stops accepting, lets each
/// connection finish its current request, and returns.
pub async fn serve(config: Config, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
    let device = RunQueue::new("cpu", config.run_workers)?;
    let sessions = Mutex::new(Sessions::new(config.max_connections as usize));
    let state = Arc::new(State { store: Mutex::new(Store::new(config.memory_limit)), device, sessions, config, metrics: Metrics::default(), next_session: AtomicU64::new(1) });
    tokio::spawn(expire_parked(state.clone()));
    if let Some(addr) = &state.config.metrics {
        let l = TcpListener::bind(addr).await.map_err(|e| io::Error::new(e.kind(), format!("metrics address {addr}: {e}")))?;
        println!("genie-runtime: metrics on http://{}/metrics", l.local_addr()?);
        tokio::spawn(metrics_loop(l, state.clone()));
    }
    // Loaded now, so a missing BLAS shows at start rather than on a first call.
    tracing::info!(blas = %genie_runtime::linalg::blas_description(), "matrix products");
    let mut tasks = tokio::task::JoinSet::new();
    let listen = state.config.listen.clone();
    if let Some(path) = listen.strip_prefix("unix://") {
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(path);
            let l = tokio::net::UnixListener::bind(path).map_err(|e| io::Error::new(e.kind(), format!("unix socket {path}: {e}")))?;
            println!("genie-runtime: listening on unix://{path}");
            if let Some(r) = &state.config.ready {
                let _ = r.send(format!("unix://{path}"));
            }
            loop {
                tokio::select! {
                    r = l.accept() => match r {
                        Ok((s, _)) => {
                            reap(&mut tasks);
                            let fds = FdQueue::default();
                            let stream = FdStream { inner: s, fds: fds.clone() };
                            tasks.spawn(connection(state.clone(), stream, format!("unix:{path}"), Some(fds), shutdown.clone()));
                        }
                        Err(e) => tracing::warn!("accept failed: {e}"),
                    },
                    _ = shutdown.changed() => break,
                }
            }
            let _ = std::fs::remove_file(path);
        }
    } else {
        let addr = listen.strip_prefix("tcp://").unwrap_or(&listen);
        let l = TcpListener::bind(addr).await.map_err(|e| io::Error::new(e.kind(), format!("listen address {addr}: {e}")))?;
        println!("genie-runtime: listening on {}{}", if state.config.tls.is_some() { "tls://" } else { "" }, l.local_addr()?);
        if let Some(r) = &state.config.ready {
            let _ = r.send(l.local_addr()?.to_string());
        }
        loop {
            tokio::select! {
                r = l.accept() => match r {
                    Ok((s, peer)) => {
                        reap(&mut tasks);
                        let _ = s.set_nodelay(true);
                        thin_stream(std::os::fd::AsRawFd::as_raw_fd(&s));
                        match &state.config.tls {
                            None => { tasks.spawn(connection(state.clone(), s, peer.to_string(), None, shutdown.clone())); }
                            Some(cfg) => {
                                let acceptor = tokio_rustls::TlsAcceptor::from(cfg.clone());
                                let (state, shutdown) = (state.clone(), shutdown.clone());
                                tasks.spawn(async move {
                                    match timeout(Duration::from_secs(10), acceptor.accept(s)).await {
                                        Ok(Ok(tls)) => connection(state, tls, peer.to_string(), None, shutdown).await,
                                        Ok(Err(e)) => tracing::warn!(%peer, "TLS handshake failed: {e}"),
                                        Err(_) => tracing::warn!(%peer, "no TLS handshake within 10 s; closing"),
                                    }
                                });
                            }
                        }
                    }
                    Err(e) => tracing::warn!("accept failed: {e}"),
                },
                _ = shutdown.changed() => break,
            }
        }
    }
    tracing::info!(connections = tasks.len(), "shutting down: waiting for connections to finish their current request");
    let _ = timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
    let parked = state.sessions().drain();
    drop(parked);
    Ok(())
}

/// Forgets connections that have ended (a JoinSet keeps each finished
/// task until it is joined: without this, memory grows per connection).
fn reap(tasks: &mut tokio::task::JoinSet<()>) {
    while tasks.try_join_next().is_some() {}
}

/// Frees parked sessions whose grace period is over.
async fn expire_parked(state: Arc<State>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let gone = state.sessions().expired(Instant::now());
        for s in &gone {
            tracing::info!(session = s.id, "nobody resumed the session within {:?}", state.config.resume_grace);
        }
        drop(gone);
    }
}

/// A session's state: loaded plans and the tensors it keeps.
struct Session {
    id: u64,
    /// What a client presents to take this session back after a drop.
    secret: Hash,
    state: Arc<State>,
    execs: Vec<LoadedExec>,
    tensors: HashMap<u64, Tensor>,
    /// Bytes this session holds of the memory account, privately: its
    /// kept tensors, the replies kept for retries, its run in progress (bounded by
    /// `Config::session_memory`).
    private: u64,
    next_handle: u64,
    /// The last replies to requests with effects, so a retry is applied
    /// once; the tensors they return are counted against the memory limit.
    recent: VecDeque<Replay>,
    /// Descriptors received on a Unix socket (shared-memory payloads).
    fds: Option<FdQueue>,
    /// Shared tensors this session uploaded (and so proved it holds).
    proven: std::collections::HashSet<Hash>,
    /// The protocol minor its client speaks (1.1 reads keepalives).
    minor: u16,
    /// Set when the client cancels the run in progress (or hangs up).
    cancel: Arc<AtomicBool>,
    /// Plans this session uploaded.
    plans_uploaded: usize,
}

struct LoadedExec {
    exe: Arc<Executable>,
    /// Per plan input: the shared tensor bound at load (weights), if any.
    bound: Vec<Option<Tensor>>,
}

/// A reply kept for a retry of its request.
struct Replay {
    request: u64,
    reply: Msg,
    /// `None` when its tensors did not fit in memory: a retry is refused
    /// rather than applied twice.
    data: Option<Vec<Tensor>>,
    bytes: u64,
}

/// Replies kept per session.
const REPLAYS: usize = 4;

/// Requests a retry must not apply twice.
fn replayable(m: &Msg) -> bool {
    matches!(m, Msg::Run { .. } | Msg::Load { .. } | Msg::Release { .. })
}

impl Drop for Session {
    fn drop(&mut self) {
        self.state.store().release(self.private);
        self.state.device.forget(self.id);
        self.state.metrics.sessions_active.fetch_sub(1, Relaxed);
        tracing::info!(session = self.id, freed = self.private, tensors = self.tensors.len(), "session closed");
    }
}

type Reply = Result<(Msg, Vec<Tensor>), Refusal>;

fn unknown_handle(h: u64) -> Refusal {
    (ErrorCode::UnknownHandle, format!("tensor handle {h} is not held by this session (released, expired, or another session's)"))
}

impl Session {
    /// Takes `bytes` from the memory account for this session, within its
    /// share (`--session-memory-limit`).
    fn take(&mut self, bytes: u64, what: &str) -> Result<(), Refusal> {
        let limit = self.state.config.session_memory;
        if self.private.saturating_add(bytes) > limit {
            return Err((ErrorCode::OutOfMemory, format!("{what} needs {bytes} bytes; this session holds {} of its {limit}-byte share (--session-memory-limit): release tensors it keeps", self.private)));
        }
        self.state.store().reserve(bytes, what)?;
        self.private += bytes;
        Ok(())
    }

    fn give(&mut self, bytes: u64) {
        self.private -= bytes;
        self.state.store().release(bytes);
    }

    fn keep(&mut self, t: Tensor) -> Result<u64, Refusal> {
        let bytes = tensor_bytes(&t);
        self.take(bytes, "a kept output")?;
        let h = self.next_handle;
        self.next_handle += 1;
        self.tensors.insert(h, t);
        Ok(h)
    }

    fn drop_handle(&mut self, h: u64) -> Result<(), Refusal> {
        let t = self.tensors.remove(&h).ok_or_else(|| unknown_handle(h))?;
        let bytes = tensor_bytes(&t);
        self.give(bytes);
        Ok(())
    }

    async fn handle(&mut self, msg: Msg, payload: Vec<Tensor>) -> Reply {
        match msg {
            Msg::Ping => Ok((Msg::Pong, vec![])),
            Msg::Has { hashes } => {
                let store = self.state.store();
                Ok((Msg::HasReply { present: hashes.iter().map(|h| store.has(h)).collect() }, vec![]))
            }
            Msg::PutPlan { hash, .. } => {
                let bytes = payload[0].contiguous_bytes().expect("payload tensors are contiguous");
                let limit = self.state.config.session_plans;
                if self.plans_uploaded >= limit {
                    self.state.store().release(bytes.len() as u64);
                    return Err((ErrorCode::OutOfMemory, format!("this session has uploaded {limit} plans, its limit (--session-plan-limit); nothing was stored")));
                }
                self.plans_uploaded += 1;
                // The payload was reserved while it was read; the store counts plans itself.
                let mut store = self.state.store();
                store.release(bytes.len() as u64);
                store.put_plan(hash, bytes)?;
                Ok((Msg::Ok, vec![]))
            }
            Msg::PutTensor { hash, .. } => {
                let t = payload.into_iter().next().expect("one payload tensor");
                // Checked before it is shared (outside the store's lock and
                // off this IO thread, which keeps serving and sending
                // keepalives: a big tensor takes a while to hash): the store
                // holds verified bytes only.
                let hashing = tokio::task::spawn_blocking(move || {
                    let ids = identity_parallel(&t);
                    (t, ids)
                });
                let (t, (content, possession)) = hashing.await.map_err(|e| (ErrorCode::Execution, format!("hashing the upload failed: {e}")))?;
                if content != hash {
                    self.state.store().release(tensor_bytes(&t));
                    return Err((ErrorCode::Malformed, format!("the tensor uploaded as {} does not hash to that name; nothing was stored", hex(&hash))));
                }
                // The payload's reservation now belongs to the store.
                self.state.store().put_tensor(hash, possession, t);
                self.proven.insert(hash);
                Ok((Msg::Ok, vec![]))
            }
            Msg::Load { plan, binds, proofs } => self.load(plan, binds, proofs),
            Msg::Run { exec, args, ret, release, deadline_ms } => self.run(exec, args, payload, ret, release, deadline_ms).await,
            Msg::Fetch { handle } => {
                let t = self.tensors.get(&handle).ok_or_else(|| unknown_handle(handle))?.contiguous();
                Ok((Msg::Data { meta: TensorMeta { dtype: t.dtype(), shape: t.shape.clone() } }, vec![t]))
            }
            Msg::Release { handles } => {
                for h in handles {
                    self.drop_handle(h)?;
                }
                Ok((Msg::Ok, vec![]))
            }
            other => Err((ErrorCode::Malformed, format!("a client may not send '{}'", other.name()))),
        }
    }

    fn load(&mut self, plan_hash: Hash, binds: Vec<(Slot, Hash)>, proofs: Vec<Hash>) -> Reply {
        let limit = self.state.config.session_plans;
        if self.execs.len() >= limit {
            return Err((ErrorCode::OutOfMemory, format!("this session has {limit} plans loaded, its limit (--session-plan-limit)")));
        }
        let (plan, bound_tensors) = {
            let mut store = self.state.store();
            let plan = store.plan(&plan_hash)?;
            let tensors = binds.iter().map(|(_, h)| store.tensor(h)).collect::<Result<Vec<_>, _>>()?;
            (plan, tensors)
        };
        // Knowing a tensor's name is not enough to use the server's copy:
        // a session binds what it uploaded, or proves it holds the bytes.
        for (i, ((slot, hash), (_, possession))) in binds.iter().zip(&bound_tensors).enumerate() {
            let proven = self.proven.contains(hash) || proofs.get(i).is_some_and(|p| secrets_equal(p, &bind_proof(&self.secret, hash, possession)));
            if !proven {
                let what = match slot {
                    Slot::Input(n) => format!("input {n}"),
                    Slot::Constant(name) => format!("constant {name}"),
                };
                return Err((ErrorCode::Auth, format!("load: bind {i} ({what}): this session neither uploaded that tensor nor proved it holds its bytes (a protocol 1.1 client sends the proof; an older one uploads)")));
            }
        }
        let bound_tensors: Vec<Tensor> = bound_tensors.into_iter().map(|(t, _)| t).collect();
        let mut bound = vec![None; plan.inputs.len()];
        let mut constants = vec![];
        for ((slot, hash), t) in binds.iter().zip(bound_tensors) {
            match slot {
                Slot::Input(i) => {
                    let b = bound.get_mut(*i as usize).ok_or_else(|| (ErrorCode::BadPlan, format!("bind to input {i}: the plan has {} inputs", plan.inputs.len())))?;
                    *b = Some(t);
                }
                Slot::Constant(name) => constants.push((name.clone(), *hash, t)),
            }
        }
        constants.sort_by(|a, b| a.0.cmp(&b.0));
        // A plan that keeps state between calls is this session's alone.
        let stateful = plan.residents.iter().any(|r| r.kind == genie_plan::ResidentKind::State);
        let session = self.id.to_le_bytes();
        let key = {
            let mut parts: Vec<&[u8]> = vec![&plan_hash];
            if stateful {
                parts.push(&session);
            }
            for (name, h, _) in &constants {
                parts.push(name.as_bytes());
                parts.push(h);
            }
            hash_bytes(&parts)
        };
        let cached = self.state.store().exec(&key);
        let exe = match cached {
            Some(e) => e,
            None => {
                let mut e = Executable::load((*plan).clone()).map_err(|e| (ErrorCode::BadPlan, e))?;
                for (name, _, t) in constants {
                    e.bind(&name, t).map_err(|e| (ErrorCode::BadPlan, e))?;
                }
                let e = Arc::new(e);
                self.state.store().insert_exec(key, &plan_hash, &e);
                e
            }
        };
        self.execs.push(LoadedExec { exe, bound });
        Ok((Msg::Loaded { exec: (self.execs.len() - 1) as u32 }, vec![]))
    }

    async fn run(&mut self, exec: u32, args: Vec<Arg>, payload: Vec<Tensor>, ret: Vec<bool>, release: Vec<u64>, deadline_ms: Option<u64>) -> Reply {
        let deadline = deadline_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        if let Some(h) = release.iter().find(|h| !self.tensors.contains_key(h)) {
            return Err(unknown_handle(*h));
        }
        for h in release {
            self.drop_handle(h)?;
        }
        let loaded = self.execs.get(exec as usize).ok_or_else(|| (ErrorCode::UnknownHandle, format!("no loaded plan #{exec} in this session")))?;
        let mut args = args.into_iter();
        let mut data = payload.into_iter();
        let mut inputs = Vec::with_capacity(loaded.bound.len());
        for b in &loaded.bound {
            if let Some(t) = b {
                inputs.push(Value::Tensor(t.clone()));
                continue;
            }
            let a = args.next().ok_or_else(|| (ErrorCode::Malformed, format!("run: plan #{exec} takes more arguments than were sent")))?;
            inputs.push(match a {
                Arg::None => Value::None,
                Arg::Bool(b) => Value::Bool(b),
                Arg::Int(i) => Value::Int(i),
                Arg::Float(f) => Value::Float(f),
                Arg::Handle(h) => Value::Tensor(self.tensors.get(&h).ok_or_else(|| unknown_handle(h))?.clone()),
                Arg::Tensor(_) => Value::Tensor(data.next().expect("check_payload matched tensors to the meta")),
            });
        }
        if args.next().is_some() {
            return Err((ErrorCode::Malformed, format!("run: plan #{exec} takes fewer arguments than were sent")));
        }
        let exe = loaded.exe.clone();
        // What the run will hold at once is taken from the memory account
        // before anything runs: a plan that would allocate more than the
        // server has gets an error, never an abort.
        let need = exe.memory_needed(&inputs).map_err(|e| (ErrorCode::Execution, e))?;
        if let Err((code, e)) = self.take(need.peak, "this run") {
            let (d, pc) = need.largest_at;
            return Err((code, format!("{e} (plan #{exec}: its largest value, {} bytes, is made by {})", need.largest, exe.describe(d, pc))));
        }
        let input_bytes: u64 = inputs.iter().map(|v| if let Value::Tensor(t) = v { tensor_bytes(t) } else { 0 }).sum();
        let small = exe.plan().num_instructions() <= 64 && input_bytes <= 64 << 10 && need.peak <= 64 << 10;
        // A panic in a kernel is an error for this request, never the end
        // of the server. Between two instructions the run stops if its
        // deadline passed (waiting in the queue counts) or the client
        // cancelled it.
        let cancel = self.cancel.clone();
        let run = move || {
            let start = Instant::now();
            // (The clock is read every 16 instructions: tiny ones take
            // less than a clock read.)
            let asked = std::cell::Cell::new(0u32);
            let stop = || {
                asked.set(asked.get().wrapping_add(1));
                cancel.load(Relaxed) || (asked.get() % 16 == 1 && deadline.is_some_and(|d| Instant::now() >= d))
            };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exe.run_stoppable(inputs, &stop)));
            (r, start.elapsed())
        };
        // A small run (few instructions over little data: the inputs, bound
        // weights included, and what it makes) is done in microseconds and
        // runs right here: handing it to another thread and back costs more
        // than it does (measured: +5% on a tiny call across cores, +27% on
        // one core). Anything bigger goes to the device's run queue, fair
        // between sessions, and this IO thread serves other connections.
        let done = if small { Some(run()) } else { self.state.device.submit(self.id, run).await.ok() };
        // Kept outputs are counted on their own below. (Were this future
        // dropped mid-run, the session's drop would release it.)
        self.give(need.peak);
        let (result, took) = done.ok_or_else(|| (ErrorCode::Execution, "the device worker stopped during the run".to_string()))?;
        self.state.metrics.runs.fetch_add(1, Relaxed);
        let server_micros = took.as_micros() as u64;
        self.state.metrics.run_micros.fetch_add(server_micros, Relaxed);
        let outs = match result {
            Ok(Ok(outs)) => outs,
            Ok(Err(e)) if e.starts_with(genie_runtime::STOPPED) => {
                self.state.metrics.runs_stopped.fetch_add(1, Relaxed);
                return Err(if self.cancel.load(Relaxed) {
                    (ErrorCode::Cancelled, format!("plan #{exec}: the client cancelled the run; {e}"))
                } else {
                    (ErrorCode::DeadlineExceeded, format!("plan #{exec}: the run's deadline of {} ms passed; {e}", deadline_ms.unwrap_or(0)))
                });
            }
            Ok(Err(e)) => return Err((ErrorCode::Execution, e)),
            Err(p) => {
                let why = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                return Err((ErrorCode::Execution, format!("the runtime failed inside a kernel: {why}")));
            }
        };
        let mut reply = Vec::with_capacity(outs.len());
        let mut returned = vec![];
        let mut kept = vec![];
        for (i, v) in outs.into_iter().enumerate() {
            reply.push(match v {
                Value::None => Out::None,
                Value::Bool(b) => Out::Bool(b),
                Value::Int(n) => Out::Int(n),
                Value::Float(f) => Out::Float(f),
                Value::Tensor(t) => {
                    let meta = TensorMeta { dtype: t.dtype(), shape: t.shape.clone() };
                    if ret.get(i).copied().unwrap_or(true) {
                        returned.push(t.contiguous());
                        Out::Tensor(meta)
                    } else {
                        match self.keep(t) {
                            Ok(h) => {
                                kept.push(h);
                                Out::Kept(h, meta)
                            }
                            Err(e) => {
                                for h in kept {
                                    let _ = self.drop_handle(h);
                                }
                                return Err(e);
                            }
                        }
                    }
                }
            });
        }
        Ok((Msg::Result { outs: reply, server_micros }, returned))
    }
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<()> {
    r.read_exact(buf).await.map(|_| ())
}

/// Reads and throws away `n` bytes (the payload of a refused request), so
/// the connection stays in step.
async fn drain<R: AsyncRead + Unpin>(r: &mut R, mut n: u64) -> io::Result<()> {
    let mut scratch = vec![0u8; 64 << 10];
    while n > 0 {
        let k = n.min(scratch.len() as u64) as usize;
        read_exact(r, &mut scratch[..k]).await?;
        n -= k as u64;
    }
    Ok(())
}

/// Skips the payload of a refused frame: reads it off the stream, or drops
/// the shared-memory descriptor that carried it, so the next frame (and
/// the next descriptor) line up.
async fn skip_payload<R: AsyncRead + Unpin>(rd: &mut R, session: &Session, h: &Header, stall: Duration) -> io::Result<()> {
    if h.flags & FLAG_SHM == 0 {
        return drain_timed(rd, h.payload_len, stall).await;
    }
    if let Some(q) = &session.fds {
        q.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
    }
    Ok(())
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, request: u64, msg: &Msg, payload: &[Tensor]) -> io::Result<u64> {
    let meta = msg.encode_meta();
    let data: Vec<&[u8]> = payload.iter().map(|t| t.contiguous_bytes().expect("replies carry contiguous tensors")).collect();
    let payload_len: u64 = data.iter().map(|d| d.len() as u64).sum();
    let header = Header { kind: msg.kind(), flags: 0, meta_len: meta.len() as u32, payload_len, request }.encode();
    let mut slices: Vec<IoSlice> = [&header[..], &meta[..]].into_iter().chain(data.iter().copied()).filter(|s| !s.is_empty()).map(IoSlice::new).collect();
    let mut rest = &mut slices[..];
    let mut total = 0u64;
    while !rest.is_empty() {
        let n = w.write_vectored(rest).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "connection closed"));
        }
        total += n as u64;
        IoSlice::advance_slices(&mut rest, n);
    }
    w.flush().await?;
    Ok(total)
}

async fn send_error<W: AsyncWrite + Unpin>(state: &State, w: &mut W, request: u64, code: ErrorCode, message: String) {
    state.metrics.errors.fetch_add(1, Relaxed);
    tracing::warn!(request, code = code.name(), "{message}");
    if let Ok(n) = write_frame(w, request, &Msg::Error { code, message }, &[]).await {
        state.metrics.bytes_sent.fetch_add(n, Relaxed);
    }
}

/// One open connection, counted while it lives.
struct Open<'a>(&'a AtomicU64);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// Why a connection ended.
enum Closed {
    /// A clean close: the client is done (or gone for good).
    Peer,
    Idle,
    Shutdown,
    /// A broken connection: the session waits to be resumed.
    Fatal(String),
    /// The client resumed the session on another connection.
    TakenOver,
}

async fn connection<S: AsyncRead + AsyncWrite + Send + 'static>(state: Arc<State>, stream: S, peer: String, fds: Option<FdQueue>, mut shutdown: watch::Receiver<bool>) {
    state.metrics.connections.fetch_add(1, Relaxed);
    let open = state.metrics.connections_open.fetch_add(1, Relaxed) + 1;
    let _open = Open(&state.metrics.connections_open);
    let (rd, mut wr) = tokio::io::split(stream);
    if open > state.config.max_connections {
        let m = format!("the server has {} connections open, its limit; try again later", state.config.max_connections);
        send_error(&state, &mut wr, 0, ErrorCode::OutOfMemory, m).await;
        return;
    }
    let mut rd = BufReader::with_capacity(64 << 10, rd);
    let Some(mut session) = handshake(&state, &mut rd, &mut wr, &peer, fds.is_some()).await else { return };
    session.fds = fds;
    let let_go = state.sessions().attach(session.id, session.secret);
    let mut pending = Vec::with_capacity(HEADER_LEN);
    let why = loop {
        let mut hb = [0u8; HEADER_LEN];
        // (Bytes of this header read while the previous run was served.)
        let have = pending.len();
        hb[..have].copy_from_slice(&pending);
        pending.clear();
        let read = tokio::select! {
            r = timeout(state.config.idle_timeout, read_exact(&mut rd, &mut hb[have..])) => r,
            _ = shutdown.changed() => break Closed::Shutdown,
            _ = let_go.notified() => break Closed::TakenOver,
        };
        match read {
            Err(_) => break Closed::Idle,
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break Closed::Peer,
            Ok(Err(e)) => break Closed::Fatal(e.to_string()),
            Ok(Ok(())) => {}
        }
        match request(&state, &mut session, &mut rd, &mut wr, &hb, &mut pending).await {
            Ok(()) => {}
            Err(why) => break why,
        }
    };
    let id = session.id;
    let grace = state.config.resume_grace;
    match &why {
        Closed::Peer => tracing::info!(session = id, %peer, "client disconnected"),
        Closed::Idle => tracing::info!(session = id, %peer, "session idle for {:?}; closing", state.config.idle_timeout),
        Closed::Shutdown => send_error(&state, &mut wr, 0, ErrorCode::ShuttingDown, "the server is shutting down".into()).await,
        Closed::Fatal(e) => tracing::warn!(session = id, %peer, "connection dropped: {e}; the session waits {grace:?} to be resumed"),
        Closed::TakenOver => tracing::info!(session = id, %peer, "session resumed on a new connection"),
    }
    let park = matches!(why, Closed::Fatal(_) | Closed::TakenOver) && !grace.is_zero();
    let freed = state.sessions().detach(id, session, park.then(|| Instant::now() + grace));
    drop(freed);
}

/// Takes back a session for a resuming client, waiting (a while) for a
/// connection still attached to it to finish its request and let go.
async fn claim(state: &State, id: u64, secret: &Hash) -> Option<Session> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = state.sessions().claim(id, secret);
        match found {
            Claim::Parked(s) => return Some(s),
            Claim::Gone => return None,
            Claim::Attached if Instant::now() >= deadline => {
                tracing::warn!(session = id, "the session's old connection did not let go within 30 s (a long run?)");
                return None;
            }
            Claim::Attached => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

async fn handshake<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(state: &Arc<State>, rd: &mut R, wr: &mut W, peer: &str, same_host: bool) -> Option<Session> {
    let mut hb = [0u8; HEADER_LEN];
    // A silent or slow peer does not hold a connection for long.
    let hello = timeout(Duration::from_secs(10), async {
        read_exact(rd, &mut hb).await.map_err(|e| e.to_string())?;
        let h = Header::decode(&hb).map_err(|e| e.0)?;
        if h.kind != 1 || h.payload_len != 0 || h.meta_len > MAX_HELLO_META {
            return Err(format!("expected a hello frame first, got {} ({} meta bytes, {} payload bytes)", kind_name(h.kind), h.meta_len, h.payload_len));
        }
        let mut meta = vec![0u8; h.meta_len as usize];
        read_exact(rd, &mut meta).await.map_err(|e| e.to_string())?;
        Msg::decode_meta(1, &meta).map(|m| (h.request, m)).map_err(|e| e.0)
    })
    .await;
    let (request, hello) = match hello {
        Err(_) => {
            tracing::warn!(%peer, "no hello within 10 s; closing");
            return None;
        }
        Ok(Err(e)) => {
            send_error(state, wr, 0, ErrorCode::Malformed, format!("handshake: {e}")).await;
            return None;
        }
        Ok(Ok(x)) => x,
    };
    let Msg::Hello { major, minor, token, client, resume, .. } = hello else { unreachable!("kind 1 decodes to a hello") };
    // An older minor is served; a newer one may send what this server
    // cannot read.
    if major != VERSION_MAJOR || minor > VERSION_MINOR {
        let m = format!("client speaks protocol {major}.{minor}; this server speaks {VERSION_MAJOR}.{VERSION_MINOR} (upgrade the older side)");
        send_error(state, wr, request, ErrorCode::Version, m).await;
        return None;
    }
    if let Some(expected) = &state.config.token {
        if !secrets_equal(expected, &token) {
            send_error(state, wr, request, ErrorCode::Auth, "bad auth token".into()).await;
            return None;
        }
    }
    let resumed = match resume {
        Some((id, secret)) => {
            let s = claim(state, id, &secret).await;
            if s.is_none() {
                tracing::info!(session = id, %peer, "cannot resume the session (unknown, expired, or a wrong secret); opening a new one");
            }
            s
        }
        None => None,
    };
    let mut session = match resumed {
        Some(s) => s,
        None => {
            let secret = match new_secret() {
                Ok(s) => s,
                Err(e) => {
                    send_error(state, wr, request, ErrorCode::Execution, format!("cannot make a session secret: {e}")).await;
                    return None;
                }
            };
            state.metrics.sessions_active.fetch_add(1, Relaxed);
            let id = state.next_session.fetch_add(1, Relaxed);
            Session { id, secret, state: state.clone(), execs: vec![], tensors: HashMap::new(), private: 0, next_handle: 1, recent: VecDeque::new(), fds: None, proven: Default::default(), minor, cancel: Default::default(), plans_uploaded: 0 }
        }
    };
    session.minor = minor;
    let shm = if same_host && cfg!(target_os = "linux") { FEATURE_SHM } else { 0 };
    // A 1.0 client reads no resume secret.
    let secret = (minor >= 1).then_some(session.secret);
    let welcome = Msg::Welcome { major: VERSION_MAJOR, minor: VERSION_MINOR, features: FEATURE_UNIX_SOCKET | shm, session: session.id, max_payload: state.config.max_payload, resume: secret };
    let n = write_frame(wr, request, &welcome, &[]).await.ok()?;
    state.metrics.bytes_sent.fetch_add(n, Relaxed);
    tracing::info!(session = session.id, %peer, %client, resumed = resume.is_some_and(|(id, _)| id == session.id), "session opened");
    Some(session)
}

/// Serves one request whose header is `hb`. `Err` closes the connection
/// (the stream can no longer be trusted to be in step).
async fn request<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(state: &Arc<State>, session: &mut Session, rd: &mut R, wr: &mut W, hb: &[u8; HEADER_LEN], pending: &mut Vec<u8>) -> Result<(), Closed> {
    let m = &state.metrics;
    m.requests.fetch_add(1, Relaxed);
    let h = match Header::decode(hb) {
        Ok(h) => h,
        Err(e) => {
            send_error(state, wr, 0, ErrorCode::Malformed, format!("{e}; closing the connection")).await;
            return Err(Closed::Fatal(e.0));
        }
    };
    if h.meta_len > MAX_META || h.payload_len > state.config.max_payload {
        let e = format!("{} frame too large ({} meta bytes, {} payload bytes; limits {MAX_META} and {}); closing the connection", kind_name(h.kind), h.meta_len, h.payload_len, state.config.max_payload);
        send_error(state, wr, h.request, ErrorCode::Malformed, e.clone()).await;
        return Err(Closed::Fatal(e));
    }
    let stall = state.config.payload_timeout;
    // The meta buffer is counted too (up to MAX_META per connection).
    let meta_reserved = state.store().reserve(h.meta_len as u64, "a request's meta");
    if let Err((code, e)) = meta_reserved {
        send_error(state, wr, h.request, code, format!("{e}; closing the connection")).await;
        return Err(Closed::Fatal(e));
    }
    let mut meta = vec![0u8; h.meta_len as usize];
    let read = read_timed(rd, &mut meta, stall).await;
    let parsed = read.map(|()| Msg::decode_meta(h.kind, &meta));
    state.store().release(h.meta_len as u64);
    drop(meta);
    let decoded = parsed.map_err(|e| Closed::Fatal(e.to_string()))?;
    m.bytes_received.fetch_add(HEADER_LEN as u64 + h.meta_len as u64 + h.payload_len, Relaxed);
    let parsed = decoded.map_err(|e| e.0).and_then(|msg| check_payload(&msg, h.payload_len).map(|metas| (msg, metas)).map_err(|e| e.0));
    let (msg, metas) = match parsed {
        Ok(x) => x,
        Err(e) => {
            skip_payload(rd, session, &h, stall).await.map_err(|e| Closed::Fatal(e.to_string()))?;
            send_error(state, wr, h.request, ErrorCode::Malformed, e).await;
            return Ok(());
        }
    };
    // A cancel that arrives after its run ended has nothing to stop.
    if msg == Msg::Cancel {
        return Ok(());
    }
    // A payload a session's share cannot hold is refused before a byte of
    // it is read (shared uploads are the store's, bounded by the limit).
    let shared_upload = matches!(msg, Msg::PutPlan { .. } | Msg::PutTensor { .. });
    if !shared_upload && session.private.saturating_add(h.payload_len) > state.config.session_memory {
        let e = format!("the {} payload of {} bytes does not fit this session's share ({} of {} bytes held; --session-memory-limit)", msg.name(), h.payload_len, session.private, state.config.session_memory);
        skip_payload(rd, session, &h, stall).await.map_err(|e| Closed::Fatal(e.to_string()))?;
        send_error(state, wr, h.request, ErrorCode::OutOfMemory, e).await;
        return Ok(());
    }
    // A retried request gets the reply it already had.
    if replayable(&msg) {
        if let Some(r) = session.recent.iter().find(|r| r.request == h.request) {
            skip_payload(rd, session, &h, stall).await.map_err(|e| Closed::Fatal(e.to_string()))?;
            let Some(data) = &r.data else {
                let e = format!("request {} was applied, but its reply's tensors did not fit in memory to be sent again; read what it kept, or run it again", h.request);
                send_error(state, wr, h.request, ErrorCode::OutOfMemory, e).await;
                return Ok(());
            };
            let n = write_frame(wr, h.request, &r.reply, data).await.map_err(|e| Closed::Fatal(e.to_string()))?;
            m.bytes_sent.fetch_add(n, Relaxed);
            return Ok(());
        }
    }
    if h.flags & FLAG_SHM != 0 {
        // The segment exists already: its bytes are reserved at once.
        let reserved = state.store().reserve(h.payload_len, &format!("the {} payload", msg.name()));
        if let Err((code, e)) = reserved {
            skip_payload(rd, session, &h, stall).await.map_err(|e| Closed::Fatal(e.to_string()))?;
            send_error(state, wr, h.request, code, e).await;
            return Ok(());
        }
        let reply = match shm_payload(session, &metas, h.payload_len) {
            Err(e) => {
                state.store().release(h.payload_len);
                Err((ErrorCode::Malformed, format!("{}: {e}", msg.name())))
            }
            Ok(payload) => {
                // Shared uploads keep their reservation (the store holds them).
                let keeps = matches!(msg, Msg::PutPlan { .. } | Msg::PutTensor { .. });
                let minor = session.minor;
                let r = with_keepalive(state, wr, h.request, minor, session.handle(msg.clone(), payload), std::future::pending()).await;
                if !keeps {
                    state.store().release(h.payload_len);
                }
                r
            }
        };
        if matches!(msg, Msg::PutPlan { .. } | Msg::PutTensor { .. }) {
            m.upload_bytes.fetch_add(h.payload_len, Relaxed);
        }
        return reply_to(state, session, wr, h.request, replayable(&msg), reply).await;
    }
    // Payload memory is taken from the account as the bytes arrive, not on
    // the header's word: a frame that stalls holds only what it sent.
    let mut payload = Vec::with_capacity(metas.len());
    let mut bad = None;
    let mut reserved = 0u64;
    let what = format!("the {} payload", msg.name());
    for t in metas {
        // Every tensor is read even after a bad one, so the stream stays in step.
        let r = if bad.is_some() { drain_timed(rd, t.bytes().unwrap_or(0), stall).await.map(|()| Err((ErrorCode::Malformed, String::new()))) } else { read_tensor(state, rd, t, &mut reserved, &what, stall).await };
        match r {
            Ok(Ok(x)) => payload.push(x),
            Ok(Err(e)) => bad = bad.or(Some(e)),
            Err(e) => {
                state.store().release(reserved);
                return Err(Closed::Fatal(e.to_string()));
            }
        }
    }
    if let Some((code, e)) = bad {
        state.store().release(reserved);
        let e = if code == ErrorCode::Malformed { format!("{}: {e}", msg.name()) } else { e };
        send_error(state, wr, h.request, code, e).await;
        return Ok(());
    }
    if matches!(msg, Msg::PutPlan { .. } | Msg::PutTensor { .. }) {
        m.upload_bytes.fetch_add(h.payload_len, Relaxed);
    }
    let is_run = replayable(&msg);
    // Shared uploads keep their reservation (the store now holds them);
    // run inputs are only borrowed for the call.
    let keeps_payload = matches!(msg, Msg::PutTensor { .. } | Msg::PutPlan { .. });
    let minor = session.minor;
    let reply = if matches!(msg, Msg::Run { .. }) && minor >= 2 {
        // While it runs, the client may cancel it (or hang up).
        let cancel = Arc::new(AtomicBool::new(false));
        session.cancel = cancel.clone();
        let watch = watch_for_cancel(rd, pending, h.request, cancel);
        with_keepalive(state, wr, h.request, minor, session.handle(msg, payload), watch).await
    } else {
        with_keepalive(state, wr, h.request, minor, session.handle(msg, payload), std::future::pending()).await
    };
    if !keeps_payload {
        state.store().release(reserved);
    }
    reply_to(state, session, wr, h.request, is_run, reply).await
}

/// Serves `reply` (a request being handled), telling a 1.1 client every
/// `KEEPALIVE` that it is still being worked on, so the client can tell a
/// long run from a dead link. The request is always carried through, even
/// when the link breaks meanwhile: its effects and the reply kept for a
/// retry must not depend on whether the client was still there.
async fn with_keepalive<W: AsyncWrite + Unpin>(state: &State, wr: &mut W, request: u64, minor: u16, reply: impl std::future::Future<Output = Reply>, watch: impl std::future::Future<Output = ()>) -> Reply {
    if minor < 1 {
        return reply.await;
    }
    tokio::pin!(reply);
    tokio::pin!(watch);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let mut link_up = true;
    loop {
        tokio::select! {
            r = &mut reply => return r,
            () = &mut watch => {}
            _ = tick.tick(), if link_up => match write_frame(wr, request, &Msg::Working, &[]).await {
                Ok(n) => { state.metrics.bytes_sent.fetch_add(n, Relaxed); }
                Err(_) => link_up = false,
            },
        }
    }
}

/// Reads what the client sends while its run is served (1.2): a `Cancel`
/// for that request sets `cancel`, and so does a clean end of the stream
/// (the client left). Any other frame's header is the client's next request: it
/// is left in `pending` for the connection to serve next. Never returns;
/// reading is cancel-safe, so a byte read is never lost.
async fn watch_for_cancel<R: AsyncRead + Unpin>(rd: &mut R, pending: &mut Vec<u8>, request: u64, cancel: Arc<AtomicBool>) {
    let mut buf = [0u8; HEADER_LEN];
    while pending.len() < HEADER_LEN {
        match rd.read(&mut buf[..HEADER_LEN - pending.len()]).await {
            // A clean close: the client is gone for good (its session is
            // freed), so its run stops.
            Ok(0) => {
                cancel.store(true, Relaxed);
                break;
            }
            // A broken link: the run is carried through, so a resumed
            // session's retry finds its reply.
            Err(_) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
        if pending.len() == HEADER_LEN {
            let header: [u8; HEADER_LEN] = pending[..].try_into().expect("a full header");
            match Header::decode(&header) {
                Ok(h) if h.kind == Msg::Cancel.kind() && h.meta_len == 0 && h.payload_len == 0 => {
                    if h.request == request {
                        tracing::info!(request, "the client cancelled its run");
                        cancel.store(true, Relaxed);
                    }
                    pending.clear();
                }
                _ => break,
            }
        }
    }
    std::future::pending::<()>().await
}

/// Sends a reply (or the refusal). The reply to a request with effects is
/// remembered first, so a retry after a broken write still finds it.
async fn reply_to<W: AsyncWrite + Unpin>(state: &Arc<State>, session: &mut Session, wr: &mut W, request: u64, replayable: bool, reply: Reply) -> Result<(), Closed> {
    match reply {
        Ok((reply, data)) => {
            if replayable {
                let bytes: u64 = data.iter().map(tensor_bytes).sum();
                let fits = session.take(bytes, "a reply kept for a retry").is_ok();
                let kept = Replay { request, reply: reply.clone(), data: fits.then(|| data.clone()), bytes: if fits { bytes } else { 0 } };
                session.recent.push_back(kept);
                if session.recent.len() > REPLAYS {
                    let old = session.recent.pop_front().expect("more than REPLAYS");
                    session.give(old.bytes);
                }
            }
            let n = write_frame(wr, request, &reply, &data).await.map_err(|e| Closed::Fatal(e.to_string()))?;
            state.metrics.bytes_sent.fetch_add(n, Relaxed);
        }
        Err((code, e)) => send_error(state, wr, request, code, e).await,
    }
    Ok(())
}

/// The payload tensors of a frame whose data came in shared memory: views
/// of the sealed segment passed with it (no copy).
#[cfg(target_os = "linux")]
fn shm_payload(session: &Session, metas: &[TensorMeta], payload_len: u64) -> Result<Vec<Tensor>, String> {
    use crate::shm::{layout, Mapping};
    let fd = session.fds.as_ref().and_then(|q| q.lock().unwrap_or_else(|p| p.into_inner()).pop_front());
    let fd = fd.ok_or("the frame says its payload is in shared memory, but no descriptor came with it (only Unix-socket clients can do that)")?;
    let sizes: Vec<usize> = metas.iter().map(|m| m.bytes().unwrap_or(0) as usize).collect();
    let (offsets, end) = layout(sizes.iter().copied());
    debug_assert_eq!(sizes.iter().sum::<usize>() as u64, payload_len);
    let map = Arc::new(Mapping::map_sealed(&fd, end)?);
    metas
        .iter()
        .zip(offsets)
        .zip(sizes)
        .map(|((m, at), n)| {
            let owner = map.clone();
            // SAFETY: [at, at + n) lies in the sealed, read-only mapping
            // (map_sealed checked its size), which `owner` keeps alive.
            let storage = unsafe { genie_runtime::Storage::external(map.as_ptr().wrapping_add(at), n, Box::new(owner)) };
            let strides = genie_runtime::tensor::strides(&m.shape);
            Tensor::from_storage(Arc::new(storage), m.dtype, m.shape.clone(), strides, 0)
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn shm_payload(_: &Session, _: &[TensorMeta], _: u64) -> Result<Vec<Tensor>, String> {
    Err("shared-memory payloads need Linux".into())
}

/// A tensor's content hash and possession value, on all cores (every
/// upload is checked with it).
fn identity_parallel(t: &Tensor) -> (Hash, Hash) {
    let c = t.contiguous();
    identity_of(&TensorMeta { dtype: t.dtype(), shape: t.shape.clone() }, c.contiguous_bytes().expect("contiguous() makes a contiguous tensor"), true)
}

/// Descriptors that arrived on a Unix socket, in order.
type FdQueue = Arc<Mutex<VecDeque<std::os::fd::OwnedFd>>>;

/// A Unix socket whose reads collect passed descriptors (SCM_RIGHTS) into
/// a queue; a plain read would silently drop them.
struct FdStream {
    inner: tokio::net::UnixStream,
    fds: FdQueue,
}

impl AsyncRead for FdStream {
    fn poll_read(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> std::task::Poll<io::Result<()>> {
        use std::os::fd::AsRawFd;
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            match this.inner.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let fd = this.inner.as_raw_fd();
            let mut got = vec![];
            let unfilled = buf.initialize_unfilled();
            #[cfg(target_os = "linux")]
            let r = this.inner.try_io(tokio::io::Interest::READABLE, || crate::shm::recv_with_fds(fd, unfilled, &mut got));
            #[cfg(not(target_os = "linux"))]
            let r = this.inner.try_io(tokio::io::Interest::READABLE, || {
                let _ = (fd, &mut got);
                Err::<usize, _>(io::Error::from(io::ErrorKind::Unsupported))
            });
            match r {
                Ok(n) => {
                    if !got.is_empty() {
                        this.fds.lock().unwrap_or_else(|p| p.into_inner()).extend(got);
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, bufs: &[IoSlice<'_>]) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A fresh buffer for `bytes` of tensor data; large ones are backed by
/// transparent huge pages where the kernel allows, so receiving into them
/// takes one page fault per 2 MiB instead of per 4 KiB.
fn receive_buffer(bytes: usize) -> Vec<u64> {
    let mut words = Tensor::word_buffer(bytes);
    #[cfg(target_os = "linux")]
    if bytes >= 4 << 20 {
        // SAFETY: advice on memory this Vec owns and nobody has touched yet;
        // madvise changes no contents.
        unsafe { libc::madvise(words.as_mut_ptr().cast(), words.len() * 8, libc::MADV_HUGEPAGE) };
    }
    words
}

/// A payload is read and accounted this much at a time.
const PAYLOAD_CHUNK: usize = 8 << 20;

/// Fills `buf`, each chunk of it given `stall` to arrive.
async fn read_timed<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut [u8], stall: Duration) -> io::Result<()> {
    for chunk in buf.chunks_mut(PAYLOAD_CHUNK) {
        match timeout(stall, read_exact(rd, chunk)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no request bytes for {stall:?} in the middle of a frame; closing the connection"))),
        }
    }
    Ok(())
}

/// Reads and throws away `n` bytes, each chunk given `stall` to arrive.
async fn drain_timed<R: AsyncRead + Unpin>(rd: &mut R, n: u64, stall: Duration) -> io::Result<()> {
    match timeout(stall.saturating_mul(u32::try_from(n.div_ceil(PAYLOAD_CHUNK as u64)).unwrap_or(u32::MAX).max(1)), drain(rd, n)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "a refused payload stalled; closing the connection")),
    }
}

/// Reads one payload tensor straight into its own buffer (no staging copy),
/// taking each chunk from the memory account (adding to `reserved`) just
/// before it is read. `Ok(Err)`: refused, the rest of it read and dropped.
async fn read_tensor<R: AsyncRead + Unpin>(state: &State, rd: &mut R, t: TensorMeta, reserved: &mut u64, what: &str, stall: Duration) -> io::Result<Result<Tensor, (ErrorCode, String)>> {
    let n = t.bytes().unwrap_or(0) as usize;
    let mut words = receive_buffer(n);
    let bytes = genie_runtime::tensor::words_as_bytes(&mut words, n);
    let mut done = 0;
    while done < n {
        let k = (n - done).min(PAYLOAD_CHUNK);
        let taken = state.store().reserve(k as u64, what);
        if let Err(refused) = taken {
            drain_timed(rd, (n - done) as u64, stall).await?;
            return Ok(Err(refused));
        }
        *reserved += k as u64;
        read_timed(rd, &mut bytes[done..done + k], stall).await?;
        done += k;
    }
    Ok(Tensor::from_words(words, t.dtype, t.shape).map_err(|e| (ErrorCode::Malformed, e)))
}

async fn metrics_loop(l: TcpListener, state: Arc<State>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let mut req = vec![0u8; 2048];
            let n = match timeout(Duration::from_secs(5), s.read(&mut req)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let line = String::from_utf8_lossy(&req[..n]);
            let (status, body) = if line.starts_with("GET /metrics ") || line.starts_with("GET / ") { ("200 OK", render_metrics(&state)) } else { ("404 Not Found", "not found; try /metrics\n".to_string()) };
            let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = s.write_all(resp.as_bytes()).await;
        });
    }
}

fn render_metrics(state: &State) -> String {
    let m = &state.metrics;
    let (used, limit, plans, tensors, evictions) = {
        let s = state.store();
        let (p, t) = s.counts();
        (s.used(), s.limit, p, t, s.evictions)
    };
    let (waiting, running) = state.device.depth();
    let parked = state.sessions().parked() as u64;
    let rows: [(&str, &str, &str, u64); 19] = [
        ("genie_connections_total", "counter", "Connections accepted.", m.connections.load(Relaxed)),
        ("genie_connections_open", "gauge", "Connections open now.", m.connections_open.load(Relaxed)),
        ("genie_sessions_active", "gauge", "Sessions open now (parked ones included).", m.sessions_active.load(Relaxed)),
        ("genie_sessions_parked", "gauge", "Sessions whose connection broke, waiting to be resumed.", parked),
        ("genie_requests_total", "counter", "Requests received.", m.requests.load(Relaxed)),
        ("genie_errors_total", "counter", "Requests answered with an error.", m.errors.load(Relaxed)),
        ("genie_bytes_received_total", "counter", "Bytes read from clients.", m.bytes_received.load(Relaxed)),
        ("genie_bytes_sent_total", "counter", "Bytes written to clients.", m.bytes_sent.load(Relaxed)),
        ("genie_upload_bytes_total", "counter", "Payload bytes of uploaded plans and shared tensors.", m.upload_bytes.load(Relaxed)),
        ("genie_runs_total", "counter", "Plan runs.", m.runs.load(Relaxed)),
        ("genie_runs_stopped_total", "counter", "Runs stopped by their deadline or the client's cancel.", m.runs_stopped.load(Relaxed)),
        ("genie_runs_waiting", "gauge", "Runs queued for the device now.", waiting as u64),
        ("genie_runs_running", "gauge", "Runs on the device now.", running as u64),
        ("genie_run_seconds_total", "counter", "Time spent running plans, in microseconds.", m.run_micros.load(Relaxed)),
        ("genie_memory_in_use_bytes", "gauge", "Bytes held by plans, shared tensors and session tensors.", used),
        ("genie_memory_limit_bytes", "gauge", "The memory limit.", limit),
        ("genie_plans", "gauge", "Plans cached.", plans as u64),
        ("genie_shared_tensors", "gauge", "Shared tensors stored.", tensors as u64),
        ("genie_evictions_total", "counter", "Shared tensors evicted to make room.", evictions),
    ];
    let mut out = String::new();
    for (name, kind, help, v) in rows {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
    }
    out
}
