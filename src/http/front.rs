//! The one middleware in front of every route: it gives each request its
//! id (kept in the request's own `x-request-id` header, so that handlers
//! read it from there, and returned on the response), runs it in a span,
//! adds the CORS headers, and answers `/graphql` with 503 while the seed
//! loads.
//!
//! It is written out rather than stacked from `from_fn` layers because
//! each such layer boxes its future and the next service once more on
//! every request, and the request id went into the request's extensions
//! (a map allocated per request). A request without an `Origin` header
//! (not a browser's cross-origin call) skips the CORS middleware and gets
//! the same two headers that middleware gives such a request, precomputed:
//! `Access-Control-Expose-Headers` and `Vary`. Requests with an `Origin`,
//! and every `OPTIONS` (a preflight), go through [`actix_cors`] as before.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_cors::{Cors, CorsMiddleware};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::{Error, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::seed::LoadProgress;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Response headers a page on an allowed origin may read: the request id
/// and whether the response cache answered (`x-cache`, set by graphql.rs).
pub const EXPOSED_HEADERS: [&str; 2] = [REQUEST_ID_HEADER, "x-cache"];

/// What the CORS middleware puts in `Vary` (appended to a `Vary` the
/// answer has), and the same after the `Vary: Accept-Encoding` of an
/// answer that may be gzipped, the usual case, so that it is not joined
/// per request.
const VARY_CORS: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
const VARY_ENCODING: &str = "Accept-Encoding";
const VARY_ENCODING_AND_CORS: &str =
    "Accept-Encoding, Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The id of the request, as [`Front`] settled it: the client's when it
/// sent a short plain one, else a new one.
pub fn request_id(req: &HttpRequest) -> Option<&str> {
    req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok())
}

/// A new request id: 16 hex digits, unique within a process (a counter)
/// and unlikely to repeat across restarts (the clock), without pulling in
/// a UUID crate.
fn new_request_id() -> HeaderValue {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // 48 bits of the clock, then 16 of the counter.
    let value = (nanos & 0xffff_ffff_ffff) << 16 | (n & 0xffff);
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

impl<S, B> Transform<S, ServiceRequest> for Front
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: Unpin + 'static,
    B: MessageBody + 'static,
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
        let exposed = HeaderValue::from_str(&EXPOSED_HEADERS.join(", ")).map_err(|_| ());
        Box::pin(async move {
            Ok(FrontService {
                gate,
                cors: cors.await?,
                exposed: exposed?,
            })
        })
    }
}

/// [`Front`] around one worker's routes.
pub struct FrontService<S> {
    gate: Gate<S>,
    /// The same routes behind the CORS middleware, for cross-origin requests.
    cors: CorsMiddleware<Gate<S>>,
    /// `Access-Control-Expose-Headers`, as the CORS middleware sends it.
    exposed: HeaderValue,
}

impl<S, B> Service<ServiceRequest> for FrontService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: Unpin + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = FrontFuture<GateFuture<S::Future>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.gate.service.poll_ready(cx)
    }

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let id = match req.headers().get(REQUEST_ID) {
            Some(id) if acceptable(id.as_bytes()) => id.clone(),
            _ => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
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
                Inner::Plain(self.gate.call(req), self.exposed.clone())
            }
        };
        FrontFuture {
            inner,
            id,
            span,
            started: Instant::now(),
        }
    }
}

enum Inner<G> {
    Cors(LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<BoxBody>>, Error>>),
    /// A request without `Origin` on its way through the [`Gate`], and the
    /// `Access-Control-Expose-Headers` value its answer gets.
    Plain(G, HeaderValue),
}

/// A request on its way through [`FrontService`]; `G`: the [`Gate`]'s future.
pub struct FrontFuture<G> {
    inner: Inner<G>,
    id: HeaderValue,
    span: tracing::Span,
    started: Instant,
}

type Answer = Result<ServiceResponse<BoxBody>, Error>;

impl<G: Future<Output = Answer> + Unpin> Future for FrontFuture<G> {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let answered = match &mut this.inner {
            Inner::Cors(future) => ready!(future.as_mut().poll(cx)).map(ServiceResponse::map_into_boxed_body),
            Inner::Plain(future, exposed) => match ready!(Pin::new(future).poll(cx)) {
                Ok(mut res) => {
                    cors_headers(res.headers_mut(), exposed);
                    Ok(res)
                }
                Err(mut err) => {
                    let exposed = exposed.clone();
                    err.add_response_mapper(move |mut res| {
                        cors_headers(res.headers_mut(), &exposed);
                        res
                    });
                    Err(err)
                }
            },
        };
        let mut res = answered?;
        tracing::info!(
            status = res.status().as_u16(),
            elapsed_ms = this.started.elapsed().as_secs_f64() * 1e3,
            "request finished"
        );
        res.headers_mut().insert(REQUEST_ID, this.id.clone());
        Poll::Ready(Ok(res))
    }
}

/// The headers the CORS middleware gives an answer to a request without
/// `Origin`: which headers a page may read, and `Vary` (appended to).
fn cors_headers(headers: &mut HeaderMap, exposed: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed.clone());
    let vary = match headers.get(header::VARY) {
        None => HeaderValue::from_static(VARY_CORS),
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

impl<S, B> Service<ServiceRequest> for Gate<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S::Future: Unpin,
    B: MessageBody + 'static,
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

impl<F, B> Future for GateFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>> + Unpin,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<BoxBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            GateFuture::Refused(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            GateFuture::Passed(future) => Pin::new(future)
                .poll(cx)
                .map(|answered| answered.map(ServiceResponse::map_into_boxed_body)),
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
    fn vary_is_appended_to_as_the_cors_middleware_does() {
        let exposed = HeaderValue::from_static("x-request-id, x-cache");
        let vary_after = |before: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = before {
                headers.insert(header::VARY, HeaderValue::from_static(v));
            }
            cors_headers(&mut headers, &exposed);
            assert_eq!(headers.get(header::ACCESS_CONTROL_EXPOSE_HEADERS), Some(&exposed));
            headers.get(header::VARY).unwrap().to_str().unwrap().to_owned()
        };
        assert_eq!(vary_after(None), VARY_CORS);
        assert_eq!(vary_after(Some("Accept-Encoding")), VARY_ENCODING_AND_CORS);
        assert_eq!(vary_after(Some("Cookie")), format!("Cookie, {VARY_CORS}"));
    }
}
