//! PACS and RIS endpoints from a TOML file. Credentials come from the environment or a file
//! named in it, are held as [`Secret`]s and never printed.
//!
//! Rules for the DICOMweb URL, checked when the file is loaded (the error names the field):
//! * no credentials in it (`https://user:pass@host/...` is refused: a URL is printed in errors
//!   and kept in the outbox's `last_error`; the user goes in `username`, the password in
//!   `password_env`/`password_file`, a bearer token in `token_env`/`token_file`), and no
//!   query string or fragment (`/studies` is appended to it; a `?access_token=` would be
//!   printed like the rest);
//! * `https://`, or `http://` to this machine only (`localhost`, `127.0.0.0/8`, `::1`: a local
//!   archive or a TLS tunnel's local end). Plain `http://` to any other host would carry the
//!   images, and any basic or bearer credentials, unencrypted: it needs `insecure = true` in
//!   that `[pacs.<name>]` section, and the CLI warns each time it is used.
//!
//! Any URL in an error message goes through [`redact_url_credentials`] first.
//!
//! ```toml
//! [station]
//! ae_title = "ROBOCT"          # our AE title
//! station_name = "ROBOCT-1"
//! uid_root = "2.25"            # or the site's registered root
//! outbox = "/var/lib/roboct/outbox"
//!
//! [worklist]                   # the RIS's Modality Worklist SCP
//! ae_title = "RIS"
//! host = "ris.example.org"
//! port = 104
//!
//! [mpps]                       # optional; defaults to the worklist peer
//! ae_title = "RIS"
//! host = "ris.example.org"
//! port = 104
//!
//! [pacs.main]
//! protocol = "dimse"           # or "stow"
//! ae_title = "PACS"
//! host = "pacs.example.org"
//! port = 104
//! transfer_syntax = "explicit" # or "deflated"
//!
//! [pacs.web]
//! protocol = "stow"
//! dicomweb_url = "https://pacs.example.org/dicom-web"
//! username = "robot"
//! password_env = "ROBOCT_PACS_PASSWORD"  # or password_file = "/etc/roboct/pacs.pw"
//! # token_env / token_file for a bearer token instead
//! ca_file = "/etc/roboct/hospital-ca.pem"
//! # insecure = true          # only to allow plain http:// to another host
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use roboct_core::{Recover, Recovery};

use crate::dimse::{AssociationOptions, Peer};
use crate::part10::{DEFLATED_EXPLICIT_VR_LE, EXPLICIT_VR_LE};
use crate::uid::{UidError, UidGenerator};

/// A credential: `Debug` and `Display` print `<secret>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read PACS configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TOML syntax or an unknown/mistyped field.
    #[error("PACS configuration {path}: {why}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the field and line).
        why: String,
    },
    /// A field has a bad value.
    #[error("PACS configuration {path}: {field}: {why}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `pacs.main.port`.
        field: String,
        /// What is wrong and what is expected.
        why: String,
    },
    /// A credential could not be read.
    #[error("credential for {field}: {why}")]
    Credential {
        /// The field, e.g. `pacs.web.password_env`.
        field: String,
        /// What is wrong (names the variable or file, never the value).
        why: String,
    },
    /// The UID root is invalid.
    #[error(transparent)]
    Uid(#[from] UidError),
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    station: RawStation,
    worklist: Option<RawPeer>,
    mpps: Option<RawPeer>,
    #[serde(default)]
    pacs: BTreeMap<String, RawPacs>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    ae_title: String,
    #[serde(default)]
    station_name: Option<String>,
    #[serde(default)]
    uid_root: Option<String>,
    #[serde(default)]
    outbox: Option<PathBuf>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    ae_title: String,
    host: String,
    port: u16,
    #[serde(default)]
    timeout_s: Option<f64>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPacs {
    #[serde(default)]
    protocol: Option<String>,
    ae_title: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    dicomweb_url: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    transfer_syntax: Option<String>,
    timeout_s: Option<f64>,
    batch: Option<usize>,
    insecure: Option<bool>,
}

/// How to reach a PACS.
#[derive(Clone, Debug, PartialEq)]
pub enum PacsEndpoint {
    /// DICOM C-STORE.
    Dimse {
        /// The storage SCP.
        peer: Peer,
        /// Transfer syntax to write and prefer.
        transfer_syntax: String,
    },
    /// DICOMweb STOW-RS.
    Stow {
        /// Base URL of the DICOMweb service (`.../dicom-web`).
        url: String,
        /// Credentials.
        auth: HttpAuth,
        /// Extra trusted CA certificate (PEM), for a hospital CA.
        ca_file: Option<PathBuf>,
        /// Instances per request.
        batch: usize,
        /// `insecure = true`: plain `http://` to another host was allowed explicitly.
        insecure: bool,
    },
}

/// HTTP credentials, resolved lazily from the environment or files.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpAuth {
    /// None.
    None,
    /// Basic auth.
    Basic {
        /// User name.
        username: String,
        /// Where the password comes from.
        password: CredentialSource,
    },
    /// Bearer token.
    Bearer(CredentialSource),
}

/// Where a credential is read from.
#[derive(Clone, Debug, PartialEq)]
pub enum CredentialSource {
    /// An environment variable.
    Env(String),
    /// A file (first line, surrounding whitespace trimmed).
    File(PathBuf),
    /// Given directly (tests, API callers).
    Value(Secret),
}

impl CredentialSource {
    /// Reads the credential now.
    pub fn resolve(&self, field: &str) -> Result<Secret, ConfigError> {
        let err = |why: String| ConfigError::Credential {
            field: field.to_string(),
            why,
        };
        match self {
            CredentialSource::Env(var) => std::env::var(var)
                .map(Secret::new)
                .map_err(|_| err(format!("environment variable {var} is not set"))),
            CredentialSource::File(p) => std::fs::read_to_string(p)
                .map(|s| Secret::new(s.lines().next().unwrap_or("").trim()))
                .map_err(|e| err(format!("cannot read {}: {e}", p.display()))),
            CredentialSource::Value(s) => Ok(s.clone()),
        }
    }
}

/// A named PACS.
#[derive(Clone, Debug, PartialEq)]
pub struct PacsConfig {
    /// Its name in the configuration (`[pacs.<name>]`), also the outbox folder.
    pub name: String,
    /// How to reach it.
    pub endpoint: PacsEndpoint,
    /// Longest wait for one response.
    pub timeout: Duration,
}

/// The whole DICOM configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct DicomConfig {
    /// Our AE title.
    pub ae_title: String,
    /// Station Name written in objects and MPPS.
    pub station_name: String,
    /// UIDs are made under this root.
    pub uid_root: String,
    /// The outbox folder.
    pub outbox: PathBuf,
    /// The worklist SCP.
    pub worklist: Option<(Peer, Duration)>,
    /// The MPPS SCP (the worklist peer when not given).
    pub mpps: Option<(Peer, Duration)>,
    /// The PACSs by name.
    pub pacs: BTreeMap<String, PacsConfig>,
}

fn check_ae(path: &Path, field: &str, ae: &str) -> Result<(), ConfigError> {
    if ae.is_empty() || ae.len() > 16 || !ae.is_ascii() || ae.contains('\\') {
        return Err(ConfigError::Field {
            path: path.to_path_buf(),
            field: field.into(),
            why: format!("AE title `{ae}` must be 1 to 16 ASCII characters without `\\`"),
        });
    }
    Ok(())
}

fn timeout(
    path: &Path,
    field: &str,
    t: Option<f64>,
    default_s: f64,
) -> Result<Duration, ConfigError> {
    let t = t.unwrap_or(default_s);
    if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
        return Err(ConfigError::Field {
            path: path.to_path_buf(),
            field: field.into(),
            why: format!("{t} is not a timeout in seconds (0 < t <= 3600)"),
        });
    }
    Ok(Duration::from_secs_f64(t))
}

/// `text` with the user information of every URL in it (`scheme://user:pass@host`) replaced
/// by `***`, so that an error or a stored message never carries a credential.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | ')' | '>' | ']')
                    || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether a URL host is this machine.
fn is_loopback_host(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A DICOMweb base URL that cannot be used. `shown` is the URL with any credential
/// redacted; each message names what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL at all.
    #[error("`{shown}` is not a URL ({reason})")]
    NotUrl {
        /// The URL, redacted.
        shown: String,
        /// The parser's reason.
        reason: String,
    },
    /// The URL holds `user:password@`.
    #[error(
        "`{shown}` holds credentials (user:password@), which would be printed in errors and kept in the outbox: remove them from the URL; put the user name in `username` and the password in `password_env` or `password_file`, or a bearer token in `token_env` or `token_file`"
    )]
    Credentials {
        /// The URL, redacted.
        shown: String,
    },
    /// The URL has a query string or a fragment.
    #[error(
        "`{shown}` has a query string or fragment: give the DICOMweb base URL alone (`https://host/dicom-web`), and a token in `token_env` or `token_file`"
    )]
    Query {
        /// The URL up to its query or fragment, redacted.
        shown: String,
    },
    /// Plain http:// to a host that is not this machine.
    #[error(
        "`{shown}` is plain http:// to another host: the images (patient data) and any credentials would cross the network unencrypted; use https://, or set `insecure = true` in this [pacs] section if the network is protected otherwise"
    )]
    PlainHttp {
        /// The URL, redacted.
        shown: String,
    },
    /// Another scheme.
    #[error("`{shown}` is not an http:// or https:// URL")]
    Scheme {
        /// The URL, redacted.
        shown: String,
    },
}

impl Recover for UrlError {
    fn recovery(&self) -> Recovery {
        match self {
            // The configuration must be fixed by a person.
            UrlError::NotUrl { .. }
            | UrlError::Credentials { .. }
            | UrlError::Query { .. }
            | UrlError::PlainHttp { .. }
            | UrlError::Scheme { .. } => Recovery::Abort,
        }
    }
}

/// Checks a DICOMweb base URL (see the module docs); the reason names what to do instead and
/// never repeats a credential.
///
/// # Errors
/// [`UrlError`] saying what is wrong and what to do instead.
pub fn check_dicomweb_url(url: &str, insecure: bool) -> Result<(), UrlError> {
    let shown = redact_url_credentials(url);
    let parsed = match reqwest::Url::parse(url) {
        Ok(p) => p,
        Err(e) => {
            return Err(UrlError::NotUrl {
                shown,
                reason: e.to_string(),
            });
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlError::Credentials { shown });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        // `/studies` is appended to the base URL; a query string there is either a mistake
        // or a token that would be printed like the rest of the URL.
        return Err(UrlError::Query {
            shown: redact_url_credentials(url.split(['?', '#']).next().unwrap_or("")),
        });
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&parsed) || insecure => Ok(()),
        "http" => Err(UrlError::PlainHttp { shown }),
        _ => Err(UrlError::Scheme { shown }),
    }
}

impl DicomConfig {
    /// Reads and checks the configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses configuration text (`path` is only for messages and relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            // The parser quotes the offending line, which may hold a URL with a password.
            why: redact_url_credentials(&e.to_string()),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        check_ae(path, "station.ae_title", &raw.station.ae_title)?;
        let uid_root = raw
            .station
            .uid_root
            .clone()
            .unwrap_or_else(|| "2.25".into());
        UidGenerator::new(&uid_root)?;
        let peer = |name: &str, p: &RawPeer| -> Result<(Peer, Duration), ConfigError> {
            check_ae(path, &format!("{name}.ae_title"), &p.ae_title)?;
            if p.host.is_empty() || p.port == 0 {
                return Err(ConfigError::Field {
                    path: path.to_path_buf(),
                    field: format!("{name}.host/port"),
                    why: "a host and a port > 0 are required".into(),
                });
            }
            Ok((
                Peer {
                    ae_title: p.ae_title.clone(),
                    host: p.host.clone(),
                    port: p.port,
                },
                timeout(path, &format!("{name}.timeout_s"), p.timeout_s, 30.0)?,
            ))
        };
        let worklist = raw
            .worklist
            .as_ref()
            .map(|p| peer("worklist", p))
            .transpose()?;
        let mpps = match &raw.mpps {
            Some(p) => Some(peer("mpps", p)?),
            None => worklist.clone(),
        };
        let mut pacs = BTreeMap::new();
        for (name, p) in raw.pacs {
            let field = |f: &str| format!("pacs.{name}.{f}");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::Field {
                    path: path.to_path_buf(),
                    field: format!("pacs.{name}"),
                    why: "PACS names must be letters, digits, `-` or `_`".into(),
                });
            }
            let protocol = p.protocol.clone().unwrap_or_else(|| {
                if p.dicomweb_url.is_some() && p.host.is_none() {
                    "stow".into()
                } else {
                    "dimse".into()
                }
            });
            let endpoint = match protocol.as_str() {
                "dimse" => {
                    if p.insecure.is_some() {
                        return Err(ConfigError::Field {
                            path: path.to_path_buf(),
                            field: field("insecure"),
                            why: "applies to protocol \"stow\" (plain http://) only".into(),
                        });
                    }
                    let (Some(ae), Some(host), Some(port)) = (&p.ae_title, &p.host, p.port) else {
                        return Err(ConfigError::Field {
                            path: path.to_path_buf(),
                            field: field("ae_title/host/port"),
                            why: "protocol \"dimse\" needs ae_title, host and port".into(),
                        });
                    };
                    let raw_peer = RawPeer {
                        ae_title: ae.clone(),
                        host: host.clone(),
                        port,
                        timeout_s: None,
                    };
                    let transfer_syntax = match p.transfer_syntax.as_deref().unwrap_or("explicit") {
                        "explicit" => EXPLICIT_VR_LE.to_string(),
                        "deflated" => DEFLATED_EXPLICIT_VR_LE.to_string(),
                        other => {
                            return Err(ConfigError::Field {
                                path: path.to_path_buf(),
                                field: field("transfer_syntax"),
                                why: format!("`{other}`: expected \"explicit\" or \"deflated\""),
                            });
                        }
                    };
                    PacsEndpoint::Dimse {
                        peer: peer(&format!("pacs.{name}"), &raw_peer)?.0,
                        transfer_syntax,
                    }
                }
                "stow" => {
                    let Some(url) = &p.dicomweb_url else {
                        return Err(ConfigError::Field {
                            path: path.to_path_buf(),
                            field: field("dicomweb_url"),
                            why: "protocol \"stow\" needs dicomweb_url".into(),
                        });
                    };
                    check_dicomweb_url(url, p.insecure.unwrap_or(false)).map_err(|e| {
                        ConfigError::Field {
                            path: path.to_path_buf(),
                            field: field("dicomweb_url"),
                            why: e.to_string(),
                        }
                    })?;
                    let password = match (&p.password_env, &p.password_file) {
                        (Some(v), None) => Some(CredentialSource::Env(v.clone())),
                        (None, Some(f)) => Some(CredentialSource::File(rel(f.clone()))),
                        (None, None) => None,
                        _ => {
                            return Err(ConfigError::Field {
                                path: path.to_path_buf(),
                                field: field("password_env/password_file"),
                                why: "give one of them, not both".into(),
                            });
                        }
                    };
                    let token = match (&p.token_env, &p.token_file) {
                        (Some(v), None) => Some(CredentialSource::Env(v.clone())),
                        (None, Some(f)) => Some(CredentialSource::File(rel(f.clone()))),
                        (None, None) => None,
                        _ => {
                            return Err(ConfigError::Field {
                                path: path.to_path_buf(),
                                field: field("token_env/token_file"),
                                why: "give one of them, not both".into(),
                            });
                        }
                    };
                    let auth = match (&p.username, password, token) {
                        (Some(u), Some(pw), None) => HttpAuth::Basic {
                            username: u.clone(),
                            password: pw,
                        },
                        (None, None, Some(t)) => HttpAuth::Bearer(t),
                        (None, None, None) => HttpAuth::None,
                        _ => {
                            return Err(ConfigError::Field {
                                path: path.to_path_buf(),
                                field: field("username"),
                                why: "use username with password_env/password_file (basic), or token_env/token_file (bearer), not a mix".into(),
                            });
                        }
                    };
                    let batch = p.batch.unwrap_or(16);
                    if batch == 0 || batch > 1000 {
                        return Err(ConfigError::Field {
                            path: path.to_path_buf(),
                            field: field("batch"),
                            why: format!("{batch}: expected 1 to 1000 instances per request"),
                        });
                    }
                    PacsEndpoint::Stow {
                        url: url.trim_end_matches('/').to_string(),
                        auth,
                        ca_file: p.ca_file.clone().map(rel),
                        batch,
                        insecure: p.insecure.unwrap_or(false),
                    }
                }
                other => {
                    return Err(ConfigError::Field {
                        path: path.to_path_buf(),
                        field: field("protocol"),
                        why: format!("`{other}`: expected \"dimse\" or \"stow\""),
                    });
                }
            };
            let timeout = timeout(path, &field("timeout_s"), p.timeout_s, 30.0)?;
            pacs.insert(
                name.clone(),
                PacsConfig {
                    name,
                    endpoint,
                    timeout,
                },
            );
        }
        Ok(Self {
            station_name: raw
                .station
                .station_name
                .unwrap_or_else(|| raw.station.ae_title.clone()),
            ae_title: raw.station.ae_title,
            uid_root,
            outbox: rel(raw
                .station
                .outbox
                .unwrap_or_else(|| PathBuf::from("outbox"))),
            worklist,
            mpps,
            pacs,
        })
    }

    /// Association options for a peer with `timeout`.
    pub fn association_options(&self, timeout: Duration) -> AssociationOptions {
        AssociationOptions::new(self.ae_title.clone()).dimse_timeout(timeout)
    }

    /// The UID generator for this site.
    pub fn uids(&self) -> UidGenerator {
        UidGenerator::new(&self.uid_root).expect("checked when loading")
    }

    /// A PACS by name, or an error listing the known names.
    pub fn pacs(&self, name: &str) -> Result<&PacsConfig, ConfigError> {
        self.pacs.get(name).ok_or_else(|| ConfigError::Field {
            path: PathBuf::new(),
            field: format!("pacs.{name}"),
            why: format!(
                "no such PACS; configured: {}",
                self.pacs.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[station]
ae_title = "ROBOCT"
outbox = "box"
[worklist]
ae_title = "RIS"
host = "127.0.0.1"
port = 104
[pacs.main]
ae_title = "PACS"
host = "127.0.0.1"
port = 4242
transfer_syntax = "deflated"
[pacs.web]
dicomweb_url = "https://pacs/dicom-web/"
username = "robot"
password_env = "ROBOCT_TEST_PW_THAT_IS_NOT_SET"
"#;

    #[test]
    fn parses_and_resolves_relative_paths() {
        let c = DicomConfig::parse(Path::new("/etc/roboct/pacs.toml"), GOOD).unwrap();
        assert_eq!(c.outbox, Path::new("/etc/roboct/box"));
        assert_eq!(c.mpps, c.worklist, "MPPS defaults to the worklist peer");
        assert!(matches!(
            c.pacs("main").unwrap().endpoint,
            PacsEndpoint::Dimse { ref transfer_syntax, .. } if transfer_syntax == DEFLATED_EXPLICIT_VR_LE
        ));
        let PacsEndpoint::Stow { url, auth, .. } = &c.pacs("web").unwrap().endpoint else {
            panic!()
        };
        assert_eq!(url, "https://pacs/dicom-web");
        let HttpAuth::Basic { password, .. } = auth else {
            panic!()
        };
        let e = password.resolve("pacs.web.password_env").unwrap_err();
        assert!(e.to_string().contains("ROBOCT_TEST_PW_THAT_IS_NOT_SET"));
        let e = c.pacs("nope").unwrap_err().to_string();
        assert!(e.contains("main, web"), "{e}");
    }

    #[test]
    fn bad_fields_are_named() {
        for (patch, field) in [
            (
                "ae_title = \"ROBOCT\"",
                "ae_title = \"THIS_AE_TITLE_IS_TOO_LONG\"",
            ),
            ("port = 4242", "port = \"x\""),
            (
                "transfer_syntax = \"deflated\"",
                "transfer_syntax = \"jpeg\"",
            ),
            ("[pacs.web]", "[pacs.web]\nprotocol = \"ftp\""),
            ("[station]", "[station]\nuid_root = \"1.02\""),
            ("[pacs.web]", "[pacs.web]\ntypo = 1"),
        ] {
            let text = GOOD.replacen(patch, field, 1);
            let e = DicomConfig::parse(Path::new("c.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("c.toml") || e.contains("1.02"), "{e}");
            let key = field
                .split([' ', '\n'])
                .find(|s| !s.starts_with('['))
                .unwrap();
            assert!(
                e.contains(key.trim_matches('"')) || e.contains("protocol") || e.contains("1.02"),
                "{field}: {e}"
            );
        }
    }

    fn stow_error(url: &str, extra: &str) -> String {
        let text = GOOD.replace("https://pacs/dicom-web/", url) + extra;
        DicomConfig::parse(Path::new("c.toml"), &text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn credentials_in_a_url_are_refused_and_never_echoed() {
        for url in [
            "https://robot:hunter2@pacs/dicom-web",
            "https://robot:hunter2@pacs:8443",
            "http://robot:hunter2@127.0.0.1:8042/dicom-web",
            "https://hunter2@pacs/dicom-web",
        ] {
            let e = stow_error(url, "");
            assert!(e.contains("pacs.web.dicomweb_url"), "{e}");
            assert!(e.contains("credentials"), "{e}");
            assert!(e.contains("password_env") && e.contains("token_env"), "{e}");
            assert!(!e.contains("hunter2"), "echoed a credential: {e}");
        }
        // A syntax error on that line: the parser quotes it, the password is masked.
        let text = GOOD.replace(
            "\"https://pacs/dicom-web/\"",
            "\"https://robot:hunter2@pacs/dicom-web",
        );
        let e = DicomConfig::parse(Path::new("c.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "echoed a credential: {e}");
        // A token in the query string: refused, and the query not repeated.
        let e = stow_error("https://pacs/dicom-web?access_token=hunter2", "");
        assert!(e.contains("query string") && e.contains("token_env"), "{e}");
        assert!(!e.contains("hunter2"), "echoed a credential: {e}");
        // Not a URL at all: still masked.
        let e = stow_error("ftp://robot:hunter2@pacs/x", "");
        assert!(e.contains("dicomweb_url") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn plain_http_needs_insecure_except_to_this_machine() {
        // Basic credentials (from GOOD) over plain HTTP to another host: refused, and the
        // message says what to do.
        let e = stow_error("http://pacs.example.org/dicom-web", "");
        assert!(e.contains("pacs.web.dicomweb_url"), "{e}");
        assert!(
            e.contains("https://") && e.contains("insecure = true"),
            "{e}"
        );
        // Bearer or no credentials: the images are patient data, refused all the same.
        let bearer = GOOD
            .replace("username = \"robot\"\n", "")
            .replace("password_env", "token_env")
            .replace("https://pacs/dicom-web/", "http://10.0.0.7/dicom-web");
        let e = DicomConfig::parse(Path::new("c.toml"), &bearer)
            .unwrap_err()
            .to_string();
        assert!(e.contains("insecure = true"), "{e}");
        // Allowed explicitly.
        let c = DicomConfig::parse(
            Path::new("c.toml"),
            &(GOOD.replace(
                "https://pacs/dicom-web/",
                "http://pacs.example.org/dicom-web",
            ) + "insecure = true\n"),
        )
        .unwrap();
        assert!(matches!(
            c.pacs("web").unwrap().endpoint,
            PacsEndpoint::Stow { insecure: true, .. }
        ));
        // This machine: no flag needed.
        for url in [
            "http://127.0.0.1:8042/dicom-web",
            "http://127.0.0.2:8042/dicom-web",
            "http://localhost:8042/dicom-web",
            "http://[::1]:8042/dicom-web",
        ] {
            let text = GOOD.replace("https://pacs/dicom-web/", url);
            let c = DicomConfig::parse(Path::new("c.toml"), &text).unwrap();
            assert!(matches!(
                c.pacs("web").unwrap().endpoint,
                PacsEndpoint::Stow {
                    insecure: false,
                    ..
                }
            ));
        }
        // A name that only looks like loopback is another host.
        let e = stow_error("http://127.0.0.1.example.org/dicom-web", "");
        assert!(e.contains("insecure"), "{e}");
        // `insecure` means nothing for DIMSE: refused rather than ignored.
        let text = GOOD.replace(
            "transfer_syntax = \"deflated\"",
            "transfer_syntax = \"deflated\"\ninsecure = true",
        );
        let e = DicomConfig::parse(Path::new("c.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("pacs.main.insecure"), "{e}");
    }

    #[test]
    fn url_credentials_are_masked_in_any_text() {
        let t = "error sending request for url (https://robot:hunter2@pacs:8443/dicom-web/studies): \
                 redirect to http://a:b@other/x; see `https://u@h` and https://plain/x";
        let r = redact_url_credentials(t);
        assert!(
            !r.contains("hunter2") && !r.contains("a:b") && !r.contains("u@"),
            "{r}"
        );
        assert!(r.contains("https://***@pacs:8443/dicom-web/studies"), "{r}");
        assert!(
            r.contains("http://***@other/x") && r.contains("https://plain/x"),
            "{r}"
        );
        assert_eq!(redact_url_credentials("no url here"), "no url here");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<secret> <secret>");
        let src = CredentialSource::Value(s);
        assert!(!format!("{src:?}").contains("hunter2"));
    }
}
