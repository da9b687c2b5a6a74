//! Process groups the harness has started, and the means to stop them from anywhere: a
//! process-wide registry of live groups, a guard that kills its group when dropped, and the
//! Ctrl-C / SIGTERM / panic hooks that kill everything still registered.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use rustix::process::{Pid, Signal};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn registry() -> &'static Mutex<BTreeSet<i32>> {
    static LIVE: OnceLock<Mutex<BTreeSet<i32>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// Keeps a group in the registry while it may be alive; killing it on drop covers every early
/// return and unwinding panic.
#[derive(Debug)]
pub(crate) struct GroupGuard {
    pub(crate) pgid: i32,
}

impl GroupGuard {
    pub(crate) fn register(pgid: i32) -> Self {
        lock(registry()).insert(pgid);
        Self { pgid }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.pgid, Signal::KILL);
        lock(registry()).remove(&self.pgid);
    }
}

pub(crate) fn signal_group(pgid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pgid) {
        // ESRCH (the group is already gone) is the outcome we want.
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Whether any process of the group still exists.
pub fn group_alive(pgid: i32) -> bool {
    Pid::from_raw(pgid).is_some_and(|pid| rustix::process::test_kill_process_group(pid).is_ok())
}

/// Whether a process exists and has not exited (a zombie waiting to be reaped has exited).
pub fn pid_alive(pid: u32) -> bool {
    let exists = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok());
    exists && !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) S ...`: the state follows the last `)`, since comm may hold one.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
}

/// Kills every group the harness started and has not stopped yet.
pub fn kill_all() {
    let groups: Vec<i32> = lock(registry()).iter().copied().collect();
    for pgid in groups {
        signal_group(pgid, Signal::KILL);
    }
}

/// Stops every child when the harness is interrupted (Ctrl-C, SIGTERM) or panics. Call once,
/// from the binary, inside the tokio runtime.
pub fn install_cleanup() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all();
        previous(info);
    }));
    tokio::spawn(async {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        // Without a SIGTERM handler, Ctrl-C must still stop every child.
        let terminated = async {
            match term {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(e) => {
                    eprintln!("harness: cannot watch for SIGTERM ({e}); stop it with Ctrl-C");
                    std::future::pending::<()>().await;
                }
            }
        };
        // Likewise a Ctrl-C handler that failed to install must not count as a Ctrl-C.
        let interrupted = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                eprintln!("harness: cannot watch for Ctrl-C ({e}); stop it with SIGTERM");
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = interrupted => {}
            () = terminated => {}
        }
        kill_all();
        eprintln!("harness: interrupted; every process it started has been stopped");
        std::process::exit(130);
    });
}
