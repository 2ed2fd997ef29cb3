//! Bytes on their way to the engine, written on a blocking thread: a `Write` whose output
//! becomes a request body through a bounded channel. What is streamed (a step's inputs, a
//! root filesystem, the project for a remote workspace) never has to fit in memory: at most
//! [`QUEUED`] chunks of [`CHUNK`] bytes wait while the engine is slower than the disk. A
//! failure of the writer aborts the body, so the engine never sees a clean end of a partial
//! archive.

use std::io::Write;

use bytes::Bytes;
use futures_util::Stream;

/// Bytes on their way to the engine; an `Err` item aborts the request.
pub(crate) type Body = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The writer's result: its value, or why the body was aborted.
pub(crate) type Verdict<T, E> = tokio::task::JoinHandle<Result<T, E>>;

/// Chunk size of a streamed body, and how many chunks may wait in memory.
pub(crate) const CHUNK: usize = 256 * 1024;
pub(crate) const QUEUED: usize = 4;

/// The engine stopped reading the body (the request failed or ended early); its own error
/// says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the engine stopped reading the stream")
    }
}

impl From<Closed> for std::io::Error {
    fn from(_: Closed) -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::BrokenPipe)
    }
}

/// Whether a writer's error is only the echo of the engine going away ([`Closed`]): the
/// request's own error is the one to report then.
pub(crate) fn is_closed(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// Run `write` on a blocking thread, its output becoming the returned body. A failure
/// aborts the body (so the engine never sees a clean end) and is the verdict.
pub(crate) fn produce<T, E, F>(write: F) -> (Body, Verdict<T, E>)
where
    F: FnOnce(&mut ChannelWriter) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<Closed> + std::fmt::Display + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(QUEUED);
    let abort = tx.clone();
    let verdict = tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let result = write(&mut out).and_then(|value| {
            out.flush().map_err(|_| E::from(Closed))?;
            Ok(value)
        });
        if let Err(e) = &result {
            let _ = abort.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
        result
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (Box::pin(body), verdict)
}

/// A `Write` into the body channel, in chunks of [`CHUNK`]; blocks while the engine is
/// slower than the disk, and fails ([`Closed`], as `BrokenPipe`) once the request is gone.
pub(crate) struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| Closed.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn chunks_arrive_in_order_and_a_failure_aborts_the_body() {
        let (body, verdict) = produce(|out| {
            out.write_all(&vec![1u8; CHUNK + 3])?;
            Ok::<_, std::io::Error>(7)
        });
        let items: Vec<_> = body.collect().await;
        assert_eq!(verdict.await.unwrap().unwrap(), 7);
        let lens: Vec<usize> = items.iter().map(|i| i.as_ref().unwrap().len()).collect();
        assert_eq!(lens, [CHUNK, 3]);

        let (body, verdict) = produce(|out| {
            out.write_all(b"partial")?;
            Err::<(), _>(std::io::Error::other("disk on fire"))
        });
        let items: Vec<_> = body.collect().await;
        assert!(items.last().unwrap().is_err(), "the body ended cleanly");
        assert!(verdict.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_dropped_body_stops_the_writer() {
        let (body, verdict) = produce(|out| loop {
            if let Err(e) = out.write_all(&[0u8; 4096]) {
                break Err::<(), _>(e);
            }
        });
        drop(body);
        let err = verdict.await.unwrap().unwrap_err();
        assert!(is_closed(&err), "{err}");
    }
}
