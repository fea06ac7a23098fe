//! Redirects, followed by hand for every call (stream, peek, probe).
//!
//! The client never follows a redirect on its own (`redirect::Policy::none()`): reqwest's policy
//! would keep sending our custom headers — the agent header, and the key if it were not in
//! `Authorization` — to another origin. Here each hop is decided and observed:
//!
//! - 301, 302, 303, 307 and 308 with a `Location` are followed; the `Location` is resolved against
//!   the URL that answered (it may be relative). Any other 3xx, or one without a `Location`, is the
//!   final answer and the caller reports it as such.
//! - At most [`MAX_REDIRECTS`] hops: an eleventh redirect, a loop (a URL already requested with the
//!   same method), a `Location` that is not an http(s) URL end the call with
//!   [`NetErrorClass::Redirect`].
//! - The credentials (`Authorization` and the agent header) go only to the base URL's origin
//!   (scheme, host and port); every other header goes to each hop. Userinfo in a `Location` is
//!   dropped: credentials go only in the headers chosen here.
//! - Per the Fetch standard, a 303 (to anything but `GET`/`HEAD`) and a 301 or 302 to a `POST`
//!   turn the request into a body-less `GET`; 307 and 308 re-send it as it was.
//! - Each hop followed becomes a [`Kind::Redirected`] observation, stamped when its answer came,
//!   with URLs shown without userinfo and with the key masked.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LOCATION, CONTENT_TYPE, HeaderMap, HeaderValue,
    LOCATION,
};
use reqwest::{Method, Response, StatusCode, Url};

use super::{Endpoint, classify, describe, header_text};
use crate::observation::{Clock, Kind, NetErrorClass, Observation, Route};

/// The most redirects followed in one call (as the WHATWG Fetch standard's 20, halved: a monitored
/// API that needs more is misconfigured).
pub const MAX_REDIRECTS: usize = 10;

/// One call to the server, re-sendable along a redirect chain (and cloned to be sent again).
#[derive(Clone)]
pub(crate) struct Call {
    route: Route,
    /// The stream session, for the observations of its hops.
    session: Option<u64>,
    method: Method,
    url: Url,
    /// The key and agent header: sent to the base URL's origin only.
    credentials: HeaderMap,
    /// Sent with every request of the chain.
    headers: HeaderMap,
    body: Option<Bytes>,
    /// Per request (each hop), when set.
    timeout: Option<Duration>,
}

/// Why a call got no final answer. The text has the key masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub class: NetErrorClass,
    pub error: String,
}

impl Call {
    /// `method` on the endpoint's `path`, with its credentials.
    pub(crate) fn new(
        endpoint: &Endpoint,
        route: Route,
        method: Method,
        path: &str,
    ) -> Result<Call, Failure> {
        let credentials = endpoint.auth_headers().map_err(|error| Failure {
            class: NetErrorClass::Other,
            error: endpoint.scrub(&error),
        })?;
        let raw = endpoint.url(path);
        let url = Url::parse(&raw).map_err(|e| Failure {
            class: NetErrorClass::InvalidUrl,
            error: endpoint.scrub(&format!("invalid URL {raw:?}: {e}")),
        })?;
        Ok(Call {
            route,
            session: None,
            method,
            url,
            credentials,
            headers: HeaderMap::new(),
            body: None,
            timeout: None,
        })
    }

    pub(crate) fn session(mut self, session: u64) -> Call {
        self.session = Some(session);
        self
    }

    pub(crate) fn headers(mut self, headers: HeaderMap) -> Call {
        self.headers.extend(headers);
        self
    }

    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Call {
        self.url.query_pairs_mut().extend_pairs(pairs);
        self
    }

    /// A JSON body (its `Content-Type` goes with it).
    pub(crate) fn json(mut self, value: &serde_json::Value) -> Call {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = Some(Bytes::from(value.to_string()));
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the call, following redirects, until a final answer. Each hop followed is pushed to
    /// `hops` as it happens (so the hops of a call cut short by a timeout are still there).
    pub(crate) async fn send(
        mut self,
        client: &reqwest::Client,
        endpoint: &Endpoint,
        clock: Clock,
        hops: &mut Vec<Observation>,
    ) -> Result<Response, Failure> {
        let home = self.url.origin();
        let mut requested = vec![(self.method.clone(), self.url.clone())];
        loop {
            let response = self
                .request(client, self.url.origin() == home)
                .await
                .map_err(|e| Failure {
                    class: classify(&e),
                    error: endpoint.scrub(&describe(&e)),
                })?;
            let Some(next) = redirect_target(&self.url, &response) else {
                return Ok(response);
            };
            let status = response.status();
            let shown = |url: &Url| endpoint.scrub(shown_url(url).as_str());
            let refuse = |why: String| Failure {
                class: NetErrorClass::Redirect,
                error: endpoint.scrub(&format!(
                    "HTTP {} from {}: {why}",
                    status.as_u16(),
                    shown(&self.url)
                )),
            };
            let to = next.map_err(refuse)?;
            if requested.len() > MAX_REDIRECTS {
                return Err(refuse(format!(
                    "more than {MAX_REDIRECTS} redirects (the next to {})",
                    shown(&to)
                )));
            }
            let (method, keep_body) = method_after(status, &self.method);
            if requested.contains(&(method.clone(), to.clone())) {
                return Err(refuse(format!(
                    "a redirect loop (back to {}, already requested)",
                    shown(&to)
                )));
            }
            hops.push(clock.stamp(Kind::Redirected {
                route: self.route,
                session: self.session,
                status: status.as_u16(),
                from: shown(&self.url),
                to: shown(&to),
                cross_origin: to.origin() != home,
            }));
            if !keep_body {
                self.drop_body();
            }
            requested.push((method.clone(), to.clone()));
            self.method = method;
            self.url = to;
        }
    }

    /// The body and the headers that describe it (Fetch: "request-body-header names").
    fn drop_body(&mut self) {
        self.body = None;
        for name in [
            CONTENT_TYPE,
            CONTENT_ENCODING,
            CONTENT_LANGUAGE,
            CONTENT_LOCATION,
        ] {
            self.headers.remove(name);
        }
    }

    async fn request(
        &self,
        client: &reqwest::Client,
        with_credentials: bool,
    ) -> reqwest::Result<Response> {
        let mut request = client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone());
        if with_credentials {
            request = request.headers(self.credentials.clone());
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        request.send().await
    }
}

/// Where a redirect answer points: `None` when `response` is not one to follow, else the resolved
/// `Location` or why it cannot be followed.
fn redirect_target(current: &Url, response: &Response) -> Option<Result<Url, String>> {
    if !is_followed(response.status()) {
        return None;
    }
    let location = header_text(response.headers().get(LOCATION)?);
    Some(resolve(current, &location))
}

/// Why a 3xx final answer was not followed, for the caller's error text.
pub(crate) fn not_followed(status: StatusCode) -> Option<&'static str> {
    if !status.is_redirection() {
        None
    } else if is_followed(status) {
        Some("without a Location to follow")
    } else {
        Some("(not followed: only 301, 302, 303, 307 and 308 are)")
    }
}

fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `location` resolved against `current`, an http(s) URL without userinfo or fragment.
fn resolve(current: &Url, location: &str) -> Result<Url, String> {
    let mut url = current
        .join(location.trim())
        .map_err(|e| format!("a Location that is not a URL ({location:?}: {e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a redirect to a {:?} URL, not http(s)",
            url.scheme()
        ));
    }
    url.set_fragment(None);
    Ok(shown_url(&url))
}

/// `url` without userinfo.
fn shown_url(url: &Url) -> Url {
    let mut url = url.clone();
    // Both only fail for URLs that cannot have userinfo, which then have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

/// The method after a redirect with `status`, and whether the body goes with it (Fetch standard,
/// HTTP-redirect fetch, step 12).
fn method_after(status: StatusCode, method: &Method) -> (Method, bool) {
    let to_get = match status.as_u16() {
        301 | 302 => *method == Method::POST,
        303 => !matches!(*method, Method::GET | Method::HEAD),
        _ => false,
    };
    if to_get {
        (Method::GET, false)
    } else {
        (method.clone(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let here = url("http://127.0.0.1:8080/v1/messages/stream?x=1");
        let resolved = |loc: &str| resolve(&here, loc).map(String::from);
        assert_eq!(
            resolved("/v2/stream").unwrap(),
            "http://127.0.0.1:8080/v2/stream"
        );
        assert_eq!(
            resolved("peek?limit=5").unwrap(),
            "http://127.0.0.1:8080/v1/messages/peek?limit=5"
        );
        assert_eq!(
            resolved("../other").unwrap(),
            "http://127.0.0.1:8080/v1/other"
        );
        assert_eq!(resolved("//example.com/s").unwrap(), "http://example.com/s");
        assert_eq!(
            resolved(" https://example.com:8443/s#frag ").unwrap(),
            "https://example.com:8443/s"
        );
    }

    #[test]
    fn userinfo_is_dropped_and_odd_locations_refused() {
        let here = url("http://127.0.0.1:8080/s");
        assert_eq!(
            String::from(resolve(&here, "http://user:pw@example.com/s").unwrap()),
            "http://example.com/s"
        );
        let err = resolve(&here, "ftp://example.com/s").unwrap_err();
        assert!(err.contains("\"ftp\""), "{err}");
        let err = resolve(&here, "http://exa mple.com:99999/").unwrap_err();
        assert!(err.contains("not a URL"), "{err}");
    }

    #[test]
    fn only_the_five_redirect_statuses_are_followed() {
        let followed: Vec<u16> = (300..=399)
            .filter(|s| is_followed(StatusCode::from_u16(*s).unwrap()))
            .collect();
        assert_eq!(followed, [301, 302, 303, 307, 308]);
    }

    #[test]
    fn methods_change_as_the_fetch_standard_says() {
        let after = |status: u16, method: Method| {
            method_after(StatusCode::from_u16(status).unwrap(), &method)
        };
        for status in [301, 302, 303] {
            assert_eq!(
                after(status, Method::POST),
                (Method::GET, false),
                "{status}"
            );
        }
        for status in [307, 308] {
            assert_eq!(
                after(status, Method::POST),
                (Method::POST, true),
                "{status}"
            );
        }
        for status in [301, 302, 303, 307, 308] {
            assert_eq!(after(status, Method::GET), (Method::GET, true), "{status}");
        }
        assert_eq!(after(301, Method::PUT), (Method::PUT, true));
        assert_eq!(after(303, Method::PUT), (Method::GET, false));
        assert_eq!(after(303, Method::HEAD), (Method::HEAD, true));
    }
}
