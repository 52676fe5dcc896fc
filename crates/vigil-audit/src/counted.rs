//! A response body that counts what it actually sends and reports the total once, when the body ends or is
//! dropped (the client went away mid-transfer). Two-stage logging uses it so the `complete` event of a read
//! records the bytes sent, not the bytes intended.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

type OnEnd = Box<dyn FnOnce(u64, bool) + Send>;

pub struct CountedBody {
    inner: Body,
    sent: u64,
    /// Called with the bytes sent and whether the body ended normally.
    on_end: Option<OnEnd>,
}

impl CountedBody {
    pub fn new(inner: Body, on_end: impl FnOnce(u64, bool) + Send + 'static) -> Self {
        CountedBody { inner, sent: 0, on_end: Some(Box::new(on_end)) }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(f) = self.on_end.take() {
            f(self.sent, complete);
        }
    }
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Ready(None) => self.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        // An empty body may never be polled to its end.
        let ended = http_body::Body::is_end_stream(&self.inner);
        self.finish(ended);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn reports_bytes_sent_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let body = CountedBody::new(Body::from("hello world"), move |n, done| s.lock().unwrap().push((n, done)));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 11);
        assert_eq!(*seen.lock().unwrap(), vec![(11, true)]);
    }

    #[tokio::test]
    async fn a_dropped_body_reports_what_it_sent() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let stream =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("abc")), Ok(Bytes::from("def"))]);
        let mut body = CountedBody::new(Body::from_stream(stream), move |n, done| s.lock().unwrap().push((n, done)));
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.data_ref().unwrap().len(), 3);
        drop(body);
        assert_eq!(*seen.lock().unwrap(), vec![(3, false)]);
    }
}
