//! `genie-runtime serve` as a real process over real sockets: the happy
//! path, and every kind of bad input getting an error for that client only
//! while the server keeps serving others.

use genie_plan::{AttrDict, Attribute, Builder, DType, Dim, DeviceKind, Op, ResidentKind, Role, Type};
use genie_remote::client::Client;
use genie_remote::protocol::*;
use genie_runtime::Tensor;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    addr: String,
    metrics: Option<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_genie-runtime"))
        .arg("serve")
        .args(if extra.contains(&"--listen") { &[][..] } else { &["--listen", "127.0.0.1:0"][..] })
        .args(extra)
        .env("GENIE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start genie-runtime");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut metrics = None;
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "server exited before listening");
        if let Some(url) = line.trim().strip_prefix("genie-runtime: metrics on ") {
            metrics = Some(url.trim_start_matches("http://").trim_end_matches("/metrics").to_string());
        }
        if let Some(a) = line.trim().strip_prefix("genie-runtime: listening on ") {
            return Server { child, addr: a.to_string(), metrics };
        }
    }
}

const T: Duration = Duration::from_secs(10);

fn connect(s: &Server) -> Client {
    Client::connect(&s.addr, b"", T).expect("connect")
}

/// y = x @ w (w a weight) and a shape-symbol dimension, as plan bytecode.
fn matmul_plan() -> Vec<u8> {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let rows = Type::tensor(vec![Dim::Sym(0), Dim::Static(4)], DType::F32);
    let x = b.input(d, &rows, Role::Input);
    let w = b.input(d, &Type::tensor(vec![Dim::Static(4), Dim::Static(4)], DType::F32), Role::Weight);
    let y = b.call(d, Op::Mm, &[x, w], &AttrDict::new(), &[rows])[0];
    b.output(y, false);
    genie_plan::encode(&b.finish().unwrap())
}

fn eye() -> Tensor {
    let mut v = vec![0f32; 16];
    for i in 0..4 {
        v[i * 5] = 2.0;
    }
    Tensor::from_vec(vec![4, 4], v).unwrap()
}

/// Uploads the plan and the weight and loads them; returns the plan id.
fn load(c: &mut Client) -> u32 {
    let plan = matmul_plan();
    let ph = hash_bytes(&[&plan]);
    let w = eye();
    let (wh, possession) = tensor_identity(&w);
    let present = c.has(vec![ph, wh]).unwrap();
    if !present[0] {
        c.put_plan(ph, &plan).unwrap();
    }
    if !present[1] {
        c.put_tensor(wh, &w).unwrap();
    }
    // What it did not upload it proves it holds.
    c.load_proving(ph, vec![(Slot::Input(1), wh, possession)]).unwrap()
}

fn x(rows: usize) -> Tensor {
    Tensor::from_vec(vec![rows, 4], (0..rows * 4).map(|i| i as f32).collect()).unwrap()
}

fn arg(t: &Tensor) -> Arg {
    Arg::Tensor(TensorMeta { dtype: t.dtype(), shape: t.shape.clone() })
}

#[test]
fn runs_keeps_fetches_and_releases() {
    let s = serve(&[]);
    let mut c = connect(&s);
    c.ping().unwrap();
    let exec = load(&mut c);
    let input = x(3);
    // Returned directly.
    let (outs, data, _) = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert!(matches!(&outs[0], Out::Tensor(m) if m.shape == vec![3, 4]));
    assert_eq!(data[0].to_vec::<f32>().unwrap(), input.to_vec::<f32>().unwrap().iter().map(|v| v * 2.0).collect::<Vec<_>>());
    // Kept, then fed back by handle, then fetched.
    let (outs, data, _) = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![false], vec![]).unwrap();
    assert!(data.is_empty());
    let Out::Kept(h, _) = outs[0] else { panic!("{outs:?}") };
    let (outs, _, _) = c.run(exec, vec![Arg::Handle(h)], &[], vec![false], vec![]).unwrap();
    let Out::Kept(h2, _) = outs[0] else { panic!() };
    let t = c.fetch(h2).unwrap();
    assert_eq!(t.to_vec::<f32>().unwrap()[5], 5.0 * 4.0);
    c.release(vec![h, h2]).unwrap();
    let e = c.fetch(h).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::UnknownHandle));
    // The session survives the refusal.
    c.ping().unwrap();
}

#[test]
fn a_second_client_shares_uploaded_weights_but_not_handles() {
    let s = serve(&[]);
    let mut a = connect(&s);
    let exec = load(&mut a);
    let input = x(2);
    let (outs, _, _) = a.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![false], vec![]).unwrap();
    let Out::Kept(h, _) = outs[0] else { panic!() };
    let uploaded = a.stats.upload_bytes;
    assert!(uploaded > 0);

    let mut b = connect(&s);
    let exec_b = load(&mut b);
    assert_eq!(b.stats.upload_bytes, 0, "the plan and weight were already on the server");
    // b cannot name a's tensor.
    let e = b.fetch(h).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::UnknownHandle));
    assert!(e.message.contains("not held by this session"), "{e}");
    let e = b.run(exec_b, vec![Arg::Handle(h)], &[], vec![true], vec![]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::UnknownHandle));
    // a still can.
    assert_eq!(a.fetch(h).unwrap().shape, vec![2, 4]);
}

#[test]
fn bad_token_and_version_are_refused() {
    let dir = std::env::temp_dir().join(format!("genie-token-{}", std::process::id()));
    std::fs::write(&dir, "s3cret\n").unwrap();
    let s = serve(&["--auth-token-file", dir.to_str().unwrap()]);
    let e = Client::connect(&s.addr, b"wrong", T).err().expect("a bad token must fail");
    assert_eq!(e.code, Some(ErrorCode::Auth), "{e}");
    let e = Client::connect(&s.addr, b"", T).err().unwrap();
    assert_eq!(e.code, Some(ErrorCode::Auth));
    let mut ok = Client::connect(&s.addr, b"s3cret", T).unwrap();
    ok.ping().unwrap();

    // A hello from protocol 9.0.
    let hello = Msg::Hello { major: 9, minor: 0, features: 0, token: b"s3cret".to_vec(), client: "future".into(), resume: None };
    let (reply, _) = raw_exchange(&s.addr, &frame(&hello, 1));
    match reply {
        Msg::Error { code: ErrorCode::Version, message } => assert!(message.contains("9.0") && message.contains(&format!("{VERSION_MAJOR}.{VERSION_MINOR}")), "{message}"),
        other => panic!("{other:?}"),
    }
    // A newer minor of this major: the server cannot know what it may send.
    let hello = Msg::Hello { major: VERSION_MAJOR, minor: VERSION_MINOR + 1, features: 0, token: b"s3cret".to_vec(), client: "newer".into(), resume: None };
    let (reply, _) = raw_exchange(&s.addr, &frame(&hello, 1));
    assert!(matches!(reply, Msg::Error { code: ErrorCode::Version, .. }), "{reply:?}");
    // A 1.0 client is served, and gets the welcome it can read (no secret).
    let hello = Msg::Hello { major: VERSION_MAJOR, minor: 0, features: 0, token: b"s3cret".to_vec(), client: "older".into(), resume: None };
    let (reply, _) = raw_exchange(&s.addr, &frame(&hello, 1));
    assert!(matches!(reply, Msg::Welcome { resume: None, .. }), "{reply:?}");
    ok.ping().unwrap();
    let _ = std::fs::remove_file(dir);
}

#[test]
fn a_public_address_needs_a_token() {
    let out = Command::new(env!("CARGO_BIN_EXE_genie-runtime")).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without --auth-token-file") && err.contains("--tls-cert") && err.contains("--insecure"), "{err}");
    // Loopback needs none; a public address with --insecure starts.
    let _ = serve(&[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_genie-runtime")).args(["serve", "--listen", "0.0.0.0:0", "--insecure"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening on"), "{line}");
}

fn frame(m: &Msg, request: u64) -> Vec<u8> {
    let meta = m.encode_meta();
    let mut f = Header { kind: m.kind(), flags: 0, meta_len: meta.len() as u32, payload_len: 0, request }.encode().to_vec();
    f.extend_from_slice(&meta);
    f
}

fn hello() -> Vec<u8> {
    frame(&Msg::Hello { major: VERSION_MAJOR, minor: VERSION_MINOR, features: 0, token: vec![], client: "raw".into(), resume: None }, 1)
}

fn read_reply(s: &mut TcpStream) -> Option<Msg> {
    genie_remote::client::read_frame(s).ok().map(|(m, _, _)| m)
}

/// Sends raw bytes on a fresh connection; returns the first reply and
/// whether the server then closed the connection.
fn raw_exchange(addr: &str, bytes: &[u8]) -> (Msg, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s.write_all(bytes).unwrap();
    let reply = read_reply(&mut s).expect("a reply");
    let mut b = [0u8; 1];
    let closed = matches!(s.read(&mut b), Ok(0));
    (reply, closed)
}

#[test]
fn a_stalled_frame_holds_no_memory_and_is_cut_off() {
    // The attack: headers declaring payloads of nearly the whole limit,
    // then silence. Another client's upload must still fit, and the
    // stalled connections must be closed.
    let s = serve(&["--memory-limit", "64MiB", "--payload-timeout", "1"]);
    let big = TensorMeta { dtype: DType::F32, shape: vec![15 << 20] }; // 60 MiB
    let mut stalled = vec![];
    for _ in 0..3 {
        let mut a = TcpStream::connect(&s.addr).unwrap();
        a.set_read_timeout(Some(T)).unwrap();
        a.write_all(&hello()).unwrap();
        assert!(matches!(read_reply(&mut a), Some(Msg::Welcome { .. })));
        let m = Msg::PutTensor { hash: [5; 32], meta: big.clone() };
        let meta = m.encode_meta();
        let mut f = Header { kind: m.kind(), flags: 0, meta_len: meta.len() as u32, payload_len: 60 << 20, request: 2 }.encode().to_vec();
        f.extend_from_slice(&meta);
        f.extend_from_slice(&[0u8; 1000]); // a few bytes, then nothing
        a.write_all(&f).unwrap();
        stalled.push(a);
    }
    let mut c = connect(&s);
    let w = Tensor::from_vec(vec![8 << 20], vec![1f32; 8 << 20]).unwrap(); // 32 MiB
    c.put_tensor(tensor_hash(&w), &w).unwrap();
    for mut a in stalled {
        // The server gives up on the frame and closes the connection
        // (before the client's 10 s read timeout).
        let mut b = [0u8; 64];
        let closed = loop {
            match a.read(&mut b) {
                Ok(0) => break true,
                Ok(_) => continue, // an error reply first
                Err(_) => break false,
            }
        };
        assert!(closed, "a stalled connection stayed open");
    }
    c.ping().unwrap();
}

#[test]
fn connections_beyond_the_cap_are_refused_and_the_slot_comes_back() {
    let s = serve(&["--max-connections", "2"]);
    let mut a = connect(&s);
    let b = connect(&s);
    let e = Client::connect(&s.addr, b"", T).err().expect("a third connection must be refused");
    assert!(e.message.contains("connections open"), "{e}");
    a.ping().unwrap();
    drop(b);
    // The server notices the close; then a new client fits.
    let mut tries = 0;
    let mut c = loop {
        match Client::connect(&s.addr, b"", T) {
            Ok(c) => break c,
            Err(_) if tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    c.ping().unwrap();
}

#[test]
fn plans_left_behind_do_not_fill_the_server() {
    // The attack: valid plans padded (here with long debug locations) until
    // they fill the account, then the uploader leaves. Others must still fit.
    let s = serve(&["--memory-limit", "2MiB"]);
    let mut attacker = connect(&s);
    for i in 0..6 {
        let mut b = Builder::new(format!("pad{i}"));
        let d = b.device("dev0", DeviceKind::Cpu);
        let ty = Type::tensor(vec![Dim::Static(4)], DType::F32);
        let x = b.input(d, &ty, Role::Input);
        b.set_location(Some(&"x".repeat(300_000)));
        let y = b.call(d, Op::Neg, &[x], &AttrDict::new(), &[ty])[0];
        b.output(y, false);
        let plan = genie_plan::encode(&b.finish().unwrap());
        let _ = attacker.put_plan(hash_bytes(&[&plan]), &plan);
    }
    drop(attacker);
    let mut c = connect(&s);
    let w = Tensor::from_vec(vec![256 << 10], vec![1f32; 256 << 10]).unwrap(); // 1 MiB
    c.put_tensor(tensor_hash(&w), &w).unwrap();
    let exec = load(&mut c);
    let input = x(1);
    c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
}

fn error_of(m: Msg) -> (ErrorCode, String) {
    match m {
        Msg::Error { code, message } => (code, message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn malformed_truncated_and_oversized_frames() {
    let s = serve(&["--max-request", "1MiB"]);
    // A bystander session that must keep working throughout.
    let mut bystander = connect(&s);
    let exec = load(&mut bystander);

    // Garbage instead of a hello.
    let (reply, closed) = raw_exchange(&s.addr, b"GET / HTTP/1.1\r\n\r\n........");
    let (code, msg) = error_of(reply);
    assert_eq!(code, ErrorCode::Malformed);
    assert!(msg.contains("magic"), "{msg}");
    assert!(closed);

    // After the hello: bad magic in a frame header.
    let mut bytes = hello();
    bytes.extend_from_slice(&[b'X'; HEADER_LEN]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(&bytes).unwrap();
    assert!(matches!(read_reply(&mut c), Some(Msg::Welcome { .. })));
    assert_eq!(error_of(read_reply(&mut c).unwrap()).0, ErrorCode::Malformed);

    // Meta that does not decode (a hostile count): an error, and the
    // connection stays usable because the frame lengths were honest.
    let mut bytes = hello();
    let meta = [0xffu8, 0xff, 0xff, 0x0f];
    bytes.extend_from_slice(&Header { kind: 6, flags: 0, meta_len: 4, payload_len: 0, request: 2 }.encode());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&frame(&Msg::Ping, 3));
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(&bytes).unwrap();
    assert!(matches!(read_reply(&mut c), Some(Msg::Welcome { .. })));
    let (code, msg) = error_of(read_reply(&mut c).unwrap());
    assert_eq!(code, ErrorCode::Malformed);
    assert!(msg.contains("count"), "{msg}");
    assert_eq!(read_reply(&mut c), Some(Msg::Pong));

    // A payload that disagrees with its meta: drained, refused, still in step.
    let mut bytes = hello();
    let put = Msg::PutTensor { hash: [0; 32], meta: TensorMeta { dtype: DType::F32, shape: vec![4] } };
    let meta = put.encode_meta();
    bytes.extend_from_slice(&Header { kind: put.kind(), flags: 0, meta_len: meta.len() as u32, payload_len: 12, request: 2 }.encode());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&[0u8; 12]);
    bytes.extend_from_slice(&frame(&Msg::Ping, 3));
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(&bytes).unwrap();
    assert!(matches!(read_reply(&mut c), Some(Msg::Welcome { .. })));
    assert!(error_of(read_reply(&mut c).unwrap()).1.contains("payload"));
    assert_eq!(read_reply(&mut c), Some(Msg::Pong));

    // Oversized: refused before anything is read or allocated.
    let mut bytes = hello();
    bytes.extend_from_slice(&Header { kind: 9, flags: 0, meta_len: 40, payload_len: 1 << 40, request: 2 }.encode());
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(&bytes).unwrap();
    assert!(matches!(read_reply(&mut c), Some(Msg::Welcome { .. })));
    assert!(error_of(read_reply(&mut c).unwrap()).1.contains("too large"));

    // Truncated: the client vanishes halfway through a frame.
    let mut bytes = hello();
    let w = eye();
    let put = Msg::PutTensor { hash: tensor_hash(&w), meta: TensorMeta { dtype: DType::F32, shape: vec![4, 4] } };
    let meta = put.encode_meta();
    bytes.extend_from_slice(&Header { kind: put.kind(), flags: 0, meta_len: meta.len() as u32, payload_len: 64, request: 2 }.encode());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&[0u8; 20]);
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(&bytes).unwrap();
    drop(c);

    // A client message the server only sends.
    let mut bytes = hello();
    bytes.extend_from_slice(&frame(&Msg::Loaded { exec: 1 }, 2));
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(&bytes).unwrap();
    assert!(matches!(read_reply(&mut c), Some(Msg::Welcome { .. })));
    assert!(error_of(read_reply(&mut c).unwrap()).1.contains("may not send"));

    // Through all of it, the bystander's session kept its state.
    let input = x(1);
    let (_, data, _) = bystander.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
}

/// y = x @ c with c a lifted constant named "c" (bound by name at load).
fn constant_plan() -> Vec<u8> {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let rows = Type::tensor(vec![Dim::Static(1), Dim::Static(4)], DType::F32);
    let x = b.input(d, &rows, Role::Input);
    let c = b.resident("c", &Type::tensor(vec![Dim::Static(4), Dim::Static(4)], DType::F32), d, ResidentKind::Constant);
    let cv = b.load(d, c);
    let y = b.call(d, Op::Mm, &[x, cv], &AttrDict::new(), &[rows])[0];
    b.output(y, false);
    genie_plan::encode(&b.finish().unwrap())
}

#[test]
fn a_client_cannot_plant_wrong_bytes_for_another() {
    // The attack: wrong bytes uploaded under the hash of a model's constant
    // (and under a weight's hash nobody uploaded yet), then loaded, so the
    // executable would be cached with them. A fresh client of the same
    // model must get the right answer, first time.
    let s = serve(&[]);
    let plan = constant_plan();
    let ph = hash_bytes(&[&plan]);
    let good = eye();
    let h = tensor_hash(&good);
    let bad = Tensor::from_vec(vec![4, 4], vec![9f32; 16]).unwrap();
    let mut attacker = connect(&s);
    attacker.put_plan(ph, &plan).unwrap();
    let e = attacker.put_tensor(h, &bad).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Malformed), "{e}");
    assert!(e.message.contains("does not hash"), "{e}");
    // Refused, so the server does not hold it and loading fails.
    assert_eq!(attacker.has(vec![h]).unwrap(), vec![false]);
    let e = attacker.load(ph, vec![(Slot::Constant("c".into()), h)]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Missing), "{e}");
    // The victim: uploads what is missing, loads, runs; right answer.
    let mut victim = connect(&s);
    let present = victim.has(vec![ph, h]).unwrap();
    assert_eq!(present, vec![true, false]);
    victim.put_tensor(h, &good).unwrap();
    let exec = victim.load(ph, vec![(Slot::Constant("c".into()), h)]).unwrap();
    let input = x(1);
    let (_, data, _) = victim.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
    // The attacker's wrong upload under the now-present hash changes nothing.
    assert!(attacker.put_tensor(h, &bad).is_err());
    let mut third = connect(&s);
    let (_, possession) = tensor_identity(&good);
    let exec = third.load_proving(ph, vec![(Slot::Constant("c".into()), h, possession)]).unwrap();
    let (_, data, _) = third.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
}

/// x [1, 4] broadcast to [rows, 4] and added to itself: a few hundred
/// bytes of plan that materialise rows * 16 bytes.
fn expanding_plan(rows: i64) -> Vec<u8> {
    expanding_plan_declared(rows, Dim::Static(rows))
}

/// The same, its result declared with `declared` rows (`?`: the verifier
/// accepts it, as the shape rule knows the size).
fn expanding_plan_declared(rows: i64, declared: Dim) -> Vec<u8> {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &Type::tensor(vec![Dim::Static(1), Dim::Static(4)], DType::F32), Role::Input);
    let big = Type::tensor(vec![Dim::Static(rows), Dim::Static(4)], DType::F32);
    let mut size = AttrDict::new();
    size.set("size", Attribute::Array(vec![Attribute::Int(rows, DType::I64), Attribute::Int(4, DType::I64)]));
    let e = b.call(d, Op::Expand, &[x], &size, &[big])[0];
    let y = b.call(d, Op::Add, &[e, e], &AttrDict::new(), &[Type::tensor(vec![declared, Dim::Static(4)], DType::F32)])[0];
    b.output(y, false);
    genie_plan::encode(&b.finish().unwrap())
}

#[test]
fn a_plan_that_would_allocate_terabytes_gets_an_error_not_an_abort() {
    // The attack: 2^40 rows of 16 bytes. The server must refuse the run
    // before it allocates, and keep serving everyone.
    let s = serve(&["--memory-limit", "256MiB"]);
    let mut bystander = connect(&s);
    let exec = load(&mut bystander);
    let mut c = connect(&s);
    let input = Tensor::from_vec(vec![1, 4], vec![1f32; 4]).unwrap();
    // The same sizes declared `?` (or a symbol no input binds) hide
    // nothing: the account takes the shape rules' word, not the plan's.
    for (rows, declared) in [(1i64 << 40, None), (64 << 20, None), (1 << 40, Some(Dim::Dynamic)), (64 << 20, Some(Dim::Sym(7)))] {
        let plan = expanding_plan_declared(rows, declared.unwrap_or(Dim::Static(rows)));
        let ph = hash_bytes(&[&plan]);
        c.put_plan(ph, &plan).unwrap();
        let e = c.load(ph, vec![]).and_then(|x| c.run(x, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![])).unwrap_err();
        assert_eq!(e.code, Some(ErrorCode::OutOfMemory), "{e}");
        assert!(e.message.contains("sem.add") && e.message.contains(&(rows * 16).to_string()), "{e}");
    }
    // Within the limit the same plan runs.
    let plan = expanding_plan(1 << 10);
    let ph = hash_bytes(&[&plan]);
    c.put_plan(ph, &plan).unwrap();
    let x = c.load(ph, vec![]).unwrap();
    let (_, data, _) = c.run(x, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].shape, vec![1 << 10, 4]);
    // Nobody else noticed.
    let v = self::x(1);
    let (_, data, _) = bystander.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
}

#[test]
fn bad_plans_arguments_and_hashes() {
    let s = serve(&[]);
    let mut c = connect(&s);
    // A plan that fails verification.
    let junk = b"GENIEPLN but not really a plan".to_vec();
    let e = c.put_plan(hash_bytes(&[&junk]), &junk).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::BadPlan), "{e}");
    // Data that does not match its hash is refused on upload.
    let w = eye();
    let e = c.put_tensor([7; 32], &w).unwrap_err();
    assert!(e.message.contains("does not hash"), "{e}");
    assert_eq!(c.has(vec![[7; 32]]).unwrap(), vec![false]);
    // Loading what was never uploaded.
    let e = c.load([1; 32], vec![]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Missing));
    // Wrong argument count and types.
    let exec = load(&mut c);
    let e = c.run(exec, vec![], &[], vec![true], vec![]).unwrap_err();
    assert!(e.message.contains("more arguments"), "{e}");
    let wrong = Tensor::from_vec(vec![2, 3], vec![0f32; 6]).unwrap();
    let e = c.run(exec, vec![arg(&wrong)], std::slice::from_ref(&wrong), vec![true], vec![]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Execution), "{e}");
    let e = c.run(99, vec![], &[], vec![], vec![]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::UnknownHandle));
    c.ping().unwrap();
}

#[test]
fn memory_limit_refuses_and_frees_on_disconnect() {
    let s = serve(&["--memory-limit", "4KiB", "--max-request", "1MiB", "--metrics", "127.0.0.1:0"]);
    let mut c = connect(&s);
    let big = Tensor::from_vec(vec![2048], vec![1f32; 2048]).unwrap();
    let e = c.put_tensor(tensor_hash(&big), &big).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::OutOfMemory), "{e}");
    assert!(e.message.contains("limit"), "{e}");
    // Kept outputs count too: keep until the limit refuses.
    let exec = load(&mut c);
    let input = x(32); // 512 bytes per kept output
    let mut kept = 0;
    let err = loop {
        match c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![false], vec![]) {
            Ok(_) => kept += 1,
            Err(e) => break e,
        }
        assert!(kept < 100);
    };
    assert_eq!(err.code, Some(ErrorCode::OutOfMemory));
    assert!(kept >= 4, "{kept}");
    let before = metric(&s, "genie_memory_in_use_bytes");
    assert!(before >= 2048, "{before}");
    drop(c);
    // The session's tensors are freed when it disconnects.
    let deadline = Instant::now() + T;
    while metric(&s, "genie_memory_in_use_bytes") >= before {
        assert!(Instant::now() < deadline, "session memory not freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = connect(&s);
    load(&mut c);
}

fn metric(s: &Server, name: &str) -> u64 {
    let mut t = TcpStream::connect(s.metrics.as_ref().unwrap()).unwrap();
    t.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    t.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).unwrap_or_else(|| panic!("{name} missing in {body}")).parse().unwrap()
}

#[test]
fn a_retried_run_is_applied_once() {
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let mut c = connect(&s);
    let exec = load(&mut c);
    let input = x(2);
    let msg = Msg::Run { exec, args: vec![arg(&input)], ret: vec![false], release: vec![], deadline_ms: None };
    let bytes = input.contiguous_bytes().unwrap();
    let (first, _) = c.call_with_id(1000, &msg, &[bytes]).unwrap();
    let (again, _) = c.call_with_id(1000, &msg, &[bytes]).unwrap();
    assert_eq!(first, again, "the retry gets the same reply (the same handle)");
    assert_eq!(metric(&s, "genie_runs_total"), 1);
    assert_eq!(metric(&s, "genie_sessions_active"), 1);
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut s = serve(&[]);
    let mut c = connect(&s);
    c.ping().unwrap();
    let pid = s.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + T;
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(c.ping().is_err());
}

#[cfg(unix)]
#[test]
fn unix_socket_transport() {
    let path = std::env::temp_dir().join(format!("genie-{}.sock", std::process::id()));
    let url = format!("unix://{}", path.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_genie-runtime")).args(["serve", "--listen", &url]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on unix://"), "{line}");
    let mut c = Client::connect(&url, b"", T).unwrap();
    let exec = load(&mut c);
    let input = x(2);
    let (_, data, _) = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].shape, vec![2, 4]);
    assert_eq!(c.stats.shm_bytes, 0, "small payloads go through the socket");
    // Large payloads go through sealed shared memory (Linux): an upload and
    // a run input, with the same results as over the socket.
    if cfg!(target_os = "linux") {
        let big = x(20_000);
        let (_, data, _) = c.run(exec, vec![arg(&big)], std::slice::from_ref(&big), vec![true], vec![]).unwrap();
        assert_eq!(c.stats.shm_bytes, 320_000);
        assert_eq!(data[0].to_vec::<f32>().unwrap()[79_999], 79_999.0 * 2.0);
        let big_w = Tensor::from_vec(vec![512, 512], (0..512 * 512).map(|i| (i % 7) as f32).collect()).unwrap();
        let h = tensor_hash(&big_w);
        c.put_tensor(h, &big_w).unwrap();
        assert_eq!(c.has(vec![h]).unwrap(), vec![true]);
        // An upload through shared memory is checked like any other: a
        // wrong hash is refused and the session goes on.
        let e = c.put_tensor([3; 32], &big_w).unwrap_err();
        assert!(e.message.contains("does not hash"), "{e}");
        assert_eq!(c.has(vec![[3; 32]]).unwrap(), vec![false]);
        c.ping().unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(path);
}

#[test]
fn idle_sessions_expire() {
    let s = serve(&["--idle-timeout", "1"]);
    let mut c = connect(&s);
    c.ping().unwrap();
    std::thread::sleep(Duration::from_millis(1600));
    assert!(c.ping().is_err(), "the idle session should have been closed");
    connect(&s).ping().unwrap();
}

/// A self-signed certificate for 127.0.0.1 (openssl CLI), in `dir`.
fn self_signed(dir: &std::path::Path, name: &str) -> (String, String) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=genie-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE", "-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (make setup installs it)");
    assert!(ok.success());
    (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned())
}

#[test]
fn tls_connections() {
    let dir = std::env::temp_dir().join(format!("genie-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = self_signed(&dir, "server");
    let (other, _) = self_signed(&dir, "other");
    let s = serve(&["--tls-cert", &cert, "--tls-key", &key]);
    let addr = s.addr.trim_start_matches("tls://").to_string();
    let url = format!("tls://{addr}");
    let mut c = Client::connect_with(&url, b"", T, Some(&cert)).unwrap();
    let exec = load(&mut c);
    let input = x(3);
    let (_, data, _) = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap()[11], 22.0);
    // An untrusted certificate fails the handshake, with the reason.
    let e = Client::connect_with(&url, b"", T, Some(&other)).err().expect("untrusted certificate");
    assert!(e.message.contains("TLS handshake") && e.message.to_lowercase().contains("certificate"), "{e}");
    // No certificate to trust: refused before connecting.
    assert!(Client::connect_with(&url, b"", T, None).err().unwrap().message.contains("tls_ca"));
    // Plain TCP to a TLS server: an error, not a hang.
    assert!(Client::connect(&addr, b"", T).is_err());
    c.ping().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn calibrate_prints_a_target_the_compiler_reads() {
    let s = serve(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_genie-runtime")).args(["calibrate", "--name", "srv", "--link", &format!("tcp://{}", s.addr)]).output().expect("run calibrate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let t = genie_plan::Target::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(t.devices[0].name, "srv");
    assert_eq!(t.devices[0].at.as_deref(), Some(format!("tcp://{}", s.addr).as_str()));
    assert!(t.devices[0].flops > 1e6 && t.devices[0].bandwidth > 1e6);
    let link = t.client_link("srv");
    assert!(link.bandwidth > 1e6 && link.latency > 0.0 && link.latency < 0.1, "{link:?}");
    // A server nobody listens on is an error naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_genie-runtime")).args(["calibrate", "--link", "tcp://127.0.0.1:1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach tcp://127.0.0.1:1"));
}

/// `x @ x @ ... @ x` (`k` products) over an `n` × `n` input: long on the
/// device, short on the wire. With every entry 1/n the product is x again.
fn heavy_plan(n: i64, k: usize) -> Vec<u8> {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let sq = Type::tensor(vec![Dim::Static(n), Dim::Static(n)], DType::F32);
    let x = b.input(d, &sq, Role::Input);
    let mut y = x;
    for _ in 0..k {
        y = b.call(d, Op::Mm, &[y, x], &AttrDict::new(), std::slice::from_ref(&sq))[0];
    }
    b.output(y, false);
    genie_plan::encode(&b.finish().unwrap())
}

fn uniform(n: usize) -> Tensor {
    Tensor::from_vec(vec![n, n], vec![1.0 / n as f32; n * n]).unwrap()
}

/// A client that has loaded `heavy_plan(n, k)`.
fn heavy_client(s: &Server, n: usize, k: usize) -> (Client, u32) {
    let mut c = Client::connect(&s.addr, b"", Duration::from_secs(120)).expect("connect");
    let plan = heavy_plan(n as i64, k);
    let ph = hash_bytes(&[&plan]);
    if !c.has(vec![ph]).unwrap()[0] {
        c.put_plan(ph, &plan).unwrap();
    }
    let exec = c.load(ph, vec![]).unwrap();
    (c, exec)
}

fn wait_for_metric(s: &Server, name: &str, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(s, name) < at_least {
        assert!(Instant::now() < deadline, "{name} never reached {at_least}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_long_run_does_not_delay_another_sessions_ping_or_small_call() {
    // One IO thread and one general device worker: the long run takes the
    // worker; the other session's ping and small call must still come back
    // while it runs.
    let s = serve(&["--threads", "1", "--run-workers", "1", "--metrics", "127.0.0.1:0"]);
    let n = 768;
    let (mut heavy, exec) = heavy_client(&s, n, 60);
    let input = uniform(n);
    let long = std::thread::spawn(move || heavy.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).map(|(_, data, _)| data));
    wait_for_metric(&s, "genie_runs_running", 1);
    let mut other = connect(&s);
    let small = load(&mut other);
    for _ in 0..3 {
        other.ping().unwrap();
        let v = x(1);
        let (_, data, _) = other.run(small, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap();
        assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
    }
    assert!(!long.is_finished(), "the long run ended before the small calls: make it longer, the test proves nothing");
    assert_eq!(metric(&s, "genie_runs_running"), 1, "the long run is still on the device");
    let out = long.join().unwrap().unwrap();
    let v = out[0].to_vec::<f32>().unwrap();
    assert!(v.iter().all(|&e| (e - 1.0 / n as f32).abs() < 1e-6), "{}", v[0]);
}

#[test]
fn sessions_that_keep_the_device_busy_wait_behind_a_light_one() {
    // Three sessions run long plans back to back on one device worker. A
    // fourth session's call (too big for the small lane) is taken as soon
    // as the run in progress ends: at most one of theirs completes while
    // it waits, not one per busy session as in a plain FIFO (or, with the
    // runs side by side, all of them slowed by the light one).
    let s = serve(&["--run-workers", "1", "--metrics", "127.0.0.1:0"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let n = 512;
    let mut busy = vec![];
    for _ in 0..3 {
        let (mut c, exec) = heavy_client(&s, n, 24);
        let stop = stop.clone();
        busy.push(std::thread::spawn(move || {
            let input = uniform(n);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
            }
        }));
    }
    // Two rounds each first, so their use of the device is on the books.
    wait_for_metric(&s, "genie_runs_total", 6);
    let (mut light, exec) = heavy_client(&s, 256, 1);
    let input = uniform(256);
    let mut worst = 0;
    for _ in 0..4 {
        let before = metric(&s, "genie_runs_total");
        light.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
        let others = metric(&s, "genie_runs_total") - before - 1;
        worst = worst.max(others);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in busy {
        t.join().unwrap();
    }
    assert!(worst <= 1, "{worst} runs of the busy sessions completed while the light session's call waited");
}

/// A TCP relay between clients and a server that a test can break: `cut`
/// resets every relayed connection (as a dropped link does); `blackhole`
/// stops passing the server's replies on, while the connection stays up
/// (as a partition looks to the server).
struct Relay {
    addr: String,
    cut: std::sync::Arc<std::sync::atomic::AtomicU64>,
    blackhole: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    fn to(upstream: &str) -> Relay {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let cut = std::sync::Arc::new(AtomicU64::new(0));
        let blackhole = std::sync::Arc::new(AtomicBool::new(false));
        let (c, b, upstream) = (cut.clone(), blackhole.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect(&upstream).unwrap();
                let epoch = c.load(SeqCst);
                for (from, to, replies) in [(client.try_clone().unwrap(), server.try_clone().unwrap(), false), (server, client, true)] {
                    let (c, b) = (c.clone(), b.clone());
                    std::thread::spawn(move || pump(from, to, replies, epoch, &c, &b));
                }
            }
        });
        Relay { addr, cut, blackhole }
    }

    fn cut(&self) {
        self.cut.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copies `from` to `to` until the relay's epoch moves past `epoch`; then
/// closes both with a reset (SO_LINGER 0), which the server sees as a
/// broken connection, not a clean close.
fn pump(mut from: TcpStream, mut to: TcpStream, replies: bool, epoch: u64, cut: &std::sync::atomic::AtomicU64, blackhole: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering::SeqCst;
    from.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let mut buf = vec![0u8; 256 << 10];
    while cut.load(SeqCst) == epoch {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if !(replies && blackhole.load(SeqCst)) && to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    for s in [&from, &to] {
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: a valid socket and a linger struct of the size given.
        unsafe { libc::setsockopt(std::os::fd::AsRawFd::as_raw_fd(s), libc::SOL_SOCKET, libc::SO_LINGER, (&linger as *const libc::linger).cast(), std::mem::size_of::<libc::linger>() as u32) };
    }
}

#[test]
fn a_session_survives_a_broken_connection() {
    // The link resets under a client holding a tensor on the server: the
    // next call reconnects, takes the same session back and reads it.
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let relay = Relay::to(&s.addr);
    let mut c = Client::connect(&relay.addr, b"", T).unwrap();
    let session = c.session;
    let exec = load(&mut c);
    let v = x(2);
    let (outs, _, _) = c.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![false], vec![]).unwrap();
    let Out::Kept(h, _) = outs[0] else { panic!("{outs:?}") };
    relay.cut();
    assert_eq!(metric(&s, "genie_sessions_parked"), 1, "a reset parks the session");
    let t = c.fetch(h).expect("the call resumes the session");
    assert_eq!(t.to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]);
    assert_eq!((c.session, c.resumes), (session, 1));
    assert_eq!(metric(&s, "genie_sessions_parked"), 0);
    assert_eq!(metric(&s, "genie_sessions_active"), 1);
    // Someone else with the id but not the secret gets a session of its own.
    let mut other = connect(&s);
    assert_ne!(other.session, session);
    assert_eq!(other.fetch(h).unwrap_err().code, Some(ErrorCode::UnknownHandle));
}

#[test]
fn a_run_whose_reply_was_lost_is_applied_once_after_resuming() {
    // A partition: the request reaches the server, the reply does not, and
    // the server's side of the connection stays up. The client times out,
    // resumes on a new connection (the old one is told to let go) and
    // sends the run again under the same request id: it gets the first
    // run's reply (the same kept handle), and the plan ran once.
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let relay = Relay::to(&s.addr);
    let mut c = Client::connect(&relay.addr, b"", Duration::from_millis(500)).unwrap();
    let exec = load(&mut c);
    let v = x(1);
    let runs = metric(&s, "genie_runs_total");
    relay.blackhole.store(true, std::sync::atomic::Ordering::SeqCst);
    let healer = {
        let b = relay.blackhole.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            b.store(false, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let (outs, _, _) = c.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![false], vec![]).expect("resumed and replayed");
    healer.join().unwrap();
    assert_eq!(c.resumes, 1);
    assert_eq!(metric(&s, "genie_runs_total") - runs, 1, "applied once");
    let Out::Kept(h, _) = outs[0] else { panic!("{outs:?}") };
    assert_eq!(c.fetch(h).unwrap().to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
    assert_eq!(metric(&s, "genie_sessions_active"), 1, "one session, not a new one per retry");
}

#[test]
fn a_clean_close_frees_the_session_and_a_restart_is_not_resumed() {
    let mut s = serve(&["--metrics", "127.0.0.1:0", "--resume-grace", "60"]);
    let c = connect(&s);
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!((metric(&s, "genie_sessions_parked"), metric(&s, "genie_sessions_active")), (0, 0), "a clean close keeps nothing");
    // The server goes away for good: its port is closed, so resuming
    // gives up at once (its sessions are gone), naming the break and why.
    let mut c = connect(&s);
    let _ = s.child.kill();
    let _ = s.child.wait();
    let start = Instant::now();
    let e = c.ping().unwrap_err();
    assert!(e.code.is_none() && e.message.contains("reconnecting: cannot connect"), "{e}");
    assert!(start.elapsed() < c.resume_window, "gave up without waiting out the window");
}

#[test]
fn a_restarted_server_is_not_mistaken_for_the_old_session() {
    // The new process numbers its sessions from 1 again: the same id must
    // not pass for the old session (its secret differs).
    let mut s = serve(&[]);
    let port = s.addr.rsplit_once(':').unwrap().1.to_string();
    let mut c = connect(&s);
    let exec = load(&mut c);
    let _ = s.child.kill();
    let _ = s.child.wait();
    let _again = serve(&["--listen", &format!("127.0.0.1:{port}")]);
    let v = x(1);
    let e = c.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap_err();
    assert!(e.code.is_none() && e.message.contains("no longer has session"), "{e}");
}

#[test]
fn knowing_a_weights_hash_reads_nothing() {
    // The attack: a client that learned a weight's content hash (from a log
    // or an error) binds the server's copy to a plan that returns its
    // input, and reads the weight. Without the bytes it cannot prove it
    // holds them; another session's proof is worthless to it.
    let s = serve(&[]);
    let mut owner = connect(&s);
    let exec = load(&mut owner);
    let w = eye();
    let (wh, possession) = tensor_identity(&w);
    // y = x @ w with x = I returns w itself: the read the attacker wants.
    let mut attacker = connect(&s);
    let plan = matmul_plan();
    let ph = hash_bytes(&[&plan]);
    let e = attacker.load(ph, vec![(Slot::Input(1), wh)]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Auth), "{e}");
    assert!(e.message.contains("neither uploaded that tensor nor proved"), "{e}");
    // A made-up possession value, or the owner's proof, fails the same way.
    let e = attacker.load_proving(ph, vec![(Slot::Input(1), wh, [0; 32])]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Auth), "{e}");
    let Msg::Load { proofs, .. } = owner_proof_load(&mut owner, ph, wh, possession) else { unreachable!() };
    let raw = Msg::Load { plan: ph, binds: vec![(Slot::Input(1), wh)], proofs };
    let e = attacker.call(&raw, &[]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Auth), "{e}");
    // The owner is unaffected, and a client holding the bytes binds them
    // without uploading anything.
    let v = x(1);
    let (_, data, _) = owner.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
    let mut holder = connect(&s);
    load(&mut holder);
    assert_eq!(holder.stats.upload_bytes, 0);
}

/// The Load message `owner` would send to bind `wh` with its proof (sent,
/// so it is a proof the server accepted from the owner).
fn owner_proof_load(owner: &mut Client, plan: Hash, wh: Hash, possession: Hash) -> Msg {
    owner.load_proving(plan, vec![(Slot::Input(1), wh, possession)]).unwrap();
    let secret = owner.resume_secret().expect("a 1.1 server sends a secret");
    Msg::Load { plan, binds: vec![(Slot::Input(1), wh)], proofs: vec![bind_proof(&secret, &wh, &possession)] }
}

#[test]
fn a_run_longer_than_the_liveness_timeout_is_kept_alive() {
    // A 1.1 client takes 4 s of silence for a broken link; the server says
    // "working" every second, so a longer run is waited for, not resumed.
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let n = 1024;
    let (mut c, exec) = heavy_client(&s, n, 400);
    let input = uniform(n);
    let start = Instant::now();
    let (_, data, _) = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    let took = start.elapsed();
    assert!(data[0].to_vec::<f32>().unwrap().iter().all(|&e| (e - 1.0 / n as f32).abs() < 1e-6));
    assert_eq!(c.resumes, 0, "waited, not resumed");
    assert!(c.stats.keepalives >= took.as_secs().saturating_sub(1), "{} keepalives in {took:?}", c.stats.keepalives);
    assert!(took > LIVENESS || c.stats.keepalives >= 1, "the run ({took:?}) proves nothing: make it longer");
    assert_eq!(metric(&s, "genie_runs_total"), 1);
}

#[test]
fn a_session_cannot_take_more_than_its_share() {
    // One client keeps outputs until its 1 MiB share is full: it gets an
    // error naming the share (not the server's limit), frees one and goes
    // on; a bystander keeps what it needs meanwhile.
    let s = serve(&["--memory-limit", "64MiB", "--session-memory-limit", "1MiB"]);
    let mut greedy = connect(&s);
    let exec = load(&mut greedy);
    let v = x(12_800); // 200 KiB in, 200 KiB out
    let mut kept = vec![];
    let refusal = loop {
        match greedy.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![false], vec![]) {
            Ok((outs, _, _)) => match outs[0] {
                Out::Kept(h, _) => kept.push(h),
                ref o => panic!("{o:?}"),
            },
            Err(e) => break e,
        }
        assert!(kept.len() < 16, "the share never filled");
    };
    assert_eq!(refusal.code, Some(ErrorCode::OutOfMemory), "{refusal}");
    assert!(refusal.message.contains("--session-memory-limit"), "{refusal}");
    assert!((2..=5).contains(&kept.len()), "{} kept before the refusal", kept.len());
    let mut bystander = connect(&s);
    let exec_b = load(&mut bystander);
    let (outs, _, _) = bystander.run(exec_b, vec![arg(&v)], std::slice::from_ref(&v), vec![false], vec![]).unwrap();
    assert!(matches!(outs[0], Out::Kept(..)));
    // A payload bigger than the share is refused before it is read.
    let big = x(80_000);
    let e = greedy.run(exec, vec![arg(&big)], std::slice::from_ref(&big), vec![true], vec![]).unwrap_err();
    assert!(e.code == Some(ErrorCode::OutOfMemory) && e.message.contains("share"), "{e}");
    greedy.release(vec![kept.pop().unwrap()]).unwrap();
    greedy.run(exec, vec![arg(&v)], std::slice::from_ref(&v), vec![false], vec![]).expect("room again after a release");
}

/// The instruction a stopped run names ("... instruction 12 ...") and the
/// plan's length ("(2001 instructions in all)").
fn stopped_at(message: &str) -> (usize, usize) {
    let first_number = |s: &str| s.split(|c: char| !c.is_ascii_digit()).find(|n| !n.is_empty()).and_then(|n| n.parse().ok());
    let at = message.split("instruction ").nth(1).and_then(first_number);
    let total = message.rsplit('(').next().and_then(first_number);
    at.zip(total).unwrap_or_else(|| panic!("no instruction and length in: {message}"))
}

#[test]
fn a_run_past_its_deadline_is_stopped_on_the_server() {
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let n = 512;
    let (mut c, exec) = heavy_client(&s, n, 2000);
    let input = uniform(n);
    c.deadline = Some(Duration::from_millis(300));
    let e = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::DeadlineExceeded), "{e}");
    // Stopped early, not run to the end and then refused.
    let (at, total) = stopped_at(&e.message);
    assert!(at < total - 1 && total >= 2000, "{e}");
    assert!(e.message.contains("300 ms"), "{e}");
    assert_eq!(metric(&s, "genie_runs_stopped_total"), 1);
    // The session goes on: a run within its deadline completes.
    c.deadline = Some(Duration::from_secs(600));
    let small = load(&mut c);
    let v = x(2);
    let (_, data, _) = c.run(small, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), (0..8).map(|i| 2.0 * i as f32).collect::<Vec<_>>());
}

#[test]
fn a_cancelled_run_stops_and_the_connection_stays_in_step() {
    let s = serve(&["--metrics", "127.0.0.1:0"]);
    let n = 512;
    let (mut c, exec) = heavy_client(&s, n, 2000);
    let canceller = c.canceller();
    assert!(!canceller.cancel().unwrap(), "nothing to cancel yet");
    let input = uniform(n);
    let running = std::thread::spawn(move || {
        let r = c.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).map(|_| ());
        (c, r)
    });
    wait_for_metric(&s, "genie_runs_running", 1);
    assert!(canceller.cancel().unwrap());
    let (mut c, r) = running.join().unwrap();
    let e = r.unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::Cancelled), "{e}");
    let (at, total) = stopped_at(&e.message);
    assert!(at < total - 1, "{e}");
    assert_eq!(metric(&s, "genie_runs_stopped_total"), 1);
    // A cancel that comes after its run has ended stops nothing and is not
    // answered; the next requests are served in order.
    let small = load(&mut c);
    c.ping().unwrap();
    let v = x(1);
    let (_, data, _) = c.run(small, vec![arg(&v)], std::slice::from_ref(&v), vec![true], vec![]).unwrap();
    assert_eq!(data[0].to_vec::<f32>().unwrap(), vec![0.0, 2.0, 4.0, 6.0]);
    assert_eq!(metric(&s, "genie_runs_stopped_total"), 1);
}

#[test]
fn a_session_cannot_upload_or_load_more_plans_than_its_limit() {
    let s = serve(&["--session-plan-limit", "3"]);
    let mut c = connect(&s);
    let plans: Vec<Vec<u8>> = (1..=4).map(|rows| expanding_plan(rows)).collect();
    for p in &plans[..3] {
        c.put_plan(hash_bytes(&[p]), p).unwrap();
    }
    let e = c.put_plan(hash_bytes(&[&plans[3]]), &plans[3]).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::OutOfMemory), "{e}");
    assert!(e.message.contains("--session-plan-limit"), "{e}");
    let ph = hash_bytes(&[&plans[0]]);
    for _ in 0..3 {
        c.load(ph, vec![]).unwrap();
    }
    let e = c.load(ph, vec![]).unwrap_err();
    assert!(e.message.contains("plans loaded") && e.message.contains("--session-plan-limit"), "{e}");
    // Another session has a limit of its own, and what was stored serves it.
    let mut other = connect(&s);
    other.put_plan(hash_bytes(&[&plans[3]]), &plans[3]).unwrap();
    let exec = other.load(ph, vec![]).unwrap();
    let input = Tensor::from_vec(vec![1, 4], vec![1f32; 4]).unwrap();
    let (_, data, _) = other.run(exec, vec![arg(&input)], std::slice::from_ref(&input), vec![true], vec![]).unwrap();
    assert_eq!(data[0].shape, vec![1, 4]);
}
