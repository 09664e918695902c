//! A loopback HTTP proxy in front of a test registry, for faults no real registry makes on
//! demand: 503 answers (the first requests, every Nth, or all), reset connections (the first
//! requests, or a seeded share of them), 401 to everything, stalls, 500 to manifest uploads;
//! it can also turn cross-repository mounts into plain upload starts (what registries that
//! refuse mounts answer) and serve tag lists in small pages (what registries that cap pages
//! do), linking the next page by `last`, by a cursor of its own, or back in a loop; it can answer
//! `429 Too Many Requests` with a `Retry-After` for a while, as rate-limited registries do. It forwards one request per connection (`Connection: close` both ways) and records
//! each. Docker reaches it as an insecure loopback registry: its TLS attempts are closed at once.
//! Also built as `bench/fault_proxy.rs` for `bench/faults.sh`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does instead of forwarding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Answer this many first requests with `503 Service Unavailable`.
    pub unavailable_first: usize,
    /// Reset the connections of this many first requests without an answer.
    pub reset_first: usize,
    /// Forward `POST .../blobs/uploads/?mount=D&from=R` without `mount` and `from`.
    pub refuse_mounts: bool,
    /// Serve `GET .../tags/list` in pages of at most this many tags whatever `n` asks, with a
    /// `Link` to the next page as `tag_cursor` says, as registries that cap pages do (the test
    /// registry ignores `n` and `last`: it always sends every tag).
    pub tag_pages_of: Option<usize>,
    /// How the pages of `tag_pages_of` link the next one.
    pub tag_cursor: TagCursor,
    /// Answer every Nth request (the Nth, the 2Nth, ...) with `503 Service Unavailable`.
    pub unavailable_every: Option<usize>,
    /// Reset the connections of this percentage of requests, picked by a pseudo-random
    /// sequence of this seed, the same for every run: `(percent, seed)`.
    pub reset_share: Option<(u8, u64)>,
    /// Answer every request with `401 Unauthorized` and a Basic challenge.
    pub unauthorized: bool,
    /// Hold every connection this long without answering, then close it.
    pub stall: Option<Duration>,
    /// Answer the first this many manifest uploads (`PUT .../manifests/...`) with 500.
    pub manifest_puts_failing_first: usize,
    /// Answer every upload of the manifest of this tag with 500.
    pub manifest_puts_failing_for: Option<&'static str>,
    /// Wait this long before forwarding each request, as a registry far away answers.
    pub latency: Option<Duration>,
    /// Answer some requests `429 Too Many Requests`, as a registry whose rate limit is spent.
    pub too_many: Option<TooMany>,
}

/// Which requests the proxy answers `429 Too Many Requests` (with docker's `TOOMANYREQUESTS`
/// error), for how long, and what `Retry-After` it sends.
#[derive(Debug, Clone, Copy)]
pub struct TooMany {
    /// Only requests of this method (None: any).
    pub method: Option<&'static str>,
    /// Only requests whose path holds this.
    pub path_part: &'static str,
    /// For this long after the proxy started; the requests after are forwarded.
    pub lasting: Duration,
    pub retry_after: RetryAfter,
}

/// The `Retry-After` header of a 429.
#[derive(Debug, Clone, Copy)]
pub enum RetryAfter {
    None,
    /// The seconds left of `lasting`, rounded up.
    SecondsLeft,
    /// The end of `lasting` as an HTTP date.
    DateOfEnd,
    /// This many seconds, whatever `lasting` says.
    Seconds(u64),
}

/// How the proxy's tag pages link the next page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TagCursor {
    /// A relative `Link` with `n` and `last=<the page's last tag>`, as distribution pages; a
    /// page starts after `last`.
    #[default]
    Last,
    /// An absolute `Link` (after a `rel="first"` one) with a cursor of the proxy's own,
    /// `cursor=<token>`, that no tag name gives; `last` is ignored, as by registries whose
    /// cursors are opaque.
    Opaque,
    /// A relative `Link` back to the first page (`?n=<cap>`), whatever the page: a registry
    /// paging in a loop.
    Looping,
    /// An absolute `Link` to the next page on another host (`localhost` for the proxy's
    /// `127.0.0.1`): a client following it would send the registry's credentials there.
    Elsewhere,
}

/// Seeds the proxy's opaque cursors.
const CURSOR_SEED: u64 = 0x7a67_5f63_7572;

/// What the proxy does to a request instead of forwarding it.
#[derive(Debug, Clone, Copy)]
enum Injected {
    Reset,
    Status(u16),
    Stall(Duration),
}

/// One request as the proxy saw it: `METHOD PATH STATUS`, STATUS `503!`, `401!`, `500!`,
/// `reset!` or `stall!` when the proxy answered it itself.
pub type Seen = String;

pub struct Proxy {
    /// `127.0.0.1:PORT`, to use as a registry host.
    pub host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stopped: Arc<AtomicBool>,
}

struct Shared {
    /// The proxy's own `127.0.0.1:PORT`.
    host: String,
    upstream: String,
    faults: Faults,
    count: AtomicUsize,
    manifest_puts: AtomicUsize,
    started: Instant,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The opaque tag cursors given out, and the index of the tag each page starts at.
    cursors: Mutex<HashMap<String, usize>>,
}

impl Proxy {
    /// A proxy to `upstream` (`HOST:PORT`, plain HTTP) on a free loopback port.
    pub fn start(upstream: &str, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let host = listener.local_addr().expect("proxy address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            host: host.clone(),
            upstream: upstream.to_owned(),
            faults,
            count: AtomicUsize::new(0),
            manifest_puts: AtomicUsize::new(0),
            started: Instant::now(),
            seen: Arc::clone(&seen),
            cursors: Mutex::new(HashMap::new()),
        });
        let stop = Arc::clone(&stopped);
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = Arc::clone(&shared);
                thread::spawn(move || {
                    let _ = shared.serve(client);
                });
            }
        });
        Self {
            host,
            seen,
            stopped,
        }
    }

    /// Every request so far, in the order they came.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wakes the accept loop up
    }
}

impl Shared {
    fn serve(&self, client: TcpStream) -> std::io::Result<()> {
        let mut first_byte = [0u8; 1];
        if client.peek(&mut first_byte)? == 1 && first_byte[0] == TLS_HANDSHAKE {
            return Ok(()); // docker tries TLS first; closing makes it fall back to plain HTTP
        }
        let mut reader = BufReader::new(client.try_clone()?);
        let (request_line, headers) = read_head(&mut reader)?;
        let body = read_body(&mut reader, &headers)?;
        let mut words = request_line.split(' ');
        let method = words.next().unwrap_or_default().to_owned();
        let mut path = words.next().unwrap_or_default().to_owned();
        if let Some(too_many) = self.too_many_for(&method, &path) {
            self.record(&method, &path, "429!");
            return too_many_answer(client, too_many, self.started);
        }
        if let Some(injected) = self.fault_for(&method, &path) {
            return self.inject(client, &method, &path, injected);
        }
        if let Some(latency) = self.faults.latency {
            thread::sleep(latency);
        }
        if self.faults.refuse_mounts && method == "POST" && path.contains("mount=") {
            path = without_mount(&path);
        }
        match self.faults.tag_pages_of {
            Some(cap) if method == "GET" && path.contains("/tags/list") => {
                self.serve_tag_page(client, &path, &headers, cap)
            }
            _ => self.forward(client, &method, &path, &headers, &body),
        }
    }

    /// The fault to make for the next request, `METHOD PATH`, if any.
    fn fault_for(&self, method: &str, path: &str) -> Option<Injected> {
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let faults = &self.faults;
        if n < faults.reset_first {
            return Some(Injected::Reset);
        }
        if n < faults.reset_first.saturating_add(faults.unavailable_first) {
            return Some(Injected::Status(503));
        }
        if let Some((percent, seed)) = faults.reset_share
            && pseudo_random(seed, n) % 100 < u64::from(percent)
        {
            return Some(Injected::Reset);
        }
        if faults
            .unavailable_every
            .is_some_and(|every| (n + 1).is_multiple_of(every))
        {
            return Some(Injected::Status(503));
        }
        if faults.unauthorized {
            return Some(Injected::Status(401));
        }
        if let Some(stall) = faults.stall {
            return Some(Injected::Stall(stall));
        }
        if method == "PUT" && path.contains("/manifests/") {
            let put = self.manifest_puts.fetch_add(1, Ordering::SeqCst);
            let tag = path.rsplit('/').next().unwrap_or_default();
            if put < faults.manifest_puts_failing_first
                || faults.manifest_puts_failing_for == Some(tag)
            {
                return Some(Injected::Status(500));
            }
        }
        None
    }

    /// The 429 rule `METHOD PATH` falls under now, if any.
    fn too_many_for(&self, method: &str, path: &str) -> Option<TooMany> {
        let rule = self.faults.too_many?;
        let method_matches = rule.method.is_none_or(|m| m == method);
        let active = self.started.elapsed() < rule.lasting;
        (method_matches && active && path.contains(rule.path_part)).then_some(rule)
    }

    fn inject(
        &self,
        mut client: TcpStream,
        method: &str,
        path: &str,
        injected: Injected,
    ) -> std::io::Result<()> {
        match injected {
            Injected::Reset => {
                self.record(method, path, "reset!");
                reset(client)
            }
            Injected::Stall(how_long) => {
                self.record(method, path, "stall!");
                thread::sleep(how_long);
                Ok(())
            }
            Injected::Status(code) => {
                self.record(method, path, &format!("{code}!"));
                client.write_all(answer(code).as_bytes())
            }
        }
    }

    /// Answers a tag list request with one page of at most `cap` of the tags upstream has.
    fn serve_tag_page(
        &self,
        mut client: TcpStream,
        path: &str,
        headers: &[String],
        cap: usize,
    ) -> std::io::Result<()> {
        let (list_path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut answer = self.send(
            &Request {
                method: "GET",
                path: list_path,
                headers,
            },
            &[],
        )?;
        let (status_line, mut answer_headers) = read_head(&mut answer)?;
        let mut body = Vec::new();
        answer.read_to_end(&mut body)?;
        let status = status_line.split(' ').nth(1).unwrap_or_default().to_owned();
        self.record("GET", path, &status);
        if status == "200" {
            let list: serde_json::Value = serde_json::from_slice(&body).expect("a tag list");
            let tags = sorted_tags(&list);
            let start = self.tag_page_start(query, &tags);
            let end = tags.len().min(start + cap);
            let page = serde_json::json!({ "name": list["name"], "tags": tags[start..end] });
            body = page.to_string().into_bytes();
            answer_headers.retain(|h| !has_name(h, "content-length"));
            answer_headers.push(format!("Content-Length: {}", body.len()));
            if end < tags.len() {
                let link = self.tag_link(list_path, &tags[end - 1], end, cap);
                answer_headers.push(format!("Link: {link}"));
            }
        }
        write_head(&mut client, &status_line, &answer_headers)?;
        client.write_all(&body)
    }

    /// The index of the first tag of the page `query` asks for, among `tags` (sorted).
    fn tag_page_start(&self, query: &str, tags: &[String]) -> usize {
        match self.faults.tag_cursor {
            TagCursor::Last => query_value(query, "last")
                .map_or(0, |last| tags.iter().filter(|t| t.as_str() <= last).count()),
            TagCursor::Opaque => query_value(query, "cursor")
                .and_then(|cursor| self.cursors.lock().unwrap().get(cursor).copied())
                .unwrap_or(0),
            TagCursor::Looping | TagCursor::Elsewhere => 0,
        }
    }

    /// The `Link` header value to the page starting at `tags[start]`, after `last`.
    fn tag_link(&self, list_path: &str, last: &str, start: usize, cap: usize) -> String {
        match self.faults.tag_cursor {
            TagCursor::Last => format!("<{list_path}?n={cap}&last={last}>; rel=\"next\""),
            TagCursor::Opaque => {
                let cursor = format!("{:016x}", pseudo_random(CURSOR_SEED, start));
                self.cursors.lock().unwrap().insert(cursor.clone(), start);
                let origin = format!("http://{}{list_path}", self.host);
                format!("<{origin}>; rel=\"first\", <{origin}?cursor={cursor}>; rel=\"next\"")
            }
            TagCursor::Looping => format!("<{list_path}?n={cap}>; rel=\"next\""),
            TagCursor::Elsewhere => {
                let host = self.host.replace("127.0.0.1", "localhost");
                format!("<http://{host}{list_path}?n={cap}&last={last}>; rel=\"next\"")
            }
        }
    }

    fn forward(
        &self,
        mut client: TcpStream,
        method: &str,
        path: &str,
        headers: &[String],
        body: &[u8],
    ) -> std::io::Result<()> {
        let headers = with_length(headers, body.len());
        let request = Request {
            method,
            path,
            headers: &headers,
        };
        let mut answer = self.send(&request, body)?;
        let (status_line, answer_headers) = read_head(&mut answer)?;
        let status = status_line.split(' ').nth(1).unwrap_or_default().to_owned();
        self.record(method, path, &status);
        write_head(&mut client, &status_line, &answer_headers)?;
        std::io::copy(&mut answer, &mut client)?;
        Ok(())
    }

    /// Sends `request` and `body` upstream; the answer, to read.
    fn send(&self, request: &Request, body: &[u8]) -> std::io::Result<BufReader<TcpStream>> {
        let mut upstream = TcpStream::connect(&self.upstream)?;
        let first = format!("{} {} HTTP/1.1", request.method, request.path);
        write_head(&mut upstream, &first, request.headers)?;
        upstream.write_all(body)?;
        Ok(BufReader::new(upstream))
    }

    fn record(&self, method: &str, path: &str, status: &str) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{method} {path} {status}"));
    }
}

/// The first byte of a TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// A whole answer of status `code`, closing the connection: a 401 with a Basic challenge and
/// the registry's error body, other statuses without a body.
fn answer(code: u16) -> String {
    if code == 401 {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        return format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fault-proxy\"\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n\
             {body}",
            body.len()
        );
    }
    let reason = if code == 500 {
        "Internal Server Error"
    } else {
        "Service Unavailable"
    };
    format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

/// Answers `429 Too Many Requests` as `rule` says, for a proxy that started at `started`.
fn too_many_answer(mut client: TcpStream, rule: TooMany, started: Instant) -> std::io::Result<()> {
    let left = rule.lasting.saturating_sub(started.elapsed());
    let seconds_left = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let retry_after = match rule.retry_after {
        RetryAfter::None => None,
        RetryAfter::SecondsLeft => Some(seconds_left.to_string()),
        RetryAfter::DateOfEnd => {
            let end = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds_left as i64);
            let printer = jiff::fmt::rfc2822::DateTimePrinter::new();
            Some(
                printer
                    .timestamp_to_rfc9110_string(&end)
                    .expect("an HTTP date"),
            )
        }
        RetryAfter::Seconds(seconds) => Some(seconds.to_string()),
    };
    let header = retry_after.map_or_else(String::new, |v| format!("Retry-After: {v}\r\n"));
    let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#;
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\n{header}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(answer.as_bytes())
}

/// The `n`th number of a pseudo-random sequence of `seed` (splitmix64): the same faults for the
/// same seed, whatever the timing.
fn pseudo_random(seed: u64, n: usize) -> u64 {
    let mut z = seed.wrapping_add((n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The head of a request to send upstream.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [String],
}

/// Writes the head of an HTTP message: `first` line, `headers` and `Connection: close`.
fn write_head(stream: &mut TcpStream, first: &str, headers: &[String]) -> std::io::Result<()> {
    let mut head = format!("{first}\r\n");
    for header in headers.iter().filter(|h| !is_connection_header(h)) {
        head += &format!("{header}\r\n");
    }
    head += "Connection: close\r\n\r\n";
    stream.write_all(head.as_bytes())
}

/// The first line and the header lines of an HTTP message.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<(String, Vec<String>)> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        headers.push(line);
    }
    Ok((first.trim_end().to_owned(), headers))
}

/// A request body: `Content-Length` bytes, or the chunks of a chunked one (docker sends layers
/// so), joined.
fn read_body(reader: &mut impl BufRead, headers: &[String]) -> std::io::Result<Vec<u8>> {
    let chunked = headers
        .iter()
        .any(|h| has_name(h, "transfer-encoding") && h.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunks(reader);
    }
    let length = headers
        .iter()
        .find_map(|h| {
            let (name, value) = h.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// The data of a chunked body, up to its last (empty) chunk and trailer.
fn read_chunks(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            return skip_trailer(reader).map(|()| body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut end_of_chunk = String::new();
        reader.read_line(&mut end_of_chunk)?;
    }
}

/// Reads the trailer of a chunked body, up to and with its blank line.
fn skip_trailer(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            return Ok(());
        }
    }
}

/// `headers` for a body sent whole: `Content-Length` of `length`, no `Transfer-Encoding`.
fn with_length(headers: &[String], length: usize) -> Vec<String> {
    let mut whole: Vec<String> = headers
        .iter()
        .filter(|h| !has_name(h, "transfer-encoding") && !has_name(h, "content-length"))
        .cloned()
        .collect();
    whole.push(format!("Content-Length: {length}"));
    whole
}

fn is_connection_header(header: &str) -> bool {
    has_name(header, "connection") || has_name(header, "keep-alive")
}

/// Whether the header line `header` is a `name` header.
fn has_name(header: &str, name: &str) -> bool {
    let own = header.split(':').next().unwrap_or_default();
    own.trim().eq_ignore_ascii_case(name)
}

/// The value of `name` in the query string `query`.
fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The tags of the tag list `list` (`{"name": .., "tags": [..]}`), in lexical order as the
/// distribution spec has them.
fn sorted_tags(list: &serde_json::Value) -> Vec<String> {
    let mut tags: Vec<String> = list["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(serde_json::Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    tags.sort_unstable();
    tags
}

/// `path` without its `mount` and `from` query parameters.
fn without_mount(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("mount=") && !p.starts_with("from="))
        .collect();
    if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Closes `stream` with a TCP reset (SO_LINGER 0), as a crashing server or a middlebox does.
fn reset(stream: TcpStream) -> std::io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt::Linger};
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    setsockopt(&stream, Linger, &linger)?;
    drop(stream);
    Ok(())
}
