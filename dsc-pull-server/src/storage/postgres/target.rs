//! Where and how to reach PostgreSQL: the parsed URL with traek's timeouts and, when the URL
//! says `sslmode=require`, TLS (rustls) trusting the system's roots or a CA file
//! (`--database-ca`). Other modes connect without TLS, as before.

use super::{StorageError, StorageResult, pg_error, redact};
use futures_util::StreamExt;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{AsyncMessage, Client, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connection target.
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

fn tls_config(ca: Option<&Path>) -> StorageResult<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                StorageError::failed(format!("reading the database CA {}: {e}", path.display()))
            })?;
            let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StorageError::failed(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(StorageError::failed(format!(
                    "{} holds no PEM certificate",
                    path.display()
                )));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| StorageError::failed(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::failed(format!("TLS to the database: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Target {
    /// Parses a URL; `ca` is a PEM file of the CA that signed the server's certificate.
    pub fn new(url: &str, ca: Option<&Path>) -> StorageResult<Target> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::failed(format!("database URL '{}': {e}", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(super::POOL_WAIT);
        }
        config.application_name("traek-server");
        let tls = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => {
                Some(MakeRustlsConnect::new(tls_config(ca)?))
            }
            _ if ca.is_some() => {
                return Err(StorageError::failed(
                    "--database-ca needs sslmode=require in the database URL",
                ));
            }
            _ => None,
        };
        Ok(Target { config, tls })
    }

    /// A client whose connection is driven by a task; notifications go to `notes`.
    pub async fn connect(
        &self,
        notes: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    ) -> StorageResult<(Client, tokio::task::JoinHandle<()>)> {
        match &self.tls {
            None => drive(&self.config, tokio_postgres::NoTls, notes).await,
            Some(tls) => drive(&self.config, tls.clone(), notes).await,
        }
    }

    /// The connection-pool manager.
    pub fn manager(&self) -> deadpool_postgres::Manager {
        let config = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        };
        match &self.tls {
            None => deadpool_postgres::Manager::from_config(
                self.config.clone(),
                tokio_postgres::NoTls,
                config,
            ),
            Some(tls) => {
                deadpool_postgres::Manager::from_config(self.config.clone(), tls.clone(), config)
            }
        }
    }
}

async fn drive<T>(
    config: &tokio_postgres::Config,
    tls: T,
    notes: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> StorageResult<(Client, tokio::task::JoinHandle<()>)>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut connection) = config.connect(tls).await.map_err(pg_error)?;
    let task = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let (AsyncMessage::Notification(n), Some(tx)) = (message, &notes)
                && tx.send(n.payload().to_string()).is_err()
            {
                break;
            }
        }
    });
    Ok((client, task))
}
