//! The device's run queue: runs go to its workers, off the IO threads.
//!
//! Waiting runs are taken in order of the device time their sessions have
//! used (a virtual runtime, as in Linux's CFS): the smallest tag goes
//! first, so a session that has kept the device busy waits behind lighter
//! ones. A session coming back from idle starts a little behind the clock
//! (`WAKE_CREDIT`), which puts a light session's call next in line without
//! letting it bank the time it was away.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

type Job = Box<dyn FnOnce() + Send>;

struct Waiting {
    session: u64,
    tag: u64,
    seq: u64,
    job: Job,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Per session: its virtual runtime (device microseconds).
    finish: HashMap<u64, u64>,
    /// The tag of the run started last.
    clock: u64,
    seq: u64,
    running: usize,
    closed: bool,
}

impl Queue {
    /// The waiting run a worker takes next, if any.
    fn take(&mut self) -> Option<Waiting> {
        let i = self.waiting.iter().enumerate().min_by_key(|(_, w)| (w.tag, w.seq))?.0;
        let w = self.waiting.swap_remove(i);
        self.clock = self.clock.max(w.tag);
        Some(w)
    }
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere must not stop the device with a poisoned lock.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A device's run queue and its worker threads (stopped when dropped).
pub struct RunQueue {
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

/// How far behind the clock (device microseconds) a returning session's
/// run is placed: longer than a light call, far shorter than a long run.
const WAKE_CREDIT: u64 = 10_000;

impl RunQueue {
    /// A queue served by `workers` threads (at least one).
    pub fn new(device: &str, workers: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let workers = (0..workers.max(1))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new().name(format!("{device}-run{i}")).spawn(move || worker(&shared))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(RunQueue { shared, workers })
    }

    /// Queues `f` for `session`; the receiver gets its result.
    pub fn submit<T: Send + 'static>(&self, session: u64, f: impl FnOnce() -> T + Send + 'static) -> tokio::sync::oneshot::Receiver<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let mut q = self.shared.queue();
        let tag = q.finish.get(&session).copied().unwrap_or(0).max(q.clock.saturating_sub(WAKE_CREDIT));
        q.seq += 1;
        let seq = q.seq;
        q.waiting.push(Waiting { session, tag, seq, job });
        drop(q);
        self.shared.wake.notify_one();
        rx
    }

    /// Forgets a closed session's account.
    pub fn forget(&self, session: u64) {
        self.shared.queue().finish.remove(&session);
    }

    /// Runs waiting and running now.
    pub fn depth(&self) -> (usize, usize) {
        let q = self.shared.queue();
        (q.waiting.len(), q.running)
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        self.shared.queue().closed = true;
        self.shared.wake.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn worker(shared: &Shared) {
    let mut q = shared.queue();
    loop {
        if q.closed {
            return;
        }
        let Some(w) = q.take() else {
            q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        q.running += 1;
        drop(q);
        let start = Instant::now();
        // The job catches its own panics (a run's are errors for its
        // request); this one keeps the worker alive whatever happens.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(w.job));
        let used = start.elapsed().as_micros() as u64;
        q = shared.queue();
        q.running -= 1;
        q.finish.insert(w.session, w.tag + used.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Blocks a worker until `release` is sent.
    fn hold(q: &RunQueue, session: u64) -> (mpsc::Sender<()>, tokio::sync::oneshot::Receiver<()>) {
        let (release, wait) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        let done = q.submit(session, move || {
            started_tx.send(()).unwrap();
            wait.recv().unwrap();
        });
        started.recv().unwrap();
        (release, done)
    }

    #[test]
    fn a_second_worker_runs_while_the_first_is_held() {
        let q = RunQueue::new("t", 2).unwrap();
        let (release, long) = hold(&q, 1);
        assert_eq!(q.submit(2, || 7).blocking_recv().unwrap(), 7);
        release.send(()).unwrap();
        long.blocking_recv().unwrap();
    }

    #[test]
    fn the_session_that_used_the_device_least_goes_first() {
        let q = RunQueue::new("t", 1).unwrap();
        // Session 1 uses the device for a while.
        q.submit(1, || std::thread::sleep(Duration::from_millis(20))).blocking_recv().unwrap();
        let (release, held) = hold(&q, 3);
        let order = Arc::new(Mutex::new(vec![]));
        // Session 1 queues first, session 2 (fresh) second: 2 runs first.
        let mut rxs = vec![];
        for s in [1u64, 2] {
            let order = order.clone();
            rxs.push(q.submit(s, move || order.lock().unwrap().push(s)));
        }
        release.send(()).unwrap();
        held.blocking_recv().unwrap();
        for r in rxs {
            r.blocking_recv().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![2, 1]);
    }

    #[test]
    fn a_panicking_job_leaves_the_worker_running() {
        let q = RunQueue::new("t", 1).unwrap();
        let r = q.submit(1, || panic!("boom"));
        assert!(r.blocking_recv().is_err(), "the sender is dropped, not sent");
        assert_eq!(q.submit(1, || 3).blocking_recv().unwrap(), 3);
    }
}
