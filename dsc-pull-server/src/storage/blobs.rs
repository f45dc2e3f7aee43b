//! Content bytes (MOFs, module zips), stored once per SHA-256 and named by it.
//!
//! The database records which content names point at which checksum; a [`BlobStore`] only
//! keeps bytes. Two stores:
//!
//! - [`FileBlobs`]: a local directory (the default, `DATA_DIR/blobs`, or `--content file:///DIR`).
//!   Each blob is written to a temporary file, fsynced and renamed, so a crash leaves at worst
//!   an unreferenced blob, never a half-written one.
//! - [`ObjectBlobs`]: S3-compatible object storage (`--content s3://BUCKET/PREFIX`), configured
//!   by the standard `AWS_*` environment variables; a PUT is atomic there.
//!
//! Blobs nothing references are removed by the backends' pruning, which serializes removal
//! against uploads of the same checksum (see each backend).

use super::{StorageError, StorageResult};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as ObjectPath};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where content bytes live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the bytes under their checksum (idempotent: the same checksum is the same bytes).
    async fn put(&self, checksum: &str, bytes: Bytes) -> StorageResult<()>;
    /// The bytes, or `None` when no blob has that checksum.
    async fn get(&self, checksum: &str) -> StorageResult<Option<Bytes>>;
    /// The bytes as a stream of chunks, or `None` when no blob has that checksum. A blob removed
    /// while its stream is read is still read whole (the file or object is already open).
    async fn stream(&self, checksum: &str) -> StorageResult<Option<BlobStream>>;
    /// Removes a blob (absent is fine).
    async fn delete(&self, checksum: &str) -> StorageResult<()>;
    /// The checksums of every stored blob.
    async fn list(&self) -> StorageResult<Vec<String>>;
    /// Where the blobs are, for messages (`/var/lib/traek/blobs`, `s3://bucket/prefix`).
    fn describe(&self) -> String;
}

/// The metadata that reaches a blob by its checksum and size alone (a version, a rollout's
/// candidate): no name, signers or module version.
pub fn meta_of(checksum: &str, size: i64, updated_at: i64) -> super::ContentMeta {
    super::ContentMeta {
        name: String::new(),
        version: None,
        checksum: checksum.to_string(),
        size: u64::try_from(size).unwrap_or(0),
        updated_at,
        signers: Vec::new(),
    }
}

/// The bytes the metadata names; a missing blob is a failure (metadata is committed only after
/// its blob is stored).
pub async fn fetch(
    blobs: &dyn BlobStore,
    meta: super::ContentMeta,
) -> StorageResult<(super::ContentMeta, Bytes)> {
    match blobs.get(&meta.checksum).await? {
        Some(bytes) => Ok((meta, bytes)),
        None => Err(missing(blobs, &meta.checksum)),
    }
}

/// Metadata names a blob the store does not have: a failure, never "not found".
fn missing(blobs: &dyn BlobStore, checksum: &str) -> StorageError {
    StorageError::failed(format!(
        "blob {checksum} is missing from {}",
        blobs.describe()
    ))
}

/// A blob's bytes, chunk by chunk.
pub type BlobStream = futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>;

/// How much of a file blob is read at a time.
const CHUNK: usize = 64 * 1024;

/// The stream of the bytes the metadata names; a missing blob is a failure, as in [`fetch`].
pub async fn open_stream(
    blobs: &dyn BlobStore,
    meta: super::ContentMeta,
) -> StorageResult<(super::ContentMeta, BlobStream)> {
    match blobs.stream(&meta.checksum).await? {
        Some(stream) => Ok((meta, stream)),
        None => Err(missing(blobs, &meta.checksum)),
    }
}

/// Opens the store a `--content` URL names; `None` is `DATA_DIR/blobs`.
pub fn open(url: Option<&str>, data_dir: &Path) -> StorageResult<Arc<dyn BlobStore>> {
    match url {
        None => Ok(Arc::new(FileBlobs::new(data_dir.join("blobs"))?)),
        Some(u) if u.starts_with("file://") => {
            let dir = &u["file://".len()..];
            if !dir.starts_with('/') {
                return Err(StorageError::failed(format!(
                    "content URL '{u}' must name an absolute directory, as file:///DIR"
                )));
            }
            Ok(Arc::new(FileBlobs::new(PathBuf::from(dir))?))
        }
        Some(u) if u.starts_with("s3://") => Ok(Arc::new(ObjectBlobs::s3(u)?)),
        Some(u) => Err(StorageError::failed(format!(
            "content URL '{u}' is not supported: use s3://BUCKET/PREFIX or file:///DIR"
        ))),
    }
}

/// A checksum is 64 hex digits; anything else is never a blob name.
fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Blobs in a local directory.
pub struct FileBlobs {
    dir: PathBuf,
}

impl FileBlobs {
    pub fn new(dir: PathBuf) -> StorageResult<Self> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| StorageError::failed(format!("creating {}: {e}", dir.display())))?;
        Ok(FileBlobs { dir })
    }

    fn path(&self, checksum: &str) -> PathBuf {
        self.dir.join(checksum)
    }
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::failed(format!("{what} {}: {e}", path.display()))
}

fn write_blob_file(path: &Path, bytes: &[u8]) -> StorageResult<()> {
    if path.exists() {
        return Ok(());
    }
    dsc_core::atomic::write(path, bytes).map_err(|e| StorageError::failed(e.to_string()))
}

#[async_trait]
impl BlobStore for FileBlobs {
    async fn put(&self, checksum: &str, bytes: Bytes) -> StorageResult<()> {
        let path = self.path(checksum);
        tokio::task::spawn_blocking(move || write_blob_file(&path, &bytes))
            .await
            .map_err(StorageError::failed)?
    }

    async fn get(&self, checksum: &str) -> StorageResult<Option<Bytes>> {
        let path = self.path(checksum);
        let read = tokio::task::spawn_blocking(move || (std::fs::read(&path), path))
            .await
            .map_err(StorageError::failed)?;
        match read {
            (Ok(b), _) => Ok(Some(Bytes::from(b))),
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            (Err(e), path) => Err(io_failure("reading", &path, e)),
        }
    }

    async fn stream(&self, checksum: &str) -> StorageResult<Option<BlobStream>> {
        let path = self.path(checksum);
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Some(Box::pin(tokio_util::io::ReaderStream::with_capacity(
                file, CHUNK,
            )))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_failure("opening", &path, e)),
        }
    }

    async fn delete(&self, checksum: &str) -> StorageResult<()> {
        match std::fs::remove_file(self.path(checksum)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(io_failure("removing", &self.path(checksum), e))
            }
            _ => Ok(()),
        }
    }

    async fn list(&self) -> StorageResult<Vec<String>> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let entries = std::fs::read_dir(&dir).map_err(|e| io_failure("listing", &dir, e))?;
            Ok(entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| is_blob_name(n))
                .collect())
        })
        .await
        .map_err(StorageError::failed)?
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

/// Blobs in S3-compatible object storage.
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

/// An object-store error: a missing object is not one (callers ask with `get`), a client or
/// server error is a failure, anything else (connection refused, timeout) means unreachable.
fn object_error(e: object_store::Error) -> StorageError {
    match &e {
        object_store::Error::Generic { .. } => StorageError::unavailable(e),
        _ => StorageError::failed(e),
    }
}

impl ObjectBlobs {
    /// `s3://BUCKET/PREFIX` with the endpoint and credentials from `AWS_*` variables.
    pub fn s3(url: &str) -> StorageResult<Self> {
        Self::s3_with(url, &[])
    }

    /// Like [`ObjectBlobs::s3`], with settings (`aws_endpoint`, `aws_allow_http`, ...) that
    /// override the environment's.
    pub fn s3_with(url: &str, settings: &[(&str, &str)]) -> StorageResult<Self> {
        let rest = &url["s3://".len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::failed(format!(
                "content URL '{url}' names no bucket: use s3://BUCKET/PREFIX"
            )));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in settings {
            let key: object_store::aws::AmazonS3ConfigKey = key
                .parse()
                .map_err(|e| StorageError::failed(format!("object storage setting {key}: {e}")))?;
            builder = builder.with_config(key, *value);
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::failed(format!("object storage {url}: {e}")))?;
        Ok(ObjectBlobs {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
            url: url.to_string(),
        })
    }

    fn location(&self, checksum: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(checksum)
        } else {
            ObjectPath::from(format!("{}/{checksum}", self.prefix))
        }
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    async fn put(&self, checksum: &str, bytes: Bytes) -> StorageResult<()> {
        self.store
            .put(&self.location(checksum), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(object_error)
    }

    async fn get(&self, checksum: &str) -> StorageResult<Option<Bytes>> {
        match self.store.get(&self.location(checksum)).await {
            Ok(r) => r.bytes().await.map(Some).map_err(object_error),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn stream(&self, checksum: &str) -> StorageResult<Option<BlobStream>> {
        match self.store.get(&self.location(checksum)).await {
            Ok(r) => Ok(Some(Box::pin(
                r.into_stream().map_err(std::io::Error::other),
            ))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn delete(&self, checksum: &str) -> StorageResult<()> {
        match self.store.delete(&self.location(checksum)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(object_error(e)),
        }
    }

    async fn list(&self) -> StorageResult<Vec<String>> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(object_error)?;
        Ok(metas
            .into_iter()
            .filter_map(|m| m.location.filename().map(str::to_string))
            .filter(|n| is_blob_name(n))
            .collect())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}
