//! The JSON error body on the answers hyper writes itself.
//!
//! hyper answers a request it cannot parse (a malformed request line or
//! header: 400; a request target over 65,534 bytes: 414; a head over its
//! buffer or with too many fields: 431) on its own, before any route or
//! middleware runs, with an empty body, and offers no hook to change it.
//! The server's own limits (`head_limits.rs`) sit below hyper's, so that
//! most such requests reach code that writes the JSON body; this module
//! covers the rest. Owns [`JsonErrorBodies`], a wrapper around a
//! connection's socket that recognises those automatic answers as hyper
//! writes them, a bare head with `content-length: 0`, and sends the same
//! status with the JSON error body instead. Never touches any other bytes:
//! every answer of the router has a body, so none matches.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ErrorKind;

/// The automatic answers of hyper's server (its `on_error`): status line,
/// and what the body says about it.
const AUTOMATIC_ANSWERS: [(&[u8], ErrorKind, &str); 3] = [
    (b"HTTP/1.1 400 Bad Request\r\n", ErrorKind::InvalidInput, "the request line or a header is not valid HTTP/1.1"),
    (
        b"HTTP/1.1 414 URI Too Long\r\n",
        ErrorKind::TooLarge,
        "the request target is over 65534 bytes, the most the HTTP parser takes",
    ),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        ErrorKind::TooLarge,
        "the request head is larger, or has more header fields, than the HTTP parser takes",
    ),
];

/// The empty body hyper declares on an automatic answer.
const EMPTY_BODY: &[u8] = b"\r\ncontent-length: 0\r\n";

/// A connection's socket whose automatic hyper answers get the JSON body.
pub struct JsonErrorBodies<S> {
    inner: S,
    /// A rewritten answer and how much of it was written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonErrorBodies<S> {
    /// Wraps a connection's socket.
    pub fn new(inner: S) -> Self {
        Self { inner, pending: None }
    }
}

/// The answer to send instead of `head`, when `head` is one of hyper's
/// automatic answers: the whole of what hyper writes, a head and no body.
fn rewritten(head: &[u8]) -> Option<Vec<u8>> {
    let (_, kind, message) = AUTOMATIC_ANSWERS.iter().find(|(status_line, _, _)| head.starts_with(status_line))?;
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let at = head.windows(EMPTY_BODY.len()).position(|window| window.eq_ignore_ascii_case(EMPTY_BODY))?;
    let body = serde_json::json!({"error": message, "kind": kind.as_str()}).to_string();
    // hyper closes the connection after these; it says so itself.
    let headers = format!("\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    let mut answer = Vec::with_capacity(head.len() + headers.len() + body.len());
    answer.extend_from_slice(&head[..at]);
    answer.extend_from_slice(headers.as_bytes());
    answer.extend_from_slice(&head[at + EMPTY_BODY.len()..]);
    answer.extend_from_slice(body.as_bytes());
    Some(answer)
}

impl<S: AsyncWrite + Unpin> JsonErrorBodies<S> {
    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.pending {
            if *written == answer.len() {
                self.pending = None;
                break;
            }
            let count = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if count == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += count;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> JsonErrorBodies<S> {
    /// When `buf` is an automatic answer, starts writing its rewrite in its
    /// place and reports `buf` as taken whole; the rest of the rewrite goes
    /// out on the next write or on the flush hyper makes next.
    fn take_automatic_answer(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> io::Result<Option<usize>> {
        let Some(answer) = rewritten(buf) else { return Ok(None) };
        self.pending = Some((answer, 0));
        if let Poll::Ready(Err(error)) = self.poll_pending(cx) {
            return Err(error);
        }
        Ok(Some(buf.len()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrorBodies<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrorBodies<S> {
    // hyper hands a head over whole, in one call (a buffer, or one slice of
    // a vectored write), so an automatic answer, a head alone, arrives whole.
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(taken) = self.take_automatic_answer(cx, buf)? {
            return Poll::Ready(Ok(taken));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let mut filled = bufs.iter().filter(|buf| !buf.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && let Some(taken) = self.take_automatic_answer(cx, only)?
        {
            return Poll::Ready(Ok(taken));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::rewritten;

    #[test]
    fn an_automatic_answer_gets_the_json_body_and_nothing_else_changes() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let answer = String::from_utf8(rewritten(head).unwrap_or_default()).unwrap_or_default();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains("content-type: application/json") && head.contains("date: x"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        assert!(body.contains(r#""kind":"too_large""#), "{body}");
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(rewritten(ours).is_none(), "an answer with a body is left alone");
        assert!(rewritten(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
