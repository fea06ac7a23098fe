//! The stream source against a loopback TLS server whose certificates are made here (rcgen): the
//! OS store does not know the test CA, `--ca-cert` adds it, and each kind of bad certificate is
//! named in the `ConnectFailed` it causes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use futures_util::{StreamExt, stream};
use inboxtop::observation::{Clock, Kind, NetErrorClass, Observation};
use inboxtop::secret::ApiKey;
use inboxtop::source::{Endpoint, StreamSettings, Trust, run_stream};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

const KEY: &str = "sk_test_SECRET_tls_0123456789";
const AGENT: &str = "agent-tls";

/// A CA of our own, unknown to the OS store.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// Its certificate as a PEM file, for `--ca-cert`.
    pem_file: PathBuf,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "inboxtop test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = std::env::temp_dir().join(format!("inboxtop-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&pem_file, issuer.pem()).unwrap();
        TestCa { issuer, pem_file }
    }

    /// A server certificate for `names` signed by this CA, valid from 1975 to 4096 unless
    /// `validity` says otherwise.
    fn leaf(
        &self,
        names: &[&str],
        validity: Option<(i32, i32)>,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(std::string::ToString::to_string).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some((from, to)) = validity {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        std::fs::remove_file(&self.pem_file).ok();
    }
}

/// Accepts TCP connections and does the TLS handshake; a client that refuses the certificate
/// is skipped.
struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.tls.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// An event stream: one event, then silence.
fn app() -> Router {
    Router::new().route(
        "/messages/stream",
        get(|| async {
            let event = stream::once(async {
                Ok::<_, Infallible>(Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(event.chain(stream::pending())))
                .unwrap()
        }),
    )
}

/// Serves `app()` over TLS with `cert` on 127.0.0.1; returns the https base URL.
async fn serve_tls(cert: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert.0, cert.1)
        .unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        tls: TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app()).await });
    format!("https://{addr}")
}

/// Serves `app()` over plain HTTP; returns an https:// URL for it (the wrong scheme).
async fn serve_plain() -> String {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(tcp, app()).await });
    format!("https://{addr}")
}

fn endpoint(base: &str, ca_cert: Option<&TestCa>) -> Endpoint {
    let mut endpoint = Endpoint::new(base, AGENT, ApiKey::new(KEY)).unwrap();
    endpoint.trust = Trust::new(ca_cert.map(|ca| ca.pem_file.as_path())).unwrap();
    endpoint
}

/// The first `ConnectFailed` or `SseEvent` of a stream source against `endpoint`.
async fn first_outcome(endpoint: Endpoint) -> Kind {
    let settings = StreamSettings {
        backoff_initial: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        read_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        ..StreamSettings::default()
    };
    let (tx, mut rx) = mpsc::channel::<Observation>(16);
    let (_commands, command_rx) = mpsc::channel(1);
    let task = tokio::spawn(run_stream(
        endpoint,
        settings,
        Clock::start(),
        tx,
        command_rx,
    ));
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let obs = rx.recv().await.expect("the source is running");
            let json = serde_json::to_string(&obs).unwrap();
            assert!(!json.contains("SECRET_tls"), "key leaked: {json}");
            if matches!(obs.kind, Kind::ConnectFailed { .. } | Kind::SseEvent { .. }) {
                return obs.kind;
            }
        }
    })
    .await
    .expect("an outcome within 10 s");
    task.abort();
    outcome
}

/// The class and error text of a `ConnectFailed`.
fn failure(kind: Kind) -> (NetErrorClass, String) {
    match kind {
        Kind::ConnectFailed { class, error, .. } => (class, error),
        other => panic!("expected ConnectFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_private_ca_is_an_unknown_issuer_until_ca_cert_adds_it() {
    let ca = TestCa::new("private");
    let base = serve_tls(ca.leaf(&["127.0.0.1"], None)).await;

    let (class, error) = failure(first_outcome(endpoint(&base, None)).await);
    assert_eq!(class, NetErrorClass::Tls);
    assert_eq!(
        error,
        "certificate signed by an unknown issuer (add the CA with --ca-cert)"
    );

    match first_outcome(endpoint(&base, Some(&ca))).await {
        Kind::SseEvent { event, .. } => assert_eq!(event, "heartbeat"),
        other => panic!("expected the event through TLS, got {other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_wrong_host() {
    let ca = TestCa::new("wrong-host");
    let base = serve_tls(ca.leaf(&["other.example"], None)).await;
    let (class, error) = failure(first_outcome(endpoint(&base, Some(&ca))).await);
    assert_eq!(class, NetErrorClass::Tls);
    assert_eq!(
        error,
        "wrong host name: the certificate is for other.example, not 127.0.0.1"
    );
}

#[tokio::test]
async fn an_expired_certificate_says_since_when() {
    let ca = TestCa::new("expired");
    let base = serve_tls(ca.leaf(&["127.0.0.1"], Some((2000, 2001)))).await;
    let (class, error) = failure(first_outcome(endpoint(&base, Some(&ca))).await);
    assert_eq!(class, NetErrorClass::Tls);
    assert_eq!(error, "certificate expired on 2001-01-01 00:00:00 UTC");
}

#[tokio::test]
async fn https_to_a_plain_http_port_is_a_handshake_failure() {
    let base = serve_plain().await;
    let (class, error) = failure(first_outcome(endpoint(&base, None)).await);
    assert_eq!(class, NetErrorClass::Tls);
    assert!(error.contains("did not answer in TLS"), "{error}");
}

#[test]
fn an_unusable_ca_cert_file_is_a_clear_startup_error() {
    let dir = std::env::temp_dir().join(format!("inboxtop-tls-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inboxtop"))
        .args([
            "check",
            "--base-url",
            "https://127.0.0.1:9",
            "--agent",
            AGENT,
        ])
        .args(["--duration", "1s", "--ca-cert"])
        .arg(&not_pem)
        .arg("--log-file")
        .arg(dir.join("inboxtop.log"))
        .env("INBOXTOP_API_KEY", KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let could_not_run = i32::from(inboxtop::cmd::check::EXIT_COULD_NOT_RUN);
    assert_eq!(out.status.code(), Some(could_not_run), "{stderr}");
    assert!(
        stderr.contains("not-a-cert.pem") && stderr.contains("no certificate in it"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
