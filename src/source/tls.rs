//! What the HTTP client trusts, and why a TLS handshake failed.
//!
//! **Trust** ([`Trust`]): the operating system's certificate store (read with
//! `rustls-native-certs`: on Linux the distribution's bundle, with `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` honoured), plus the CAs of `--ca-cert FILE` — an internal CA, or the one of a
//! TLS-inspecting proxy. Only when the OS store has no usable certificate at all (a bare
//! container) do the bundled Mozilla roots (`webpki-roots`) stand in for it. The store is read
//! once per process.
//!
//! **Failure** ([`rustls_error`], [`cause`]): the rustls error behind a failed request, wherever
//! it sits in the error chain, becomes one stable sentence that says what to do, e.g.
//! "certificate signed by an unknown issuer (add the CA with --ca-cert)".

use std::error::Error as StdError;
use std::fmt;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, RootCertStore};

/// Where the base roots came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roots {
    /// The operating system's store.
    Os,
    /// The bundled Mozilla roots: the OS store had no usable certificate.
    Bundled,
}

/// The roots every client starts from: the OS store, read once.
struct BaseRoots {
    store: RootCertStore,
    origin: Roots,
}

static BASE_ROOTS: OnceLock<BaseRoots> = OnceLock::new();

fn base_roots() -> &'static BaseRoots {
    BASE_ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        // OS stores carry the odd ancient or malformed certificate: skip those, keep the rest.
        let (usable, _unusable) = store.add_parsable_certificates(native.certs);
        if usable > 0 {
            tracing::info!("TLS trusts the {usable} certificates of the OS store");
            return BaseRoots {
                store,
                origin: Roots::Os,
            };
        }
        tracing::warn!(
            "the OS certificate store has no usable certificate ({} errors reading it); \
             trusting the bundled Mozilla roots instead",
            native.errors.len()
        );
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        BaseRoots {
            store,
            origin: Roots::Bundled,
        }
    })
}

/// The TLS configuration of the sources' HTTP clients: the base roots plus the `--ca-cert` CAs.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct Trust {
    config: Arc<rustls::ClientConfig>,
    origin: Roots,
    base_count: usize,
    /// The CAs added from the `--ca-cert` file.
    extra_count: usize,
}

impl Trust {
    /// The base roots, plus every certificate of the PEM file `ca_cert` when there is one. An
    /// unreadable file, one without a certificate, or a certificate that cannot be a trust
    /// anchor is an error that names the file.
    pub fn new(ca_cert: Option<&Path>) -> Result<Trust, String> {
        match ca_cert {
            None => Trust::base(),
            Some(_) => Trust::build(ca_cert),
        }
    }

    /// The base roots alone, built once and then shared: every endpoint of a fleet has one, and
    /// each copy of the store would cost 85 KiB.
    fn base() -> Result<Trust, String> {
        static BASE: OnceLock<Result<Trust, String>> = OnceLock::new();
        BASE.get_or_init(|| Trust::build(None)).clone()
    }

    fn build(ca_cert: Option<&Path>) -> Result<Trust, String> {
        let base = base_roots();
        let mut store = base.store.clone();
        let mut extra_count = 0;
        if let Some(path) = ca_cert {
            for (i, cert) in read_pem_certificates(path)?.into_iter().enumerate() {
                store.add(cert).map_err(|e| {
                    format!(
                        "CA certificate file {}: certificate #{} cannot be trusted as a CA: {e}",
                        path.display(),
                        i + 1
                    )
                })?;
                extra_count += 1;
            }
            tracing::info!(
                "TLS also trusts the {extra_count} CAs of {}",
                path.display()
            );
        }
        Ok(Trust {
            config: Arc::new(client_config(store)?),
            origin: base.origin,
            base_count: base.store.len(),
            extra_count,
        })
    }

    /// A copy of the rustls configuration, for `reqwest::ClientBuilder::use_preconfigured_tls`.
    pub(crate) fn client_config(&self) -> rustls::ClientConfig {
        self.config.as_ref().clone()
    }

    /// How many CAs the `--ca-cert` file added.
    pub fn extra_cas(&self) -> usize {
        self.extra_count
    }
}

/// `142 OS certificates + 1 from --ca-cert`.
impl fmt::Display for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = match self.origin {
            Roots::Os => "OS",
            Roots::Bundled => "bundled Mozilla",
        };
        write!(f, "{} {origin} certificates", self.base_count)?;
        if self.extra_count > 0 {
            write!(f, " + {} from --ca-cert", self.extra_count)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trust({self})")
    }
}

/// What reqwest would have built, with our roots: ring, the safe default protocol versions, and
/// ALPN offering HTTP/2 then HTTP/1.1.
fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Every `CERTIFICATE` section of a PEM file (other sections, such as a key, are skipped).
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let failed = |e: rustls::pki_types::pem::Error| {
        let e = match e {
            rustls::pki_types::pem::Error::Io(io) => io.to_string(),
            other => format!("not a valid PEM file: {other}"),
        };
        format!("CA certificate file {}: {e}", path.display())
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(failed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    if certs.is_empty() {
        return Err(format!(
            "CA certificate file {}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The rustls error behind `err`, wherever it is in the chain — also inside an `io::Error`,
/// whose `source()` skips the error it wraps (that is where a handshake failure sits).
pub fn rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
        && let Some(tls) = rustls_error(inner)
    {
        return Some(tls);
    }
    rustls_error(err.source()?)
}

/// Most names of a certificate listed in a wrong-host cause (a certificate may carry hundreds).
const MAX_NAMES_SHOWN: usize = 4;
/// Longest name shown (they come from the server).
const MAX_NAME_CHARS: usize = 80;

/// One stable sentence for a TLS failure: what went wrong, and what to do when there is
/// something to do. Shown after the class label ("TLS failure: …").
pub fn cause(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(cert) => certificate_cause(cert),
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "handshake failed: the server did not answer in TLS (is it an http:// port?)".into()
        }
        rustls::Error::InvalidMessage(m) => {
            format!("handshake failed: malformed TLS message ({m:?})")
        }
        rustls::Error::PeerIncompatible(why) => format!(
            "handshake failed: no TLS version or cipher suite in common with the server ({why:?})"
        ),
        rustls::Error::AlertReceived(alert) => {
            format!("handshake failed: the server refused it (alert {alert:?})")
        }
        rustls::Error::NoCertificatesPresented => {
            "handshake failed: the server sent no certificate".into()
        }
        other => format!("handshake failed: {other}"),
    }
}

fn certificate_cause(err: &CertificateError) -> String {
    match err {
        CertificateError::UnknownIssuer => {
            "certificate signed by an unknown issuer (add the CA with --ca-cert)".into()
        }
        CertificateError::Expired => "certificate expired".into(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("certificate expired on {}", utc(*not_after))
        }
        CertificateError::NotValidYet => {
            "certificate not valid yet (check this machine's clock)".into()
        }
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "certificate not valid yet: not before {} (check this machine's clock)",
            utc(*not_before)
        ),
        CertificateError::NotValidForName => {
            "wrong host name: the certificate is for another host".into()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "wrong host name: the certificate is for {}, not {}",
            names(presented),
            expected.to_str()
        ),
        CertificateError::Revoked => "certificate revoked".into(),
        CertificateError::BadSignature => "certificate has a bad signature".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "certificate is not meant for a TLS server (extended key usage)".into()
        }
        CertificateError::BadEncoding => "certificate is malformed".into(),
        other => format!("invalid certificate: {other}"),
    }
}

/// `a.example, b.example and 3 more`, each name cut short.
fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        return "no host name".into();
    }
    let shown: Vec<String> = presented
        .iter()
        .take(MAX_NAMES_SHOWN)
        .map(|n| crate::wire::truncate_chars(bare_name(n), MAX_NAME_CHARS))
        .collect();
    let mut text = shown.join(", ");
    if presented.len() > MAX_NAMES_SHOWN {
        let _ = write!(text, " and {} more", presented.len() - MAX_NAMES_SHOWN);
    }
    text
}

/// A presented name as rustls words it (`DnsName("a.example")`, `IpAddress(10.0.0.1)`), bare.
fn bare_name(presented: &str) -> &str {
    ["DnsName(", "IpAddress("]
        .iter()
        .find_map(|kind| presented.strip_prefix(kind)?.strip_suffix(')'))
        .map_or(presented, |name| name.trim_matches('"'))
}

fn utc(t: rustls::pki_types::UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{} s after 1970", t.as_secs()),
            |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tls(e: CertificateError) -> rustls::Error {
        rustls::Error::InvalidCertificate(e)
    }

    #[test]
    fn causes_are_stable_sentences_that_say_what_to_do() {
        assert_eq!(
            cause(&tls(CertificateError::UnknownIssuer)),
            "certificate signed by an unknown issuer (add the CA with --ca-cert)"
        );
        let at = |secs| rustls::pki_types::UnixTime::since_unix_epoch(Duration::from_secs(secs));
        assert_eq!(
            cause(&tls(CertificateError::ExpiredContext {
                time: at(1_800_000_000),
                not_after: at(946_684_800),
            })),
            "certificate expired on 2000-01-01 00:00:00 UTC"
        );
        assert!(cause(&tls(CertificateError::NotValidYet)).contains("clock"));
        let wrong_host = cause(&tls(CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("api.example.com").unwrap(),
            presented: (0..5)
                .map(|i| format!("DnsName(\"h{i}.example\")"))
                .chain(["IpAddress(10.0.0.1)".into()])
                .collect(),
        }));
        assert_eq!(
            wrong_host,
            "wrong host name: the certificate is for h0.example, h1.example, h2.example, \
             h3.example and 2 more, not api.example.com"
        );
        assert_eq!(bare_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(bare_name("DirectoryName"), "DirectoryName");
        assert!(
            cause(&rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))
            .contains("http:// port")
        );
    }

    #[test]
    fn the_rustls_error_is_found_inside_an_io_error_in_the_chain() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            tls(CertificateError::UnknownIssuer),
        );
        let err = Outer(io);
        assert_eq!(
            rustls_error(&err),
            Some(&tls(CertificateError::UnknownIssuer))
        );
        let plain = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(rustls_error(&plain), None);
    }

    #[test]
    fn a_ca_file_adds_its_certificates_and_a_bad_one_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("inboxtop-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let system = Trust::new(None).unwrap();
        assert_eq!(system.extra_cas(), 0);

        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        let two = dir.join("two.pem");
        let other = rcgen::generate_simple_self_signed(vec!["other.test".into()]).unwrap();
        let pem = format!(
            "{}{}{}",
            ca.cert.pem(),
            ca.signing_key.serialize_pem(),
            other.cert.pem()
        );
        std::fs::write(&two, pem).unwrap();
        let trust = Trust::new(Some(&two)).unwrap();
        assert_eq!(trust.extra_cas(), 2, "the key section is skipped");
        assert!(trust.to_string().ends_with("+ 2 from --ca-cert"), "{trust}");

        let missing = Trust::new(Some(&dir.join("missing.pem"))).unwrap_err();
        assert!(missing.contains("missing.pem"), "{missing}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = Trust::new(Some(&empty)).unwrap_err();
        assert!(err.contains("no certificate in it"), "{err}");
        let broken = dir.join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!\n").unwrap();
        let err = Trust::new(Some(&broken)).unwrap_err();
        assert!(err.contains("not a valid PEM file"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
