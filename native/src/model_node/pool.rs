//! The sessions of one model. `Session::run` needs `&mut`, so each session runs one batch at a
//! time; concurrent tasks lease different sessions, and wait when all are busy.

use std::sync::{Condvar, Mutex};

use ort::session::Session;

use super::lock;

pub(super) struct SessionPool {
    size: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Session>,
    peak_busy: usize,
}

impl SessionPool {
    /// A pool of these sessions, all idle.
    pub(super) fn new(sessions: Vec<Session>) -> SessionPool {
        SessionPool {
            size: sessions.len(),
            state: Mutex::new(PoolState { idle: sessions, peak_busy: 0 }),
            returned: Condvar::new(),
        }
    }

    /// An idle session, waiting for one to come back when all are busy.
    pub(super) fn lease(&self) -> Lease<'_> {
        let mut state = lock(&self.state);
        loop {
            if let Some(session) = state.idle.pop() {
                state.peak_busy = state.peak_busy.max(self.size - state.idle.len());
                return Lease { pool: self, session: Some(session) };
            }
            state = self.returned.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Most sessions that were leased at once.
    pub(super) fn peak_busy(&self) -> usize {
        lock(&self.state).peak_busy
    }
}

/// A session taken from a pool; it goes back (and wakes one waiting task) when dropped.
pub(super) struct Lease<'p> {
    pool: &'p SessionPool,
    session: Option<Session>,
}

impl Lease<'_> {
    pub(super) fn get(&mut self) -> &mut Session {
        // `session` is only None after drop has taken it.
        self.session.as_mut().unwrap_or_else(|| unreachable!("lease used after release"))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let mut state = lock(&self.pool.state);
            state.idle.push(session);
            drop(state);
            self.pool.returned.notify_one();
        }
    }
}
