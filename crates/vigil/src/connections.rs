//! At most `http.max_connections` connections at once. The accept loop asks the make-service whether it is ready
//! before taking the next connection, so while every permit is held vigil stops accepting: further clients wait
//! in the kernel's backlog instead of costing a file descriptor each (a slowloris flood then cannot starve the
//! blob store of descriptors). A connection's permit lives in its service and returns when the connection ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::Service;

/// A make-service that hands out at most `limit` connection services at once.
pub struct Limited<M> {
    inner: M,
    permits: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
}

impl<M> Limited<M> {
    pub fn new(inner: M, limit: usize) -> Self {
        Limited { inner, permits: PollSemaphore::new(Arc::new(Semaphore::new(limit))), permit: None }
    }
}

/// A clone shares the limit but not a permit acquired for the next connection.
impl<M: Clone> Clone for Limited<M> {
    fn clone(&self) -> Self {
        Limited { inner: self.inner.clone(), permits: self.permits.clone(), permit: None }
    }
}

/// One connection's service, holding its permit.
#[derive(Clone)]
pub struct Connection<S> {
    inner: S,
    _permit: Option<Arc<OwnedSemaphorePermit>>,
}

impl<M, T> Service<T> for Limited<M>
where
    M: Service<T>,
    M::Future: Send + 'static,
{
    type Response = Connection<M::Response>;
    type Error = M::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            // The semaphore is never closed, so a permit always comes.
            self.permit = ready!(self.permits.poll_acquire(cx));
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let permit = self.permit.take().map(Arc::new);
        let made = self.inner.call(target);
        Box::pin(async move { made.await.map(|inner| Connection { inner, _permit: permit }) })
    }
}

impl<S, R> Service<R> for Connection<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.inner.call(req)
    }
}
