//! Sessions that outlive their connection.
//!
//! Every session has an id and a resume secret (sent in its welcome). When
//! its connection breaks, the session is parked for a grace period with all
//! it holds; a hello carrying the id and the secret takes it back. A hello
//! for a session whose old connection the server still thinks alive (the
//! client saw the break first) asks that connection to let go, and waits
//! for it to finish the request it is on and park.

use crate::protocol::{secrets_equal, Hash};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

struct Live {
    secret: Hash,
    /// Told when another connection claims the session.
    let_go: Arc<Notify>,
}

struct Parked<S> {
    secret: Hash,
    session: S,
    until: Instant,
    since: Instant,
}

/// What a resume request finds.
pub enum Claim<S> {
    /// The session, taken back.
    Parked(S),
    /// Still attached to a connection, which has been asked to let go:
    /// claim again once it has.
    Attached,
    /// No such session, a wrong secret, or past its grace period.
    Gone,
}

pub struct Sessions<S> {
    live: HashMap<u64, Live>,
    parked: HashMap<u64, Parked<S>>,
    /// Parked sessions kept at most (the oldest goes first beyond it).
    max_parked: usize,
}

impl<S> Sessions<S> {
    pub fn new(max_parked: usize) -> Self {
        Sessions { live: HashMap::new(), parked: HashMap::new(), max_parked: max_parked.max(1) }
    }

    /// A session now served by a connection; the notify asks it to let go.
    pub fn attach(&mut self, id: u64, secret: Hash) -> Arc<Notify> {
        let let_go = Arc::new(Notify::new());
        self.live.insert(id, Live { secret, let_go: let_go.clone() });
        let_go
    }

    /// The connection serving `id` ended. With `until`, the session is
    /// parked until then; what has to be dropped (the session itself when
    /// it is not parked, or the oldest parked one to make room) is
    /// returned, to be dropped outside the caller's lock.
    pub fn detach(&mut self, id: u64, session: S, until: Option<Instant>) -> Vec<S> {
        let Some(live) = self.live.remove(&id) else { return vec![session] };
        let Some(until) = until else { return vec![session] };
        let mut out = vec![];
        if self.parked.len() >= self.max_parked {
            if let Some(&oldest) = self.parked.iter().min_by_key(|(_, p)| p.since).map(|(k, _)| k) {
                out.extend(self.parked.remove(&oldest).map(|p| p.session));
            }
        }
        self.parked.insert(id, Parked { secret: live.secret, session, until, since: Instant::now() });
        out
    }

    /// Takes back session `id` for a client presenting `secret`.
    pub fn claim(&mut self, id: u64, secret: &Hash) -> Claim<S> {
        if let Some(p) = self.parked.get(&id) {
            return if secrets_equal(&p.secret, secret) { Claim::Parked(self.parked.remove(&id).expect("just found").session) } else { Claim::Gone };
        }
        match self.live.get(&id) {
            Some(l) if secrets_equal(&l.secret, secret) => {
                l.let_go.notify_one();
                Claim::Attached
            }
            _ => Claim::Gone,
        }
    }

    /// Parked sessions past their grace period, removed.
    pub fn expired(&mut self, now: Instant) -> Vec<S> {
        let ids: Vec<u64> = self.parked.iter().filter(|(_, p)| p.until <= now).map(|(&k, _)| k).collect();
        ids.into_iter().filter_map(|k| self.parked.remove(&k).map(|p| p.session)).collect()
    }

    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Every parked session, removed (at shutdown).
    pub fn drain(&mut self) -> Vec<S> {
        self.parked.drain().map(|(_, p)| p.session).collect()
    }
}

/// A fresh secret from the operating system's generator.
pub fn new_secret() -> std::io::Result<Hash> {
    let mut s = [0u8; 32];
    let mut got = 0;
    while got < s.len() {
        // SAFETY: writes at most the remaining bytes of `s`.
        let n = unsafe { libc::getrandom(s[got..].as_mut_ptr().cast(), s.len() - got, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        got += n as usize;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_parked_session_comes_back_with_its_secret_only() {
        let mut s = Sessions::new(8);
        let secret = new_secret().unwrap();
        s.attach(1, secret);
        assert!(s.detach(1, "kv cache", Some(Instant::now() + Duration::from_secs(60))).is_empty());
        assert!(matches!(s.claim(1, &[0; 32]), Claim::Gone), "a wrong secret takes nothing");
        assert!(matches!(s.claim(1, &secret), Claim::Parked("kv cache")));
        assert!(matches!(s.claim(1, &secret), Claim::Gone), "taken once");
    }

    #[test]
    fn an_attached_session_is_asked_to_let_go() {
        let mut s = Sessions::new(8);
        let secret = new_secret().unwrap();
        let let_go = s.attach(1, secret);
        assert!(matches!(s.claim(1, &secret), Claim::Attached));
        // The permit is stored: the connection sees it at its next wait.
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(1), let_go.notified()).await.expect("told to let go") });
        s.detach(1, "x", Some(Instant::now() + Duration::from_secs(60)));
        assert!(matches!(s.claim(1, &secret), Claim::Parked("x")));
    }

    #[test]
    fn grace_periods_end_and_the_oldest_parked_makes_room() {
        let mut s = Sessions::new(2);
        let now = Instant::now();
        for id in 1..=3 {
            s.attach(id, [id as u8; 32]);
        }
        assert!(s.detach(1, 1, Some(now)).is_empty());
        assert!(s.detach(2, 2, Some(now + Duration::from_secs(60))).is_empty());
        assert_eq!(s.detach(3, 3, Some(now + Duration::from_secs(60))), vec![1], "the oldest parked goes");
        assert_eq!(s.detach(4, 4, Some(now)), vec![4], "never attached: not parked");
        assert!(s.expired(now).is_empty());
        let mut gone = s.expired(now + Duration::from_secs(61));
        gone.sort();
        assert_eq!(gone, vec![2, 3]);
    }
}
