//! Children that die with their parent: every process the arena starts (a sidecar, a backend
//! under test, the mock, a Node worker) must be gone when its parent is, even a parent killed
//! with SIGKILL that runs no cleanup. The kernel does it: `PR_SET_PDEATHSIG` set in the child
//! between fork and exec delivers SIGKILL to it when the parent dies.

use rustix::process::Signal;

/// Makes the child `command` spawns receive SIGKILL when this process dies.
///
/// The signal fires when the *thread* that forked the child exits, so spawn from threads that
/// live as long as the process (a runtime's workers or its main thread), never from
/// `spawn_blocking`, whose threads come and go.
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // work is allowed. It makes two raw syscalls (prctl, getppid), allocates nothing (the
    // error is built from a raw errno) and touches no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died between fork and prctl; then no signal will ever come.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_with_a_lifeline_still_runs_normally() {
        let mut command = std::process::Command::new("true");
        die_with_parent(&mut command);
        assert!(command.status().unwrap().success());
    }
}
