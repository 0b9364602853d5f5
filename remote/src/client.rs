//! A blocking client for `genie-runtime serve` (what the Python package uses).
//!
//! One request is in flight at a time: [`Client::call`] writes a frame with
//! vectored IO straight from tensor memory and reads the reply's tensors
//! straight into their new buffers. Counters in [`Stats`] say what crossed
//! the wire.

use crate::protocol::*;
use genie_runtime::Tensor;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use std::sync::{Arc, Mutex};

/// A failure talking to the server: a refusal the server sent (with its
/// code) or a transport problem (`code` is `None`; the connection is gone).
#[derive(Debug, Clone)]
pub struct RemoteError {
    pub code: Option<ErrorCode>,
    pub message: String,
    /// Nothing listens at the address: the server process is gone.
    refused: bool,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) => write!(f, "server refused: {}: {}", c.name(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RemoteError {}

type Result<T> = std::result::Result<T, RemoteError>;

fn transport(message: impl Into<String>) -> RemoteError {
    RemoteError { code: None, message: message.into(), refused: false }
}

/// What crossed the wire, cumulative for this client.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u64,
    /// Payload bytes of plans and shared tensors uploaded.
    pub upload_bytes: u64,
    /// Time spent in requests (writing, waiting, reading).
    pub wire_time: Duration,
    /// Time the server reported running plans.
    pub server_time: Duration,
    /// Payload bytes passed through shared memory instead of the socket.
    pub shm_bytes: u64,
    /// Keepalives received: a 1.1 server's word that a request is still
    /// being worked on.
    pub keepalives: u64,
    /// The last request's wire time and the server time it reported.
    pub last_wire: Duration,
    pub last_server: Duration,
}

/// The two directions of a connection: reads are buffered (a small reply
/// arrives in one system call), writes go straight out (vectored).
struct Stream {
    reader: io::BufReader<Box<dyn Read + Send + Sync>>,
    writer: Box<dyn Write + Send + Sync>,
    /// The socket, when it is a Unix one (descriptors can be passed).
    unix_fd: Option<i32>,
    /// The socket under it (TCP, the TCP under TLS, or Unix).
    socket_fd: i32,
}

impl Stream {
    fn new<S: Read + Write + Send + Sync + 'static>(s: S, clone: io::Result<S>, unix_fd: Option<i32>, socket_fd: i32) -> Result<Stream> {
        let r = clone.map_err(|e| transport(format!("cannot duplicate the socket: {e}")))?;
        Ok(Stream { reader: io::BufReader::with_capacity(64 << 10, Box::new(r)), writer: Box::new(s), unix_fd, socket_fd })
    }

    /// Makes closing this connection a reset, not a clean close: a server
    /// frees at once the session of a client that closes cleanly, and
    /// keeps for resuming one whose connection broke.
    fn abort_on_close(&self) {
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: the socket lives as long as this stream; a linger option
        // of its size.
        unsafe { libc::setsockopt(self.socket_fd, libc::SOL_SOCKET, libc::SO_LINGER, (&linger as *const libc::linger).cast(), std::mem::size_of::<libc::linger>() as libc::socklen_t) };
    }

    /// How long one read may wait for a byte.
    fn set_read_timeout(&self, d: Duration) {
        let tv = libc::timeval { tv_sec: d.as_secs() as libc::time_t, tv_usec: d.subsec_micros() as libc::suseconds_t };
        // SAFETY: the socket lives as long as this stream; a timeval option
        // of its size. On failure the previous timeout stays.
        unsafe { libc::setsockopt(self.socket_fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&tv as *const libc::timeval).cast(), std::mem::size_of::<libc::timeval>() as libc::socklen_t) };
    }
}

/// Where a server listens: `tcp://host:port`, `host:port`, or `unix:///path`.
pub enum Endpoint {
    Tcp(String),
    Unix(String),
    /// `tls://host:port`: TCP with TLS.
    Tls(String),
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint> {
        if let Some(path) = url.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(path.to_string()));
        }
        if let Some(addr) = url.strip_prefix("tls://") {
            return Ok(Endpoint::Tls(addr.to_string()));
        }
        if let Some(rest) = url.strip_prefix("rdma://") {
            // No RDMA data path in this build: say so and use TCP.
            tracing::warn!("rdma://{rest}: RDMA transport unavailable ({}); falling back to TCP", crate::rdma::unavailable_reason());
            return Ok(Endpoint::Tcp(rest.to_string()));
        }
        let addr = url.strip_prefix("tcp://").unwrap_or(url);
        if addr.contains("://") {
            return Err(transport(format!("unsupported remote address '{url}' (use tcp://host:port, tls://host:port or unix:///path)")));
        }
        Ok(Endpoint::Tcp(addr.to_string()))
    }
}

pub struct Client {
    stream: Stream,
    /// Where and how it connected (to resume the session on a new connection).
    url: String,
    token: Vec<u8>,
    timeout: Duration,
    tls_ca: Option<String>,
    /// The session's resume secret (servers from protocol 1.1 send one).
    resume: Option<Hash>,
    /// How long a broken connection is retried, resuming the session,
    /// before a call fails (zero: never).
    pub resume_window: Duration,
    /// Sessions resumed after a broken connection.
    pub resumes: u64,
    pub session: u64,
    pub server_features: u64,
    max_payload: u64,
    next_request: u64,
    /// The protocol minor the server speaks.
    server_minor: u16,
    /// How long the server may take over a run (1.2 servers stop it after
    /// that and answer `DeadlineExceeded`); `None`: no deadline.
    pub deadline: Option<Duration>,
    /// The run being waited for, for a [`Canceller`].
    waiting: Arc<Mutex<Waiting>>,
    pub stats: Stats,
    /// Print upload progress for payloads over 64 MiB.
    pub progress: bool,
}

const PROGRESS_THRESHOLD: u64 = 64 << 20;

impl Client {
    /// Connects and shakes hands; fails with the server's reason (bad token,
    /// version mismatch) or the transport's.
    pub fn connect(url: &str, token: &[u8], timeout: Duration) -> Result<Client> {
        Client::connect_with(url, token, timeout, None)
    }

    /// [`Client::connect`], trusting the PEM certificates in `tls_ca` for
    /// `tls://` addresses.
    pub fn connect_with(url: &str, token: &[u8], timeout: Duration, tls_ca: Option<&str>) -> Result<Client> {
        let stream = open(url, timeout, tls_ca)?;
        let mut c = Client {
            stream,
            url: url.to_string(),
            token: token.to_vec(),
            timeout,
            tls_ca: tls_ca.map(str::to_string),
            resume: None,
            resume_window: Duration::from_secs(30),
            resumes: 0,
            session: 0,
            server_features: 0,
            max_payload: u64::MAX,
            next_request: 1,
            server_minor: 0,
            deadline: None,
            waiting: Arc::new(Mutex::new(Waiting { fd: -1, request: 0, tls: url.starts_with("tls://") })),
            stats: Stats::default(),
            progress: false,
        };
        c.hello(None)?;
        Ok(c)
    }

    /// Shakes hands on the current stream, asking for `resume` (a session
    /// id and its secret) back; returns the session the server gave.
    fn hello(&mut self, resume: Option<(u64, Hash)>) -> Result<u64> {
        let hello = Msg::Hello {
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            features: FEATURE_UNIX_SOCKET | FEATURE_SHM,
            token: self.token.clone(),
            client: format!("genie-client {}", env!("CARGO_PKG_VERSION")),
            resume,
        };
        let id = self.next_request;
        self.next_request += 1;
        match self.exchange(id, &hello, &[])?.0 {
            Msg::Welcome { session, features, max_payload, resume, minor, .. } => {
                // A 1.1 server says it is working on a long request every
                // second: silence past LIVENESS is a broken link.
                if minor >= 1 {
                    self.stream.set_read_timeout(self.timeout.min(LIVENESS));
                }
                self.session = session;
                self.server_minor = minor;
                self.server_features = features;
                self.max_payload = max_payload;
                self.resume = resume;
                Ok(session)
            }
            other => Err(transport(format!("expected a welcome, got {}", other.name()))),
        }
    }

    /// After a broken connection: connects again and takes the session
    /// back, retrying within `resume_window`. Fails when the server no
    /// longer has the session (restarted, or past its grace period).
    fn resume_session(&mut self, broken: &RemoteError) -> Result<()> {
        let Some(secret) = self.resume.filter(|_| !self.resume_window.is_zero()) else { return Err(broken.clone()) };
        let session = self.session;
        // The server may not have seen the break (a slow reply, a one-way
        // partition): leaving with a reset tells it to keep the session.
        self.stream.abort_on_close();
        let deadline = Instant::now() + self.resume_window;
        let mut wait = Duration::from_millis(20);
        loop {
            // Each attempt gets a short connect timeout, so a partitioned
            // link is retried rather than waited on.
            let attempt = open(&self.url, self.timeout.min(Duration::from_secs(2)), self.tls_ca.as_deref()).and_then(|stream| {
                self.stream = stream;
                self.hello(Some((session, secret)))
            });
            match attempt {
                // The same secret back: the same session (a restarted
                // server may hand out the same id to a new one).
                Ok(s) if s == session && self.resume == Some(secret) => {
                    self.resumes += 1;
                    tracing::info!(session, "resumed the session after: {}", broken.message);
                    return Ok(());
                }
                Ok(_) => return Err(transport(format!("{}; the server no longer has session {session} (restarted, or past its grace period)", broken.message))),
                // A refusal (auth, version) will not change by retrying, and
                // a server whose port is closed has lost its sessions.
                Err(e) if e.code.is_some() => return Err(e),
                Err(e) if e.refused => return Err(transport(format!("{}; reconnecting: {e}", broken.message))),
                Err(e) if Instant::now() + wait >= deadline => return Err(transport(format!("{}; resuming the session failed for {:?}: {e}", broken.message, self.resume_window))),
                Err(_) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// One request and its reply. Payload slices are written as they are.
    pub fn call(&mut self, msg: &Msg, payload: &[&[u8]]) -> Result<(Msg, Vec<Tensor>)> {
        let id = self.next_request;
        self.next_request += 1;
        self.call_with_id(id, msg, payload)
    }

    /// Like [`Client::call`] with a chosen request id (a retry reuses it).
    /// A broken connection is resumed and the request sent again under the
    /// same id: the server applies it once.
    pub fn call_with_id(&mut self, id: u64, msg: &Msg, payload: &[&[u8]]) -> Result<(Msg, Vec<Tensor>)> {
        match self.exchange(id, msg, payload) {
            Err(e) if e.code.is_none() && self.resume.is_some() => {
                self.resume_session(&e)?;
                self.exchange(id, msg, payload)
            }
            r => r,
        }
    }

    /// One frame out and its reply in, on the current connection.
    fn exchange(&mut self, id: u64, msg: &Msg, payload: &[&[u8]]) -> Result<(Msg, Vec<Tensor>)> {
        let start = Instant::now();
        let meta = msg.encode_meta();
        let payload_len: u64 = payload.iter().map(|p| p.len() as u64).sum();
        if payload_len > self.max_payload {
            return Err(RemoteError {
                refused: false,
                code: Some(ErrorCode::OutOfMemory),
                message: format!("{} carries {payload_len} bytes; the server accepts at most {} per request", msg.name(), self.max_payload),
            });
        }
        let what = msg.name();
        let sent = match self.shm_socket(payload_len) {
            #[cfg(target_os = "linux")]
            Some(fd) => {
                let header = Header { kind: msg.kind(), flags: FLAG_SHM, meta_len: meta.len() as u32, payload_len, request: id }.encode();
                let sent = send_with_segment(fd, &mut self.stream.writer, &header, &meta, payload).map_err(|e| transport(format!("sending {what} through shared memory failed: {e}")))?;
                self.stats.shm_bytes += payload_len;
                sent
            }
            _ => {
                let header = Header { kind: msg.kind(), flags: 0, meta_len: meta.len() as u32, payload_len, request: id }.encode();
                let show = self.progress && payload_len > PROGRESS_THRESHOLD;
                write_frame(&mut self.stream.writer, &header, &meta, payload, show).map_err(|e| transport(format!("sending {what} failed: {e} (is the server running?)")))?
            }
        };
        self.stats.bytes_sent += sent;
        let cancellable = matches!(msg, Msg::Run { .. }) && self.server_minor >= 2;
        if cancellable {
            let mut w = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            (w.fd, w.request) = (self.stream.socket_fd, id);
        }
        let replied = loop {
            let (reply, tensors, received) = match read_frame(&mut self.stream.reader) {
                Ok(x) => x,
                Err(e) => break Err(transport(format!("waiting for the reply to {what}: {e}"))),
            };
            self.stats.bytes_received += received;
            // The server is still on it (1.1): keep waiting.
            if reply != Msg::Working {
                break Ok((reply, tensors));
            }
            self.stats.keepalives += 1;
        };
        if cancellable {
            self.waiting.lock().unwrap_or_else(|p| p.into_inner()).request = 0;
        }
        let (reply, tensors) = replied?;
        self.stats.round_trips += 1;
        self.stats.last_wire = start.elapsed();
        self.stats.last_server = Duration::ZERO;
        self.stats.wire_time += self.stats.last_wire;
        if let Msg::Error { code, message } = reply {
            return Err(RemoteError { code: Some(code), message, refused: false });
        }
        Ok((reply, tensors))
    }

    /// The Unix socket to pass a shared-memory payload of `len` bytes
    /// over, when the server takes them and the payload is worth it.
    fn shm_socket(&self, len: u64) -> Option<i32> {
        let shm = cfg!(target_os = "linux") && self.server_features & FEATURE_SHM != 0 && len >= SHM_THRESHOLD;
        self.stream.unix_fd.filter(|_| shm)
    }

    pub fn ping(&mut self) -> Result<()> {
        expect_ok(self.call(&Msg::Ping, &[])?.0, "ping", |m| matches!(m, Msg::Pong))
    }

    pub fn has(&mut self, hashes: Vec<Hash>) -> Result<Vec<bool>> {
        let n = hashes.len();
        match self.call(&Msg::Has { hashes }, &[])?.0 {
            Msg::HasReply { present } if present.len() == n => Ok(present),
            other => Err(transport(format!("has: unexpected reply {}", other.name()))),
        }
    }

    pub fn put_plan(&mut self, hash: Hash, plan: &[u8]) -> Result<()> {
        let r = self.call(&Msg::PutPlan { hash, len: plan.len() as u64 }, &[plan])?.0;
        self.stats.upload_bytes += plan.len() as u64;
        expect_ok(r, "put-plan", |m| matches!(m, Msg::Ok))
    }

    /// Uploads a shared tensor under its content hash (the server checks it).
    pub fn put_tensor(&mut self, hash: Hash, t: &Tensor) -> Result<()> {
        let c = t.contiguous();
        let bytes = c.contiguous_bytes().expect("contiguous() makes a contiguous tensor");
        let meta = TensorMeta { dtype: t.dtype(), shape: t.shape.clone() };
        let r = self.call(&Msg::PutTensor { hash, meta }, &[bytes])?.0;
        self.stats.upload_bytes += bytes.len() as u64;
        expect_ok(r, "put-tensor", |m| matches!(m, Msg::Ok))
    }

    /// The session's resume secret, if the server sent one (1.1).
    pub fn resume_secret(&self) -> Option<Hash> {
        self.resume
    }

    /// Loads plan `plan` with shared tensors bound; each must have been
    /// uploaded by this session (see [`Client::load_proving`]).
    pub fn load(&mut self, plan: Hash, binds: Vec<(Slot, Hash)>) -> Result<u32> {
        self.load_msg(Msg::Load { plan, binds, proofs: vec![] })
    }

    /// Loads plan `plan` binding shared tensors by `(slot, content hash,
    /// possession value)` (`protocol::tensor_identity`): the server's copy
    /// of a tensor this session did not upload is bound once the session
    /// proves it holds the same bytes.
    pub fn load_proving(&mut self, plan: Hash, binds: Vec<(Slot, Hash, Hash)>) -> Result<u32> {
        let proofs = match self.resume {
            Some(secret) => binds.iter().map(|(_, h, p)| bind_proof(&secret, h, p)).collect(),
            None => vec![],
        };
        self.load_msg(Msg::Load { plan, binds: binds.into_iter().map(|(s, h, _)| (s, h)).collect(), proofs })
    }

    fn load_msg(&mut self, load: Msg) -> Result<u32> {
        match self.call(&load, &[])?.0 {
            Msg::Loaded { exec } => Ok(exec),
            other => Err(transport(format!("load: unexpected reply {}", other.name()))),
        }
    }

    /// Runs a loaded plan. `tensors` are the data of the `Arg::Tensor`
    /// arguments, in order (contiguous). Returns the outputs and the
    /// returned tensors' data in order.
    /// Also returns the server's run time in microseconds.
    pub fn run(&mut self, exec: u32, args: Vec<Arg>, tensors: &[Tensor], ret: Vec<bool>, release: Vec<u64>) -> Result<(Vec<Out>, Vec<Tensor>, u64)> {
        let payload: Vec<&[u8]> = tensors.iter().map(|t| t.contiguous_bytes().ok_or_else(|| transport("run: argument tensors must be contiguous"))).collect::<Result<_>>()?;
        // (A server older than 1.2 would not read the field.)
        let deadline_ms = self.deadline.filter(|_| self.server_minor >= 2).map(|d| d.as_millis().min(u64::MAX as u128) as u64);
        match self.call(&Msg::Run { exec, args, ret, release, deadline_ms }, &payload)? {
            (Msg::Result { outs, server_micros }, data) => {
                self.stats.last_server = Duration::from_micros(server_micros);
                self.stats.server_time += self.stats.last_server;
                Ok((outs, data, server_micros))
            }
            (other, _) => Err(transport(format!("run: unexpected reply {}", other.name()))),
        }
    }

    /// A handle another thread can cancel this client's runs with.
    pub fn canceller(&self) -> Canceller {
        Canceller(self.waiting.clone())
    }

    pub fn fetch(&mut self, handle: u64) -> Result<Tensor> {
        match self.call(&Msg::Fetch { handle }, &[])? {
            (Msg::Data { .. }, mut data) if data.len() == 1 => Ok(data.pop().unwrap()),
            (other, _) => Err(transport(format!("fetch: unexpected reply {}", other.name()))),
        }
    }

    pub fn release(&mut self, handles: Vec<u64>) -> Result<()> {
        expect_ok(self.call(&Msg::Release { handles }, &[])?.0, "release", |m| matches!(m, Msg::Ok))
    }
}

/// The run a client waits for: its request id (0: none) on the socket `fd`.
struct Waiting {
    fd: i32,
    request: u64,
    tls: bool,
}

/// Cancels, from another thread, the run a [`Client`] is waiting for (a
/// 1.2 server stops it between two instructions; the client's call then
/// fails with `Cancelled`).
#[derive(Clone)]
pub struct Canceller(Arc<Mutex<Waiting>>);

impl Canceller {
    /// Sends the cancel; `false` when no run was being waited for.
    pub fn cancel(&self) -> Result<bool> {
        let w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if w.request == 0 {
            return Ok(false);
        }
        if w.tls {
            return Err(transport("cancelling a run over TLS is not supported (the TLS stream is the waiting thread's)"));
        }
        let header = Header { kind: Msg::Cancel.kind(), flags: 0, meta_len: 0, payload_len: 0, request: w.request }.encode();
        // SAFETY: the socket stays open while a request is waited for (the
        // lock is held, and the client clears `request` before it changes
        // connection); a whole header in one send, no signal on a closed peer.
        let n = unsafe { libc::send(w.fd, header.as_ptr().cast(), header.len(), libc::MSG_NOSIGNAL) };
        if n != header.len() as isize {
            return Err(transport(format!("sending the cancel failed: {}", io::Error::last_os_error())));
        }
        Ok(true)
    }
}

fn expect_ok(m: Msg, what: &str, ok: impl Fn(&Msg) -> bool) -> Result<()> {
    if ok(&m) {
        Ok(())
    } else {
        Err(transport(format!("{what}: unexpected reply {}", m.name())))
    }
}

/// A new connection to `url` (no handshake yet).
fn open(url: &str, timeout: Duration, tls_ca: Option<&str>) -> Result<Stream> {
    Ok(match Endpoint::parse(url)? {
        Endpoint::Tcp(addr) => {
            let s = tcp_connect(&addr, timeout)?;
            let c = s.try_clone();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
            Stream::new(s, c, None, fd)?
        }
        Endpoint::Tls(addr) => {
            let ca = tls_ca.ok_or_else(|| transport(format!("{url}: TLS needs a certificate to trust (option tls_ca or GENIE_REMOTE_TLS_CA)")))?;
            let config = crate::tls::client_config(ca).map_err(transport)?;
            let host = addr.rsplit_once(':').map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']')).unwrap_or(&addr);
            let tcp = tcp_connect(&addr, timeout)?;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&tcp);
            let tls = crate::tls::SharedTls::connect(config, host, tcp).map_err(transport)?;
            Stream::new(tls.clone(), Ok(tls), None, fd)?
        }
        #[cfg(unix)]
        Endpoint::Unix(path) => {
            let s = UnixStream::connect(&path).map_err(|e| RemoteError { refused: matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound), ..transport(format!("cannot connect to unix socket {path}: {e}")) })?;
            s.set_read_timeout(Some(timeout)).map_err(|e| transport(e.to_string()))?;
            s.set_write_timeout(Some(timeout)).map_err(|e| transport(e.to_string()))?;
            let c = s.try_clone();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
            Stream::new(s, c, Some(fd), fd)?
        }
        #[cfg(not(unix))]
        Endpoint::Unix(_) => return Err(transport("unix sockets need a Unix host")),
    })
}

fn tcp_connect(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<_> = addr.to_socket_addrs().map_err(|e| transport(format!("cannot resolve '{addr}': {e}")))?.collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_nodelay(true).map_err(|e| transport(e.to_string()))?;
                thin_stream(std::os::fd::AsRawFd::as_raw_fd(&s));
                s.set_read_timeout(Some(timeout)).map_err(|e| transport(e.to_string()))?;
                s.set_write_timeout(Some(timeout)).map_err(|e| transport(e.to_string()))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let refused = last.as_ref().is_some_and(|e| e.kind() == io::ErrorKind::ConnectionRefused);
    Err(RemoteError { refused, ..transport(format!("cannot connect to {addr}: {}", last.map(|e| e.to_string()).unwrap_or("no address".into()))) })
}

/// Payloads at least this large go through shared memory on a Unix socket.
const SHM_THRESHOLD: u64 = 64 << 10;

/// Copies the payload into a sealed memfd and sends header and meta with
/// its descriptor attached; returns the socket bytes written.
#[cfg(target_os = "linux")]
fn send_with_segment(fd: i32, w: &mut dyn Write, header: &[u8], meta: &[u8], payload: &[&[u8]]) -> io::Result<u64> {
    let segment = crate::shm::sealed_segment(payload)?;
    let bufs = [IoSlice::new(header), IoSlice::new(meta)];
    let n = crate::shm::send_with_fd(fd, &bufs, std::os::fd::AsRawFd::as_raw_fd(&segment))?;
    // The descriptor went with the first bytes; the rest (if the socket
    // took only part) follows as plain bytes.
    let all: Vec<u8> = [header, meta].concat();
    if n < all.len() {
        w.write_all(&all[n..])?;
        w.flush()?;
    }
    Ok(all.len() as u64)
}

/// Writes header, meta and payload with as few system calls as the kernel
/// allows; returns the bytes written.
pub fn write_frame(w: &mut dyn Write, header: &[u8], meta: &[u8], payload: &[&[u8]], progress: bool) -> io::Result<u64> {
    let mut slices: Vec<IoSlice> = Vec::with_capacity(2 + payload.len());
    slices.push(IoSlice::new(header));
    slices.push(IoSlice::new(meta));
    if !progress {
        slices.extend(payload.iter().map(|p| IoSlice::new(p)));
        return write_all_vectored(w, &mut slices);
    }
    let total: u64 = payload.iter().map(|p| p.len() as u64).sum();
    let mut n = write_all_vectored(w, &mut slices)?;
    let mut done = 0u64;
    let start = Instant::now();
    for p in payload {
        for chunk in p.chunks(16 << 20) {
            w.write_all(chunk)?;
            done += chunk.len() as u64;
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            eprint!("\rgenie: uploading {:>6.1} / {:.1} MiB ({:.0} MiB/s)", done as f64 / 1048576.0, total as f64 / 1048576.0, done as f64 / 1048576.0 / secs);
        }
    }
    eprintln!();
    n += done;
    Ok(n)
}

fn write_all_vectored(w: &mut dyn Write, mut slices: &mut [IoSlice<'_>]) -> io::Result<u64> {
    let mut total = 0u64;
    // Skip empty slices so a zero-length write means a closed peer.
    while !slices.is_empty() && slices[0].is_empty() {
        slices = &mut slices[1..];
    }
    while !slices.is_empty() {
        let n = w.write_vectored(slices)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "connection closed"));
        }
        total += n as u64;
        IoSlice::advance_slices(&mut slices, n);
    }
    w.flush()?;
    Ok(total)
}

fn read_exact(r: &mut dyn Read, buf: &mut [u8], what: &str) -> io::Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(e.kind(), format!("connection closed by the server while reading {what} (server stopped or killed?)")),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(e.kind(), format!("timed out reading {what}")),
        _ => e,
    })
}

/// Reads one frame: the message and its payload tensors (each read straight
/// into its own buffer); returns the bytes read too.
pub fn read_frame(r: &mut dyn Read) -> io::Result<(Msg, Vec<Tensor>, u64)> {
    let bad = |e: ProtoError| io::Error::new(io::ErrorKind::InvalidData, e.0);
    let mut hb = [0u8; HEADER_LEN];
    read_exact(r, &mut hb, "a frame header")?;
    let h = Header::decode(&hb).map_err(bad)?;
    if h.meta_len > MAX_META {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("reply meta of {} bytes exceeds {MAX_META}", h.meta_len)));
    }
    let mut meta = vec![0u8; h.meta_len as usize];
    read_exact(r, &mut meta, "a frame's meta")?;
    let msg = Msg::decode_meta(h.kind, &meta).map_err(bad)?;
    let metas = check_payload(&msg, h.payload_len).map_err(bad)?;
    let mut tensors = Vec::with_capacity(metas.len());
    for m in metas {
        let mut io_err = None;
        let t = Tensor::filled_by(m.dtype, m.shape, |buf| {
            read_exact(r, buf, "tensor data").map_err(|e| {
                let s = e.to_string();
                io_err = Some(e);
                s
            })
        });
        match (t, io_err) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            (Ok(t), None) => tensors.push(t),
        }
    }
    Ok((msg, tensors, HEADER_LEN as u64 + h.meta_len as u64 + h.payload_len))
}
