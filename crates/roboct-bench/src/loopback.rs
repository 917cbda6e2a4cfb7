//! Local peers on the loopback interface, for `roboct bench upload` and the tests that start
//! real peers (roboct-dicom's and the command line's, as a dev-dependency): a free port,
//! waiting until a port listens, and a child process that is stopped and reaped when dropped
//! (also when a test panics), so no peer outlives its user. Moved here from `roboct-dicom`,
//! which no longer ships code that starts programs or runs `kill`.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound, then released: another
/// process may take it in between, which local tests and benchmarks accept).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; `false` after `timeout`.
pub fn wait_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
}

impl ChildGuard {
    /// Starts `cmd` with stdin closed. The error names the program (`name`).
    pub fn spawn(name: &str, cmd: &mut Command) -> io::Result<Self> {
        let child = cmd.stdin(Stdio::null()).spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {name}: {e} (is it installed? ./scripts/deps)"),
            )
        })?;
        Ok(Self {
            child: Some(child),
            name: name.to_string(),
        })
    }

    /// The program's name, as given to [`ChildGuard::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process ID, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process has exited (or was stopped).
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// SIGKILL and wait: as abrupt as a crash or a power cut, as far as the peer's disk goes.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait until it has exited (Orthanc keeps its database locked until then).
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let stopped = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status()
                .is_ok_and(|s| s.success());
            if !stopped {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_children() {
        let port = free_port().unwrap();
        assert!(
            !wait_port(port, Duration::from_millis(50)),
            "nothing listens yet"
        );
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(wait_port(port, Duration::from_secs(1)));
        drop(listener);
        let mut c = ChildGuard::spawn("sleep", Command::new("sleep").arg("30")).unwrap();
        assert!(c.id().is_some() && !c.has_exited());
        c.terminate();
        assert!(c.has_exited() && c.id().is_none());
        let e =
            ChildGuard::spawn("no-such-program", &mut Command::new("/nonexistent/x")).unwrap_err();
        assert!(
            e.to_string().contains("cannot start no-such-program"),
            "{e}"
        );
    }
}
