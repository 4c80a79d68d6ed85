//! gzip for GraphQL answers, when the client accepts it.
//!
//! A nested answer runs to tens of kilobytes of repetitive JSON, which gzip
//! shrinks about tenfold. Answers from the response cache are compressed
//! once and kept that way beside the plain bytes (see [`super::cache`]), so
//! a repeated read costs no compression; other answers are compressed as
//! they go, at gzip's fastest level. Small answers go as they are.

use std::io::Write;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpRequest;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Answers shorter than this are sent as they are: a gzip header and a
/// round trip through the compressor cost more than they save.
pub const MIN_COMPRESSED_BODY: usize = 1024;

/// Whether the request's `Accept-Encoding` accepts gzip: listed (or `*`)
/// with a weight above zero, and not refused by a `gzip;q=0`.
pub fn accepts_gzip(req: &HttpRequest) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in req.headers().get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(weight > 0.0);
            } else if name == "*" {
                any = Some(weight > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// `body` gzipped at `level`, or `None` when it is too short to be worth it
/// or does not shrink.
pub fn gzip(body: &[u8], level: Compression) -> Option<Bytes> {
    if body.len() < MIN_COMPRESSED_BODY {
        return None;
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), level);
    encoder.write_all(body).ok()?;
    let out = encoder.finish().ok()?;
    (out.len() < body.len()).then(|| Bytes::from(out))
}

/// The level for an answer compressed once and then served many times.
pub fn for_keeping() -> Compression {
    Compression::default()
}

/// The level for an answer compressed for one response.
pub fn for_once() -> Compression {
    Compression::fast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accepts(value: &str) -> bool {
        accepts_gzip(
            &TestRequest::default()
                .insert_header((header::ACCEPT_ENCODING, value))
                .to_http_request(),
        )
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip"));
        assert!(accepts("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(accepts("br, GZIP"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("*, gzip;q=0"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn short_answers_are_not_compressed_and_long_ones_round_trip() {
        assert_eq!(gzip(b"{\"data\":{}}", for_once()), None);
        let long = "{\"title\":\"A visit\"},".repeat(200);
        let packed = gzip(long.as_bytes(), for_keeping()).expect("repetitive JSON shrinks");
        assert!(packed.len() * 5 < long.len());
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed[..]), &mut plain).unwrap();
        assert_eq!(plain, long);
    }
}
