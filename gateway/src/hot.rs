//! Hot answers: each worker thread keeps the complete answers it gave recently to reads of
//! published, numbered versions of public datasets, by exact request target (path and query)
//! and the format its `Accept` header asks for. The gate answers a repeat from here right after
//! the caller's limits, before routing: no route matching, query parsing, cache key, `ETag` or
//! shared-cache lookup.
//!
//! Only answers that are the same for every caller are kept: public access, a numbered version
//! (immutable), published (no deprecation headers), no `api_key` in the query (a credential is
//! never stored here, and such a target is one client's anyway). The headers are the ones the
//! handler made, so a hot answer cannot differ from a handler's; the body is the shared cache's.
//!
//! Any change to a dataset or the catalog forgets every thread's answers, here and, through
//! pub/sub, on other nodes (a generation counter); a short lifetime is the backstop when pub/sub
//! is down, as for resolved versions. Each thread holds at most [`MAX_TARGETS`] targets and
//! [`MAX_BYTES`] of bodies (bodies are shared with the response cache while it keeps them); the
//! map is emptied when full.
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use catalog::domain::{Access, VersionStatus};
use catalog::records::query::RecordFormat;
use prometheus_client::metrics::counter::Counter;

use crate::cache::Cached;
use crate::routes::versions::Resolved;

/// How long an answer is used without the dataset being looked at again when no change event
/// arrives (the resolved versions' lifetime).
const LIFETIME: Duration = Duration::from_secs(10);
/// Targets per thread.
const MAX_TARGETS: usize = 256;
/// Body bytes per thread.
const MAX_BYTES: usize = 4 << 20;
/// Targets that can be hot start with this.
const PREFIX: &str = "/v1/datasets/";

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const HIT: HeaderValue = HeaderValue::from_static("hit");

/// A complete answer, as the handler made it.
struct Answer {
    cached: Arc<Cached>,
    /// The handler's headers, except the per-request `X-Cache` and `Age`.
    headers: Vec<(HeaderName, HeaderValue)>,
    etag: HeaderValue,
    made: Instant,
}

/// One thread's answers, for one [`HotAnswers`] at one generation.
struct Memo {
    owner: u64,
    generation: u64,
    bytes: usize,
    /// By target; one slot per format an `Accept` header can pick.
    answers: HashMap<Box<str>, [Option<Rc<Answer>>; 4], foldhash::fast::RandomState>,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo {
        owner: 0,
        generation: 0,
        bytes: 0,
        answers: HashMap::default(),
    });
}

static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

pub struct HotAnswers {
    enabled: bool,
    /// Tells this server's answers in [`MEMO`] apart from another server's in the process.
    owner: u64,
    /// Bumped by every change: older answers in [`MEMO`] are ignored.
    generation: AtomicU64,
    /// Answers served from here (they are response-cache hits, counted as L1 hits too).
    hits: Counter,
}

/// The slot of the format `Accept` asks for (what a records read uses when `format` is absent).
fn slot(format: RecordFormat) -> usize {
    match format {
        RecordFormat::Json => 0,
        RecordFormat::Csv => 1,
        RecordFormat::Ndjson => 2,
        RecordFormat::Geojson => 3,
    }
}

fn target(req: &HttpRequest) -> &str {
    req.uri().path_and_query().map_or("", |t| t.as_str())
}

/// Whether a query string may hold an API key (`api_key`, in any spelling the parser decodes).
fn carries_key(query: &str) -> bool {
    let q = query.to_ascii_lowercase();
    q.contains("api_key") || q.contains("api%5f")
}

impl HotAnswers {
    /// `enabled` follows the response cache: with it off, every read reaches storage.
    pub fn new(enabled: bool, hits: Counter) -> Self {
        Self {
            enabled,
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            hits,
        }
    }

    /// Read by a handler before it resolves anything, and handed back to [`Self::remember`]:
    /// a change racing the read makes the answer stale at once.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets every thread's answers (a dataset or the catalog changed).
    pub fn purge(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The answer to `req` from this thread's hot answers: a `200` with the body, or a `304`
    /// when `If-None-Match` holds its `ETag`.
    pub fn answer(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if !self.enabled || req.method() != Method::GET {
            return None;
        }
        let target = target(req);
        if !target.starts_with(PREFIX) {
            return None;
        }
        let generation = self.generation();
        let answer = MEMO.with_borrow(|m| {
            if m.owner != self.owner || m.generation != generation {
                return None;
            }
            let slots = m.answers.get(target)?;
            slots[slot(crate::routes::records::format_from_accept(req))].clone()
        })?;
        if answer.made.elapsed() >= LIFETIME {
            return None;
        }
        self.hits.inc();
        if crate::routes::not_modified(req, answer.etag.as_bytes()) {
            let mut res = HttpResponse::with_body(StatusCode::NOT_MODIFIED, BoxBody::new(()));
            let h = res.headers_mut();
            for (name, value) in &answer.headers {
                if matches!(*name, header::ETAG | header::CACHE_CONTROL | header::VARY) {
                    h.insert(name.clone(), value.clone());
                }
            }
            return Some(res);
        }
        let mut res =
            HttpResponse::with_body(StatusCode::OK, BoxBody::new(answer.cached.body.clone()));
        let h = res.headers_mut();
        for (name, value) in &answer.headers {
            h.insert(name.clone(), value.clone());
        }
        h.insert(X_CACHE, HIT);
        h.insert(header::AGE, HeaderValue::from(answer.cached.age()));
        Some(res)
    }

    /// Keeps `res`, the `200` a handler made for `req` from the cached `cached`, when it is the
    /// same for every caller. `generation` is what [`Self::generation`] gave before resolving.
    pub fn remember(
        &self,
        req: &HttpRequest,
        r: &Resolved,
        generation: u64,
        cached: &Arc<Cached>,
        res: &HttpResponse,
    ) {
        if generation != self.generation() {
            // a change arrived while the handler worked: its answer may be stale
            return;
        }
        let target = target(req);
        let shared = self.enabled
            && req.method() == Method::GET
            && res.status() == StatusCode::OK
            && r.by_number
            && r.version().status == VersionStatus::Published
            && r.dataset().access == Access::Public
            && target.starts_with(PREFIX)
            && !carries_key(req.query_string());
        if !shared || cached.body.len() > MAX_BYTES {
            return;
        }
        let Some(etag) = res.headers().get(header::ETAG).cloned() else {
            return;
        };
        let headers = res
            .headers()
            .iter()
            .filter(|(name, _)| *name != X_CACHE && *name != header::AGE)
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let answer = Rc::new(Answer {
            cached: Arc::clone(cached),
            headers,
            etag,
            made: Instant::now(),
        });
        let format = slot(crate::routes::records::format_from_accept(req));
        MEMO.with_borrow_mut(|m| {
            if m.owner != self.owner || m.generation != generation {
                m.owner = self.owner;
                m.generation = generation;
                m.answers.clear();
                m.bytes = 0;
            }
            if m.answers.len() >= MAX_TARGETS || m.bytes + cached.body.len() > MAX_BYTES {
                m.answers.clear();
                m.bytes = 0;
            }
            m.bytes += cached.body.len();
            let slots = m.answers.entry(target.into()).or_default();
            if let Some(old) = slots[format].replace(answer) {
                m.bytes -= old.cached.body.len();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::carries_key;

    #[test]
    fn every_spelling_of_a_key_in_the_query_is_seen() {
        for q in [
            "api_key=gbk_x",
            "limit=1&api_key=gbk_x",
            "API_KEY=gbk_x",
            "api%5Fkey=gbk_x",
            "api%5fkey=gbk_x",
        ] {
            assert!(carries_key(q), "{q}");
        }
        for q in ["", "limit=1", "district=eq.api", "q=key"] {
            assert!(!carries_key(q), "{q}");
        }
    }
}
