//! Running one command: input on stdin, stdout and stderr read concurrently (a resource that
//! writes megabytes to either never deadlocks), stderr handed over line by line as it arrives,
//! and an optional timeout that kills the command together with its child processes.
//!
//! Synchronous by design: no async runtime is needed by callers (the CLI, the C ABI).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Resolves a manifest's `executable`: absolute as is; a relative path with a directory part
/// against the manifest's directory; a bare name in the manifest's directory when a file of that
/// name is there, else on `PATH`.
pub fn resolve_executable(dir: &Path, executable: &str) -> PathBuf {
    let p = Path::new(executable);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    if p.components().count() > 1 {
        return dir.join(p);
    }
    let local = dir.join(p);
    if local.is_file() {
        local
    } else {
        p.to_path_buf()
    }
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Added to (or overriding) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Bytes for stdin; `None` closes stdin at once.
    pub stdin: Option<Vec<u8>>,
    /// Kill the command (and every process in its process group) after this long.
    pub timeout: Option<Duration>,
}

/// How a command ended.
#[derive(Debug)]
pub struct CommandOutput {
    /// The exit code; a command killed by signal N reports `128 + N`, as shells do.
    pub code: i32,
    pub stdout: Vec<u8>,
}

/// Why a command could not produce an exit code.
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// The timeout passed; the command and its process group were killed.
    Timeout(Duration),
}

enum Event {
    StderrLine(String),
    StderrDone,
    Exited(std::io::Result<ExitStatus>),
}

/// How long to wait for output pipes to close after the command was killed (a grandchild that
/// left the process group could hold them open forever).
const AFTER_KILL_GRACE: Duration = Duration::from_secs(2);

/// Runs the command; `on_stderr_line` is called on the calling thread for every stderr line,
/// in order, as the lines arrive.
pub fn run(
    spec: &CommandSpec,
    on_stderr_line: &mut dyn FnMut(&str),
) -> Result<CommandOutput, RunError> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    // With a timeout, the command gets its own process group so that killing it also kills
    // whatever it started. Without one it stays in ours, so a terminal's Ctrl-C reaches it.
    #[cfg(unix)]
    if spec.timeout.is_some() {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;

    // Small input fits in the pipe buffer (64 KiB on Linux, at least 4 KiB by POSIX), so
    // writing it cannot block; larger input gets a writer thread so that a command busy writing
    // its own output before reading never deadlocks with us.
    let stdin_thread = match (child.stdin.take(), &spec.stdin) {
        (Some(mut pipe), Some(bytes)) if bytes.len() <= INLINE_STDIN_LIMIT => {
            let _ = pipe.write_all(bytes); // a command that exits without reading: not our error
            None
        }
        (Some(mut pipe), Some(bytes)) => {
            let bytes = bytes.clone();
            Some(thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let (code, stdout) = match spec.timeout {
        None => {
            // The common case: both pipes are read on this thread as data arrives.
            let stdout = read_both(stdout, stderr, on_stderr_line);
            let status = child.wait().map_err(RunError::Spawn)?;
            (exit_code(status), stdout)
        }
        Some(timeout) => {
            let stdout_thread = stdout.map(drain_on_a_thread);
            let code = wait_with_timeout(child, stderr, timeout, on_stderr_line)?;
            let stdout = match stdout_thread {
                Some(t) => t.join().unwrap_or_default(),
                None => Vec::new(),
            };
            (code, stdout)
        }
    };
    if let Some(t) = stdin_thread {
        let _ = t.join();
    }
    Ok(CommandOutput { code, stdout })
}

/// Reads a pipe to its end on a thread of its own.
fn drain_on_a_thread(mut pipe: std::process::ChildStdout) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// Reads stdout to its end and hands over stderr line by line, reading whichever pipe has
/// data, so a command that fills one pipe while we wait on the other never stalls.
#[cfg(unix)]
fn read_both(
    mut stdout: Option<std::process::ChildStdout>,
    mut stderr: Option<std::process::ChildStderr>,
    on_stderr_line: &mut dyn FnMut(&str),
) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    let mut lines = Lines::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let fd = |p: Option<i32>| libc::pollfd {
            fd: p.unwrap_or(-1), // a negative descriptor is skipped by poll(2)
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            fd(stdout.as_ref().map(|p| p.as_raw_fd())),
            fd(stderr.as_ref().map(|p| p.as_raw_fd())),
        ];
        if stdout.is_none() && stderr.is_none() {
            break;
        }
        // SAFETY: `fds` is an array of two initialized pollfd that outlives the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN | libc::ENOMEM) => {
                    thread::sleep(Duration::from_millis(1));
                    continue;
                }
                // The pipes close on return, so the command is not left blocked on them.
                _ => break,
            }
        }
        if fds[0].revents != 0
            && let Some(p) = &mut stdout
        {
            match read_some(p, &mut buf) {
                Some(n) => out.extend_from_slice(&buf[..n]),
                None => stdout = None,
            }
        }
        if fds[1].revents != 0
            && let Some(p) = &mut stderr
        {
            match read_some(p, &mut buf) {
                Some(n) => lines.push(&buf[..n], on_stderr_line),
                None => stderr = None,
            }
        }
    }
    lines.finish(on_stderr_line);
    out
}

/// One read from a pipe that poll(2) reported ready: `None` at its end or on an error.
#[cfg(unix)]
fn read_some(pipe: &mut impl Read, buf: &mut [u8]) -> Option<usize> {
    loop {
        match pipe.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// The same with a second thread draining stdout, where poll(2) is not at hand.
#[cfg(not(unix))]
fn read_both(
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    on_stderr_line: &mut dyn FnMut(&str),
) -> Vec<u8> {
    let stdout_thread = stdout.map(drain_on_a_thread);
    if let Some(err) = stderr {
        read_lines(err, |line| {
            on_stderr_line(&line);
            true
        });
    }
    match stdout_thread {
        Some(t) => t.join().unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Stderr split into lines as chunks arrive: each line lossily decoded, without its line
/// ending (as [`read_lines`] gives them).
#[cfg(unix)]
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

#[cfg(unix)]
impl Lines {
    /// Each byte is looked at once, however long a line grows.
    fn push(&mut self, chunk: &[u8], on_line: &mut dyn FnMut(&str)) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                Self::emit(&rest[..end], on_line);
            } else {
                self.partial.extend_from_slice(&rest[..end]);
                Self::emit(&self.partial, on_line);
                self.partial.clear();
            }
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn finish(self, on_line: &mut dyn FnMut(&str)) {
        if !self.partial.is_empty() {
            Self::emit(&self.partial, on_line);
        }
    }

    fn emit(line: &[u8], on_line: &mut dyn FnMut(&str)) {
        let text = String::from_utf8_lossy(line);
        on_line(text.trim_end_matches(['\n', '\r']));
    }
}

/// Input up to this size is written to stdin without a helper thread.
const INLINE_STDIN_LIMIT: usize = 4096;

/// Reads lines (lossily decoded, without line endings) until EOF or until `f` returns false.
fn read_lines(stream: impl Read, mut f: impl FnMut(String) -> bool) {
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                if !f(text.trim_end_matches(['\n', '\r']).to_string()) {
                    break;
                }
            }
        }
    }
}

/// Waits for the command, forwarding stderr lines, and kills its process group at the deadline.
fn wait_with_timeout(
    child: Child,
    stderr: Option<std::process::ChildStderr>,
    timeout: Duration,
    on_stderr_line: &mut dyn FnMut(&str),
) -> Result<i32, RunError> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<Event>();
    match stderr {
        Some(err) => {
            let tx = tx.clone();
            thread::spawn(move || {
                read_lines(err, |line| tx.send(Event::StderrLine(line)).is_ok());
                let _ = tx.send(Event::StderrDone);
            });
        }
        None => {
            let _ = tx.send(Event::StderrDone);
        }
    }
    spawn_waiter(child, tx);

    let deadline = Instant::now() + timeout;
    let mut status: Option<std::io::Result<ExitStatus>> = None;
    let mut stderr_done = false;
    while status.is_none() || !stderr_done {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::StderrLine(line)) => on_stderr_line(&line),
            Ok(Event::StderrDone) => stderr_done = true,
            Ok(Event::Exited(s)) => status = Some(s),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_group(pid);
                // Let the pipes close; a stray grandchild that left the group could hold them
                // open forever, so do not wait longer than the grace period.
                let grace = Instant::now() + AFTER_KILL_GRACE;
                while let Ok(e) = rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
                    if let Event::StderrLine(line) = e {
                        on_stderr_line(&line);
                    }
                }
                return Err(RunError::Timeout(timeout));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    match status {
        Some(Ok(s)) => Ok(exit_code(s)),
        Some(Err(e)) => Err(RunError::Spawn(e)),
        None => Ok(-1),
    }
}

fn spawn_waiter(mut child: Child, tx: mpsc::Sender<Event>) {
    thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(Event::Exited(status));
    });
}

fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    -1
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group we created for the child
    // (process_group(0) makes its group id equal to its pid). No memory is involved.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            ..Default::default()
        }
    }

    #[test]
    fn stdin_reaches_the_command_and_stdout_comes_back() {
        let mut spec = sh("cat");
        spec.stdin = Some(b"{\"a\":1}".to_vec());
        let out = run(&spec, &mut |_| {}).unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, b"{\"a\":1}");
    }

    #[cfg(unix)]
    #[test]
    fn stderr_lines_split_across_reads_arrive_whole_and_without_line_endings() {
        let mut got = Vec::new();
        let mut on_line = |l: &str| got.push(l.to_string());
        let mut lines = Lines::default();
        for chunk in [
            &b"one\r"[..],
            b"\ntw",
            b"o\n\nthr",
            b"ee \xff",
            b"\r\n",
            b"last",
        ] {
            lines.push(chunk, &mut on_line);
        }
        lines.finish(&mut on_line);
        assert_eq!(got, ["one", "two", "", "three \u{fffd}", "last"]);
    }

    #[test]
    fn a_long_stderr_line_without_an_ending_arrives_whole() {
        let mut lines = Vec::new();
        let out = run(
            &sh("head -c 300000 /dev/zero | tr '\\0' x >&2; echo done"),
            &mut |l| lines.push(l.len()),
        )
        .unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout, b"done\n");
        assert_eq!(lines, [300_000]);
    }

    #[test]
    fn stderr_lines_arrive_in_order() {
        let mut lines = Vec::new();
        let out = run(&sh("echo one >&2; echo two >&2; exit 3"), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
        assert_eq!(out.code, 3);
        assert_eq!(lines, vec!["one", "two"]);
    }

    #[test]
    fn a_command_filling_both_pipes_at_once_finishes_with_all_its_output() {
        // 200 KiB on each stream, interleaved: more than a pipe holds, so reading only one of
        // them at a time would stall the command.
        let script = "i=0; while [ $i -lt 2000 ]; do \
            printf '%0100d\\n' $i; printf 'line %0095d\\r\\n' $i >&2; i=$((i+1)); done; \
            printf 'tail' >&2";
        let mut lines = Vec::new();
        let out = run(&sh(script), &mut |l| lines.push(l.to_string())).unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(out.stdout.len(), 2000 * 101);
        assert_eq!(lines.len(), 2001);
        assert_eq!(lines[1999], format!("line {:095}", 1999));
        assert_eq!(lines[2000], "tail");
    }

    #[test]
    fn timeout_kills_the_command_and_its_children() {
        let mut spec = sh("sleep 30 & sleep 30; echo never");
        spec.timeout = Some(Duration::from_millis(300));
        let start = Instant::now();
        let err = run(&spec, &mut |_| {}).unwrap_err();
        assert!(matches!(err, RunError::Timeout(_)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let spec = CommandSpec {
            program: "/nonexistent/traek-test-program".into(),
            ..Default::default()
        };
        assert!(matches!(run(&spec, &mut |_| {}), Err(RunError::Spawn(_))));
    }
}
