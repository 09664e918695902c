//! Tag lists: `GET /v2/<name>/tags/list` page after page, each next page where the registry's
//! `Link` header (RFC 8288, `rel="next"`) says, until a page has none. oci-client's `list_tags`
//! hides that header, so the pages are asked for with a plain HTTP client, with the credentials
//! oci-client would use, and the retries and deadline of every other request.

use std::collections::{BTreeSet, HashSet};

use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::header::{ACCEPT, AUTHORIZATION, LINK};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::client::{RegistryClient, parse};
use super::failure::{Problem, RemoteError};
use super::transport;

/// Tags asked for by the first page of a tag list (registries may send fewer; the next pages
/// ask what the registry's `Link` says).
const TAGS_PAGE: usize = 1000;
/// Pages of one tag list asked for at most (a million tags at 100 a page), against a registry
/// that would link a next page forever.
const MAX_TAG_PAGES: usize = 10_000;

/// How a tag list's pages (or other plain requests) are authenticated, decided once per list.
pub(super) enum Authorization {
    Anonymous,
    Bearer(String),
    Basic(String, String),
}

impl Authorization {
    /// `request` with these credentials.
    pub(super) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Authorization::Anonymous => request,
            Authorization::Bearer(token) => {
                request.header(AUTHORIZATION, format!("Bearer {token}"))
            }
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
        }
    }
}

/// One page of a tag list, and where the next one is.
struct Page {
    tags: Vec<String>,
    next: Option<Url>,
}

#[derive(Deserialize)]
struct TagList {
    /// `null` for a repository without tags, on some registries.
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// Every tag of `repository` (`HOST[:PORT]/PATH`), sorted; an error naming it when the
    /// registry has no such repository (an empty one has no tags).
    ///
    /// A short page is no end: registries cap pages below what is asked for, and a page with
    /// more after it has a `Link` to the next one, whose cursor may be the registry's own (not
    /// `last`). A page without one is the last. A `Link` back to a page already read, or to
    /// another host, is an error, as is a list still going after `MAX_TAG_PAGES` pages.
    pub fn tags(&self, repository: &str) -> Result<Vec<String>, RemoteError> {
        let image = parse(repository)?;
        let action = || format!("listing the tags of `{repository}`");
        let failed = |problem| RemoteError::Request {
            action: action(),
            registry: image.registry().to_owned(),
            problem,
        };
        let first = self
            .first_tags_url(&image)
            .map_err(|why| RemoteError::Reference {
                reference: repository.to_owned(),
                why,
            })?;
        self.block_on(async {
            let authorization = self
                .request(&action, &image, async || self.authorization(&image).await)
                .await?;
            let mut tags = BTreeSet::new();
            let mut asked = HashSet::new();
            let mut url = first.clone();
            for _ in 0..MAX_TAG_PAGES {
                asked.insert(url.clone());
                let page = self.lookup(&action, &image, async || {
                    tag_page(&self.http, &url, &authorization).await
                });
                let Some(page) = page.await? else {
                    let repository = image.repository().to_owned();
                    return Err(failed(Problem::NoRepository { repository }));
                };
                tags.extend(page.tags);
                let Some(next) = page.next else {
                    return Ok(tags.into_iter().collect());
                };
                if next.origin() != first.origin() {
                    return Err(failed(Problem::ForeignTagLink { url: next.into() }));
                }
                if asked.contains(&next) {
                    return Err(failed(Problem::TagLinkLoop { url: next.into() }));
                }
                url = next;
            }
            Err(failed(Problem::EndlessTags {
                pages: MAX_TAG_PAGES,
            }))
        })
    }

    /// `<scheme>://<registry>/v2/<repository>/tags/list?n=TAGS_PAGE`.
    fn first_tags_url(&self, image: &Reference) -> Result<Url, String> {
        let registry = image.resolve_registry();
        let text = format!(
            "{}://{registry}/v2/{}/tags/list?n={TAGS_PAGE}",
            transport::scheme(registry),
            image.repository()
        );
        Url::parse(&text).map_err(|e| e.to_string())
    }

    /// The credentials for the pages of `image`'s tag list: the bearer token oci-client gets
    /// from the registry's token service, else the login of the registry, if any.
    pub(super) async fn authorization(
        &self,
        image: &Reference,
    ) -> Result<Authorization, OciDistributionError> {
        self.authorization_for(image, RegistryOperation::Pull).await
    }

    /// The credentials for plain requests of `operation` on `image`'s repository, as
    /// `authorization` finds them.
    pub(super) async fn authorization_for(
        &self,
        image: &Reference,
        operation: RegistryOperation,
    ) -> Result<Authorization, OciDistributionError> {
        let auth = self.auth(image);
        let token = self.oci.auth(image, &auth, operation).await?;
        Ok(match (token, auth) {
            (Some(token), _) => Authorization::Bearer(token),
            (None, RegistryAuth::Basic(user, password)) => Authorization::Basic(user, password),
            (None, _) => Authorization::Anonymous,
        })
    }
}

/// The page of tags at `url`, and the next page's address from its `Link`.
async fn tag_page(
    http: &reqwest::Client,
    url: &Url,
    authorization: &Authorization,
) -> Result<Page, OciDistributionError> {
    let request = http.get(url.clone()).header(ACCEPT, "application/json");
    let request = authorization.apply(request);
    let response = request.send().await?;
    let status = response.status();
    let links: Vec<String> = response
        .headers()
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    let body = response.bytes().await?;
    check_status(StatusCode::OK, status, &body, url)?;
    let list: TagList = serde_json::from_slice(&body)?;
    let next = match next_link(links.iter().map(String::as_str)) {
        Some(target) => Some(
            url.join(&target)
                .map_err(|e| OciDistributionError::UrlParseError(format!("`{target}`: {e}")))?,
        ),
        None => None,
    };
    Ok(Page {
        tags: list.tags.unwrap_or_default(),
        next,
    })
}

/// An answer of another status than `expected` as an error, as oci-client words it: 401
/// unauthorized, a client error with the registry's error envelope when it sent one, else the
/// status and body.
pub(super) fn check_status(
    expected: StatusCode,
    status: StatusCode,
    body: &[u8],
    url: &Url,
) -> Result<(), OciDistributionError> {
    let url = url.to_string();
    match status {
        s if s == expected => Ok(()),
        StatusCode::UNAUTHORIZED => Err(OciDistributionError::UnauthorizedError { url }),
        s if s.is_client_error() => match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(envelope) => Err(OciDistributionError::RegistryError { envelope, url }),
            Err(_) => Err(server_error(s, body, url)),
        },
        s => Err(server_error(s, body, url)),
    }
}

fn server_error(status: StatusCode, body: &[u8], url: String) -> OciDistributionError {
    OciDistributionError::ServerError {
        code: status.as_u16(),
        url,
        message: String::from_utf8_lossy(body).into_owned(),
    }
}

/// The target of the first link of relation type `next` in the `Link` header values `values`
/// (RFC 8288): `<URI-Reference>` then `; param=value` pairs, several links in a value separated
/// by commas; `rel` quoted or not, holding one or more relation types, compared without case.
/// The target as written: relative to the page that sent it.
pub(super) fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(|value| {
        links(value)
            .into_iter()
            .find(|link| {
                link.rel
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
            .map(|link| link.target)
    })
}

/// One link of a `Link` header: its target and its `rel` (empty when it has none).
struct Link {
    target: String,
    rel: String,
}

/// The links of one `Link` header value, up to the first that cannot be read.
fn links(value: &str) -> Vec<Link> {
    let mut found = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            return found;
        };
        let Some((target, params)) = after_open.split_once('>') else {
            return found;
        };
        let (rel, after) = rel_param(params);
        found.push(Link {
            target: target.trim().to_owned(),
            rel,
        });
        rest = after;
    }
}

/// The `rel` of the parameters starting `params` (`; name=value; ...`), and what follows them
/// (the next link, after a comma).
fn rel_param(mut params: &str) -> (String, &str) {
    let mut rel = String::new();
    loop {
        params = params.trim_start();
        let Some(param) = params.strip_prefix(';') else {
            return (rel, params);
        };
        let end = param.find([';', ',', '=']).unwrap_or(param.len());
        let name = param[..end].trim();
        let (value, after) = match param[end..].strip_prefix('=') {
            Some(value) => param_value(value.trim_start()),
            None => (String::new(), &param[end..]),
        };
        if name.eq_ignore_ascii_case("rel") && rel.is_empty() {
            rel = value;
        }
        params = after;
    }
}

/// A parameter's value, quoted (with `\` escapes) or a token up to `;` or `,`, and what
/// follows it.
fn param_value(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find([';', ',']).unwrap_or(text.len());
        return (text[..end].trim().to_owned(), &text[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
            c => value.push(c),
        }
    }
    (value, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(values: &[&str]) -> Option<String> {
        next_link(values.iter().copied())
    }

    #[test]
    fn the_link_distribution_sends_is_read_with_its_query() {
        let link = r#"</v2/app/tags/list?last=t2&n=2>; rel="next""#;
        assert_eq!(
            next(&[link]).as_deref(),
            Some("/v2/app/tags/list?last=t2&n=2")
        );
    }

    #[test]
    fn the_next_link_is_found_among_several_in_one_value_or_several() {
        let one_value = r#"</v2/a/tags/list?n=2>; rel="prev", <https://r.example/v2/a/tags/list?c=x>; rel="next""#;
        assert_eq!(
            next(&[one_value]).as_deref(),
            Some("https://r.example/v2/a/tags/list?c=x")
        );
        let values = [r#"</first>; rel="first""#, r#"</second>; rel=next"#];
        assert_eq!(next(&values).as_deref(), Some("/second"));
    }

    #[test]
    fn rel_is_read_quoted_or_not_with_other_params_and_several_types_in_any_case() {
        assert_eq!(next(&["</p>;rel=next"]).as_deref(), Some("/p"));
        assert_eq!(
            next(&["</p> ; title=\"a, b; c\" ; rel=\"NEXT\""]).as_deref(),
            Some("/p")
        );
        assert_eq!(next(&["</p>; rel=\"last next\""]).as_deref(), Some("/p"));
        assert_eq!(next(&["</p>; rel=\"ne\\xt\""]).as_deref(), Some("/p"));
        assert_eq!(
            next(&["</p>; anchor=\"x\"; rel=next; type=text"]).as_deref(),
            Some("/p")
        );
    }

    #[test]
    fn no_next_link_is_none() {
        assert_eq!(next(&[]), None);
        assert_eq!(next(&[r#"</p>; rel="prev""#]), None);
        assert_eq!(next(&["</p>; title=next"]), None);
        assert_eq!(next(&["</p>"]), None);
        assert_eq!(next(&["garbage; rel=next"]), None);
        assert_eq!(next(&["<unclosed; rel=next"]), None);
    }

    #[test]
    fn an_unterminated_quote_ends_the_value() {
        assert_eq!(next(&["</p>; rel=\"next"]).as_deref(), Some("/p"));
    }

    #[test]
    fn a_link_target_resolves_against_the_page_that_sent_it() {
        let page = Url::parse("http://127.0.0.1:5000/v2/app/tags/list?n=1000").unwrap();
        let relative = page.join("/v2/app/tags/list?last=t2&n=2").unwrap();
        assert_eq!(
            relative.as_str(),
            "http://127.0.0.1:5000/v2/app/tags/list?last=t2&n=2"
        );
        let absolute = page.join("https://r.example/v2/app/tags/list?c=x").unwrap();
        assert_eq!(absolute.as_str(), "https://r.example/v2/app/tags/list?c=x");
        assert_ne!(absolute.origin(), page.origin());
        let same = page
            .join("http://127.0.0.1:5000/v2/app/tags/list?c=y")
            .unwrap();
        assert_eq!(same.origin(), page.origin());
    }
}
