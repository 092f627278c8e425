//! The same loop as the async driver, on a dedicated thread with a
//! blocking socket: one `recvfrom` and one `sendto` per request, the
//! fewest system calls a UDP server can make. Timers are checked at least
//! every [`TICK`]; commands (late responses, shutdown) are picked up
//! between datagrams.

use std::io;
use std::os::fd::AsFd as _;
use std::time::Duration;

use bytes::BufMut as _;

use super::driver::{Command, Driver};
use super::now;

/// The longest the loop blocks in `recvfrom` before it looks at timers and
/// commands: the timer resolution of the blocking server.
pub(crate) const TICK: Duration = Duration::from_millis(5);

impl Driver {
    /// Runs the server loop on the current thread until a shutdown command;
    /// then lingers as the async loop does.
    pub(crate) fn run_blocking(mut self) -> io::Result<()> {
        let socket = std::net::UdpSocket::from(self.socket.as_fd().try_clone_to_owned()?);
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(TICK))?;
        let mut stopping: Option<std::time::Instant> = None;
        let max = self.endpoint.config().max_message_size + 1;
        loop {
            // Commands: late responses, shutdown.
            loop {
                match self.commands.try_recv() {
                    Ok(Command::Shutdown) => {
                        if stopping.is_none() {
                            stopping = Some(self.begin_shutdown().into_std());
                        }
                    }
                    Ok(cmd) => self.apply(cmd),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                        if stopping.is_none() {
                            stopping = Some(self.begin_shutdown().into_std());
                        }
                        break;
                    }
                }
            }
            let t = now();
            if self.endpoint.poll_timeout().is_some_and(|d| d <= t) {
                self.endpoint.handle_timeout(t);
            }
            self.dispatch();
            while let Some(tx) = self.endpoint.poll_transmit() {
                if let Err(e) = socket.send_to(&tx.payload, tx.destination) {
                    tracing::debug!(error = %e, to = %tx.destination, "send failed");
                }
            }
            if let Some(deadline) = stopping {
                let busy = self.endpoint.has_unacknowledged() || self.endpoint.usage().incoming > 0;
                if !busy || now() >= deadline {
                    return Ok(());
                }
            }
            if self.rx.capacity() - self.rx.len() < max {
                self.rx.reserve((max * 32).max(64 * 1024));
            }
            let spare = self.rx.chunk_mut().len();
            self.rx.resize(self.rx.len() + spare.min(max), 0);
            let start = self.rx.len() - spare.min(max);
            match socket.recv_from(&mut self.rx[start..]) {
                Ok((n, from)) => {
                    self.rx.truncate(start + n);
                    let datagram = self.rx.split().freeze();
                    self.endpoint.handle_datagram(now(), from, datagram);
                }
                Err(e) => {
                    self.rx.truncate(start);
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        tracing::debug!(error = %e, "recv failed");
                    }
                }
            }
        }
    }
}
