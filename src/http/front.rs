//! The one middleware in front of every route: it gives each request its
//! id (which handlers read with [`request_id`] while they run, and which is
//! returned on the response), runs it in a span,
//! adds the CORS headers, and answers `/graphql` with 503 while the seed
//! loads.
//!
//! It is written out rather than stacked from `from_fn` layers because
//! each such layer boxes its future and the next service once more on
//! every request, and the request id went into the request's extensions
//! (a map allocated per request). A request without an `Origin` header
//! (not a browser's cross-origin call) skips the CORS middleware and gets
//! only what matters to it of the headers that middleware would give it:
//! `Vary: Origin`, since a cross-origin request for the same URL is
//! answered with more headers. Not `Access-Control-Expose-Headers`, which a
//! browser reads only on a cross-origin answer, nor the preflight's request
//! headers in `Vary` (only an `OPTIONS` carries them, and it is never
//! answered from a stored `GET` or `POST`). Requests with an `Origin`, and
//! every `OPTIONS` (a preflight), go through [`actix_cors`] as before.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_cors::{Cors, CorsMiddleware};
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{Error, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::seed::LoadProgress;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Response headers a page on an allowed origin may read: the request id
/// and whether the response cache answered (`x-cache`, set by graphql.rs).
pub const EXPOSED_HEADERS: [&str; 2] = [REQUEST_ID_HEADER, "x-cache"];

/// What an answer to a request without `Origin` gets in `Vary` (appended
/// to a `Vary` the answer has), and the same after the `Vary:
/// Accept-Encoding` of an answer that may be gzipped, the usual case, so
/// that it is not joined per request.
const VARY_CORS: &str = "Origin";
const VARY_ENCODING: &str = "Accept-Encoding";
const VARY_ENCODING_AND_CORS: &str = "Accept-Encoding, Origin";

thread_local! {
    /// The id of the request whose handler this thread is polling: a
    /// [`FrontFuture`] moves its id here while it polls the routes and
    /// takes it back after (see [`Current`]).
    static CURRENT: RefCell<Option<HeaderValue>> = const { RefCell::new(None) };
    /// Whether that request came without `Origin` (not through the CORS
    /// middleware), so that [`vary_encoding`] can give its final `Vary`.
    static PLAIN: Cell<bool> = const { Cell::new(false) };
}

/// The `Vary` of an answer that may be gzipped, for the handler being
/// polled: `Accept-Encoding` for a cross-origin request (the CORS
/// middleware appends to it), and for any other the value [`Front`] would
/// make of it once the handler is done, so that it is inserted once rather
/// than inserted and then replaced.
pub fn vary_encoding() -> HeaderValue {
    if PLAIN.with(Cell::get) {
        HeaderValue::from_static(VARY_ENCODING_AND_CORS)
    } else {
        HeaderValue::from_static(VARY_ENCODING)
    }
}

/// The id of the request being handled, as [`Front`] settled it: the
/// client's when it sent a short plain one, else a new one. For handlers,
/// while they run (they run only while [`FrontFuture`] polls them; a task
/// they spawn gets `None`). The id used to be written into the request's
/// own headers for handlers to read, an insertion into its header map on
/// every request that most (all cache hits) never read.
pub fn request_id() -> Option<String> {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned)
    })
}

/// A request's id moved to where [`request_id`] finds it, and whether it
/// came without `Origin` (for [`vary_encoding`]), for as long as this lives
/// (the inner future's poll), then moved back.
struct Current<'a>(&'a mut Option<HeaderValue>);

impl<'a> Current<'a> {
    fn enter(id: &'a mut Option<HeaderValue>, plain: bool) -> Current<'a> {
        CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), id));
        PLAIN.with(|p| p.set(plain));
        Current(id)
    }
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), self.0));
        PLAIN.with(|p| p.set(false));
    }
}

/// A new request id: 16 hex digits, without pulling in a UUID crate: the
/// clock in nanoseconds when the first id was made, plus a counter. Unique
/// within a process (the counter), and unlikely to repeat across restarts:
/// a later process starts its ids from a later clock, and the earlier one
/// would have to have made more ids than nanoseconds passed between the
/// two starts. The clock is read once, not per request.
fn new_request_id() -> HeaderValue {
    static START: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    });
    let value = start.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut digits = [0u8; 16];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[(value >> (60 - 4 * i) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&digits).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// A client-supplied id is kept if it is short and plain; otherwise ours is used.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 64 && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// The middleware; see the module's documentation.
pub struct Front {
    cors: Cors,
    loading: Arc<LoadProgress>,
}

impl Front {
    /// `cors`: the policy for cross-origin requests; `loading`: the
    /// start-up seed load, until whose end `/graphql` answers 503.
    pub fn new(cors: Cors, loading: Arc<LoadProgress>) -> Front {
        Front { cors, loading }
    }
}

impl<S> Transform<S, ServiceRequest> for Front
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
    S::Future: Unpin + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = FrontService<S>;
    type InitError = ();
    type Future = LocalBoxFuture<'static, Result<FrontService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let gate = Gate {
            service: Rc::new(service),
            loading: self.loading.clone(),
        };
        let cors = self.cors.new_transform(gate.clone());
        Box::pin(async move {
            Ok(FrontService {
                gate,
                cors: cors.await?,
            })
        })
    }
}

/// [`Front`] around one worker's routes.
pub struct FrontService<S> {
    gate: Gate<S>,
    /// The same routes behind the CORS middleware, for cross-origin requests.
    cors: CorsMiddleware<Gate<S>>,
}

impl<S> Service<ServiceRequest> for FrontService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error> + 'static,
    S::Future: Unpin + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = FrontFuture<GateFuture<S::Future>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.gate.service.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let id = match req.headers().get(REQUEST_ID) {
            Some(id) if acceptable(id.as_bytes()) => id.clone(),
            _ => new_request_id(),
        };
        // The fields are formatted only when the span is enabled.
        let span = tracing::info_span!(
            "request",
            request_id = %id.to_str().unwrap_or_default(),
            method = %req.method(),
            path = %req.path()
        );
        let cross_origin = req.method() == Method::OPTIONS || req.headers().contains_key(header::ORIGIN);
        let inner = {
            let _entered = span.enter();
            if cross_origin {
                Inner::Cors(self.cors.call(req))
            } else {
                Inner::Plain(self.gate.call(req))
            }
        };
        FrontFuture {
            inner,
            id: Some(id),
            span,
            // Read only for the event that says the request finished.
            started: tracing::enabled!(tracing::Level::INFO).then(Instant::now),
        }
    }
}

enum Inner<G> {
    Cors(LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<BoxBody>>, Error>>),
    /// A request without `Origin` on its way through the [`Gate`].
    Plain(G),
}

/// A request on its way through [`FrontService`]; `G`: the [`Gate`]'s future.
pub struct FrontFuture<G> {
    inner: Inner<G>,
    /// The request's id: moved out for [`request_id`] while the routes are
    /// polled, and onto the answer at the end.
    id: Option<HeaderValue>,
    span: tracing::Span,
    /// When the request came, if the `request finished` event is on.
    started: Option<Instant>,
}

type Answer = Result<ServiceResponse<BoxBody>, Error>;

impl<G: Future<Output = Answer> + Unpin> Future for FrontFuture<G> {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let plain = matches!(this.inner, Inner::Plain(_));
        let current = Current::enter(&mut this.id, plain);
        let answered = match &mut this.inner {
            Inner::Cors(future) => ready!(future.as_mut().poll(cx)).map(ServiceResponse::map_into_boxed_body),
            Inner::Plain(future) => match ready!(Pin::new(future).poll(cx)) {
                Ok(mut res) => {
                    cors_headers(res.headers_mut());
                    Ok(res)
                }
                Err(mut err) => {
                    err.add_response_mapper(|mut res| {
                        cors_headers(res.headers_mut());
                        res
                    });
                    Err(err)
                }
            },
        };
        drop(current);
        let mut res = answered?;
        if let Some(started) = this.started {
            tracing::info!(
                status = res.status().as_u16(),
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                "request finished"
            );
        }
        if let Some(id) = this.id.take() {
            // The routes leave the request id to this middleware: appended
            // (about half the cost of an insert, see `graphql::send`).
            debug_assert!(!res.headers().contains_key(REQUEST_ID), "a route set x-request-id");
            res.headers_mut().append(REQUEST_ID, id);
        }
        Poll::Ready(Ok(res))
    }
}

/// What an answer to a request without `Origin` gets of the CORS headers:
/// `Vary: Origin` (appended to, unless the handler gave it as it ends up,
/// from [`vary_encoding`]).
fn cors_headers(headers: &mut HeaderMap) {
    let vary = match headers.get(header::VARY) {
        None => {
            headers.append(header::VARY, HeaderValue::from_static(VARY_CORS));
            return;
        }
        Some(v) if v == VARY_ENCODING_AND_CORS => return,
        Some(v) if v == VARY_ENCODING => HeaderValue::from_static(VARY_ENCODING_AND_CORS),
        Some(v) => {
            let mut joined = Vec::with_capacity(v.len() + 2 + VARY_CORS.len());
            joined.extend_from_slice(v.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(VARY_CORS.as_bytes());
            HeaderValue::from_bytes(&joined).unwrap_or_else(|_| HeaderValue::from_static(VARY_CORS))
        }
    };
    headers.insert(header::VARY, vary);
}

/// The routes, answering `/graphql` with 503 `NOT_READY` while the
/// start-up seed load runs (the store is not whole yet); `/health`,
/// `/ready`, `/metrics` and the IDE page answer as ever.
pub struct Gate<S> {
    service: Rc<S>,
    loading: Arc<LoadProgress>,
}

impl<S> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate {
            service: self.service.clone(),
            loading: self.loading.clone(),
        }
    }
}

impl<S> Service<ServiceRequest> for Gate<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error>,
    S::Future: Unpin,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if !self.loading.is_finished() && req.path() == "/graphql" {
            let response = HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "1"))
                .json(serde_json::json!({ "errors": [{
                    "message": "the server is still loading its seed; GET /ready shows the progress",
                    "extensions": { "code": "NOT_READY" },
                }] }));
            return GateFuture::Refused(Some(req.into_response(response)));
        }
        GateFuture::Passed(self.service.call(req))
    }
}

/// The routes' answer, or the 503 while loading.
pub enum GateFuture<F> {
    Refused(Option<ServiceResponse<BoxBody>>),
    Passed(F),
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<ServiceResponse<BoxBody>, Error>> + Unpin,
{
    type Output = Result<ServiceResponse<BoxBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            GateFuture::Refused(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            // The routes answer with a boxed body already: nothing to map.
            GateFuture::Passed(future) => Pin::new(future).poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_request_ids_are_16_plain_hex_digits_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 16, "{id:?}");
            assert!(acceptable(id.as_bytes()));
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit), "{id:?}");
        }
    }

    #[test]
    fn the_request_id_is_there_for_handlers_only_while_they_are_polled() {
        let id = HeaderValue::from_static("probe-123");
        let mut seen = Vec::new();
        let mut polls = 0;
        let handler = std::future::poll_fn(|cx| {
            seen.push((request_id(), vary_encoding()));
            polls += 1;
            if polls < 2 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let req = actix_web::test::TestRequest::default().to_http_request();
            Poll::Ready(Ok(ServiceResponse::new(req, HttpResponse::Ok().finish())))
        });
        let mut front = FrontFuture {
            inner: Inner::Plain(Box::pin(handler)),
            id: Some(id.clone()),
            span: tracing::Span::none(),
            started: None,
        };
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut front).poll(&mut cx).is_pending());
        assert_eq!(request_id(), None, "between polls");
        let Poll::Ready(Ok(res)) = Pin::new(&mut front).poll(&mut cx) else {
            panic!("the handler answered on its second poll");
        };
        assert_eq!(request_id(), None, "after the answer");
        assert_eq!(vary_encoding(), VARY_ENCODING, "outside a request without Origin");
        drop(front);
        let during = (
            Some("probe-123".to_owned()),
            HeaderValue::from_static(VARY_ENCODING_AND_CORS),
        );
        assert_eq!(seen, vec![during.clone(), during]);
        assert_eq!(res.headers().get(REQUEST_ID), Some(&id));
    }

    #[test]
    fn an_answer_without_origin_varies_on_origin_and_exposes_nothing() {
        let vary_after = |before: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = before {
                headers.insert(header::VARY, HeaderValue::from_static(v));
            }
            cors_headers(&mut headers);
            assert_eq!(headers.get(header::ACCESS_CONTROL_EXPOSE_HEADERS), None);
            headers.get(header::VARY).unwrap().to_str().unwrap().to_owned()
        };
        assert_eq!(vary_after(None), VARY_CORS);
        assert_eq!(vary_after(Some("Accept-Encoding")), VARY_ENCODING_AND_CORS);
        // As `vary_encoding` gives it to a handler of a request without Origin.
        assert_eq!(vary_after(Some(VARY_ENCODING_AND_CORS)), VARY_ENCODING_AND_CORS);
        assert_eq!(vary_after(Some("Cookie")), format!("Cookie, {VARY_CORS}"));
    }
}
