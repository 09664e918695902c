//! A loopback HTTP proxy in front of a test registry, for faults no real registry makes on
//! demand: it answers the first requests with 503 or resets their connections, and can turn
//! cross-repository mounts into plain upload starts (what registries that refuse mounts answer),
//! and can serve tag lists in small pages (what registries that cap pages do). It forwards one request per connection (`Connection: close` both ways) and records each.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What the proxy does instead of forwarding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Answer this many first requests with `503 Service Unavailable`.
    pub unavailable_first: usize,
    /// Reset the connections of this many first requests without an answer.
    pub reset_first: usize,
    /// Forward `POST .../blobs/uploads/?mount=D&from=R` without `mount` and `from`.
    pub refuse_mounts: bool,
    /// Serve `GET .../tags/list` in pages of at most this many tags whatever `n` asks, after
    /// `last`, with a `Link` to the next page, as registries that cap pages do (the test
    /// registry ignores `n` and `last`: it always sends every tag).
    pub tag_pages_of: Option<usize>,
}

/// One request as the proxy saw it: `METHOD PATH STATUS`, STATUS `503!` or `reset!` when the
/// proxy answered it itself.
pub type Seen = String;

pub struct Proxy {
    /// `127.0.0.1:PORT`, to use as a registry host.
    pub host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stopped: Arc<AtomicBool>,
}

struct Shared {
    upstream: String,
    faults: Faults,
    count: AtomicUsize,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// A proxy to `upstream` (`HOST:PORT`, plain HTTP) on a free loopback port.
    pub fn start(upstream: &str, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let host = listener.local_addr().expect("proxy address").to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            faults,
            count: AtomicUsize::new(0),
            seen: Arc::clone(&seen),
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
        let mut reader = BufReader::new(client.try_clone()?);
        let (request_line, headers) = read_head(&mut reader)?;
        let body = read_body(&mut reader, &headers)?;
        let mut words = request_line.split(' ');
        let method = words.next().unwrap_or_default().to_owned();
        let mut path = words.next().unwrap_or_default().to_owned();
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let faults = self.faults;
        if n < faults.reset_first {
            self.record(&method, &path, "reset!");
            return reset(client);
        }
        if n < faults.reset_first.saturating_add(faults.unavailable_first) {
            self.record(&method, &path, "503!");
            let mut client = client;
            return client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        if faults.refuse_mounts && method == "POST" && path.contains("mount=") {
            path = without_mount(&path);
        }
        match faults.tag_pages_of {
            Some(cap) if method == "GET" && path.contains("/tags/list") => {
                self.serve_tag_page(client, &path, &headers, cap)
            }
            _ => self.forward(client, &method, &path, &headers, &body),
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
            let last = query_value(query, "last");
            let (page, next) = tag_page(&body, last, cap);
            body = page;
            answer_headers.retain(|h| !has_name(h, "content-length"));
            answer_headers.push(format!("Content-Length: {}", body.len()));
            if let Some(next) = next {
                let link = format!("<{list_path}?n={cap}&last={next}>; rel=\"next\"");
                answer_headers.push(format!("Link: {link}"));
            }
        }
        write_head(&mut client, &status_line, &answer_headers)?;
        client.write_all(&body)
    }

    fn forward(
        &self,
        mut client: TcpStream,
        method: &str,
        path: &str,
        headers: &[String],
        body: &[u8],
    ) -> std::io::Result<()> {
        let request = Request {
            method,
            path,
            headers,
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

/// A request body of `Content-Length` bytes (the registry client sends no chunked bodies).
fn read_body(reader: &mut impl Read, headers: &[String]) -> std::io::Result<Vec<u8>> {
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

/// One page of the tag list `body` (`{"name": .., "tags": [..]}`): at most `cap` tags after
/// `last`, in lexical order as the distribution spec has it, and the `last` of the next page
/// when more follow.
fn tag_page(body: &[u8], last: Option<&str>, cap: usize) -> (Vec<u8>, Option<String>) {
    let list: serde_json::Value = serde_json::from_slice(body).expect("a tag list");
    let mut tags: Vec<&str> = list["tags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    tags.sort_unstable();
    tags.retain(|tag| last.is_none_or(|last| *tag > last));
    let next = (tags.len() > cap).then(|| tags[cap - 1].to_owned());
    tags.truncate(cap);
    let page = serde_json::json!({ "name": list["name"], "tags": tags });
    (page.to_string().into_bytes(), next)
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
