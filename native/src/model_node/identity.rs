//! A model's content key: what the registry knows a model by, so two paths holding the same files
//! share one model, and a file changed in place is another model. The JVM names a model by its
//! key (`ModelSource.key`, over the hashes it checked the files against) and this library takes it
//! as it is, checking the .onnx bytes it loads against the SHA-256 the JVM gives with it; a model
//! opened by path alone (tests, tools) is hashed here, by the JVM's rule where it can be.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use once_cell::sync::Lazy;
use sha2::{Digest, Sha256};

use super::lock;
use crate::onnx_proto;
use crate::weights;
use crate::{Error, Result};

/// What the registry knows a model's content by: the JVM's key for it (`ModelSource.key`), or for
/// a model opened by path alone the one hashed here. For a model without external data both are
/// the SHA-256 of the .onnx file, so the JVM's model and the same file opened by path are one. With
/// external data the JVM's key covers the data files' content, which this library does not read to
/// name a model: it hashes the .onnx file's SHA-256, then each data file's location, length and
/// modification time, and such a model opened by path is another entry than the JVM's.
pub(super) type ContentKey = [u8; 32];

/// A model's content as the JVM names it: its key (`ModelSource.key`, which also names its folder in
/// the executor's model cache), and the SHA-256 of its .onnx file, which the bytes loaded must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedContent {
    pub key: [u8; 32],
    pub onnx_sha256: [u8; 32],
}

/// A model file whose content key is known, with the versions of the files it was computed from.
#[derive(Clone)]
pub(super) struct ModelIdentity {
    versions: Vec<(PathBuf, FileVersion)>,
    pub content: ContentKey,
    /// SHA-256 of the .onnx file alone, which names the model's threads.
    pub onnx_sha256: [u8; 32],
    /// The .onnx file and its external data files: what the model counts for against the memory budget.
    pub disk_bytes: u64,
}

/// The version of a file as its metadata tells it: length and modification time, and on Unix its
/// device, inode and change time, so a file rewritten in place (even with its length and
/// modification time set back) or replaced by another is another version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileVersion {
    length: u64,
    modified: Option<SystemTime>,
    /// Device, inode, change time (seconds, nanoseconds); zeros where there are none.
    unix: [i64; 4],
}

impl FileVersion {
    pub(super) fn of(path: &Path) -> std::io::Result<FileVersion> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileVersion { length: metadata.len(), modified: metadata.modified().ok(), unix: unix_identity(&metadata) })
    }
}

#[cfg(unix)]
fn unix_identity(metadata: &std::fs::Metadata) -> [i64; 4] {
    use std::os::unix::fs::MetadataExt;
    // Device and inode numbers fit in i64 on every Unix Rust supports; wrapping keeps them distinct.
    [metadata.dev() as i64, metadata.ino() as i64, metadata.ctime(), metadata.ctime_nsec()]
}

#[cfg(not(unix))]
fn unix_identity(_metadata: &std::fs::Metadata) -> [i64; 4] {
    [0; 4]
}

/// The identities computed in this process, by the path of the .onnx file.
static KNOWN: Lazy<Mutex<HashMap<PathBuf, ModelIdentity>>> = Lazy::new(|| Mutex::new(HashMap::new()));

// Held while a model file is read to compute its content key: tasks opening a model together read
// it once (the others then find it known), rather than each holding a copy of its bytes.
static IDENTIFYING: Mutex<()> = Mutex::new(());

/// The identity of the model at `path`, remembered when none of its files has changed; else
/// computed, and then the bytes read for it are returned too.
pub(super) fn identify(path: &Path) -> Result<(ModelIdentity, Option<Vec<u8>>)> {
    let known = || -> Option<ModelIdentity> {
        let known = lock(&KNOWN).get(path).cloned()?;
        known
            .versions
            .iter()
            .all(|(file, version)| FileVersion::of(file).ok().as_ref() == Some(version))
            .then_some(known)
    };
    if let Some(known) = known() {
        return Ok((known, None));
    }
    let _one_reader = lock(&IDENTIFYING);
    if let Some(known) = known() {
        return Ok((known, None));
    }
    let bytes = read(path)?;
    let onnx_sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let (onnx, data) = versions(path, &bytes)?;
    let mut hasher = Sha256::new();
    hasher.update(onnx_sha256);
    let alone = data.is_empty();
    let mut versions = vec![(path.to_path_buf(), onnx)];
    for (location, file, version) in data {
        hasher.update(location.as_bytes());
        hasher.update(version.length.to_le_bytes());
        let modified = version.modified.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).unwrap_or_default();
        hasher.update(modified.as_nanos().to_le_bytes());
        versions.push((file, version));
    }
    let identity = ModelIdentity {
        disk_bytes: disk_bytes(&versions),
        versions,
        content: if alone { onnx_sha256 } else { hasher.finalize().into() },
        onnx_sha256,
    };
    lock(&KNOWN).insert(path.to_path_buf(), identity.clone());
    Ok((identity, Some(bytes)))
}

/// The identity of the model at `path` that the JVM names `named`, and the bytes of its .onnx file,
/// read to load it: refused unless those bytes have the SHA-256 the name gives, and unless a key
/// that is that SHA-256 alone names a model without external data.
pub(super) fn named_identity(path: &Path, named: &NamedContent) -> Result<(ModelIdentity, Vec<u8>)> {
    let bytes = read(path)?;
    let onnx_sha256: [u8; 32] = Sha256::digest(&bytes).into();
    if onnx_sha256 != named.onnx_sha256 {
        return Err(Error::ModelLoad {
            path: path.display().to_string(),
            reason: format!(
                "its SHA-256 is {}, not {}, which model key {} names",
                hex(&onnx_sha256),
                hex(&named.onnx_sha256),
                hex(&named.key)
            ),
        });
    }
    let (onnx, data) = versions(path, &bytes)?;
    // A key that is the .onnx file's SHA-256 alone names a model without external data (here as in
    // the JVM), which a path opened alone may share: a model with some must have another.
    if named.key == onnx_sha256 && !data.is_empty() {
        return Err(Error::ModelLoad {
            path: path.display().to_string(),
            reason: "its key is its SHA-256 alone, which names a model without external data, but it has some".into(),
        });
    }
    let mut versions = vec![(path.to_path_buf(), onnx)];
    versions.extend(data.into_iter().map(|(_, file, version)| (file, version)));
    let identity = ModelIdentity { disk_bytes: disk_bytes(&versions), versions, content: named.key, onnx_sha256 };
    Ok((identity, bytes))
}

/// An external data file: its location as the model names it, its path and its version.
type DataFile = (String, PathBuf, FileVersion);

/// The version of the model file at `path` (whose bytes are `bytes`), and each external data file
/// it names, which must be inside its folder and be there.
fn versions(path: &Path, bytes: &[u8]) -> Result<(FileVersion, Vec<DataFile>)> {
    let failed = |reason: String| Error::ModelLoad { path: path.display().to_string(), reason };
    let onnx = FileVersion::of(path).map_err(|e| failed(e.to_string()))?;
    let folder = path.parent().unwrap_or(Path::new(""));
    let mut data = Vec::new();
    for location in onnx_proto::external_data_files(bytes).map_err(|e| failed(e.to_string()))? {
        let file = weights::external_file(folder, &location).map_err(failed)?;
        let version = FileVersion::of(&file).map_err(|e| failed(format!("external data {}: {e}", file.display())))?;
        data.push((location, file, version));
    }
    Ok((onnx, data))
}

/// The files' bytes on disk: what a model counts for against the memory budget.
fn disk_bytes(versions: &[(PathBuf, FileVersion)]) -> u64 {
    versions.iter().map(|(_, v)| v.length).sum()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The external data files the model at `path` names, relative to its folder; refused (as a load
/// would refuse them) when one is not inside that folder.
pub fn external_data_files(path: &str) -> Result<Vec<String>> {
    let failed = |reason: String| Error::ModelLoad { path: path.into(), reason };
    let locations = onnx_proto::external_data_files(&read(Path::new(path))?).map_err(|e| failed(e.to_string()))?;
    for location in &locations {
        weights::external_file(Path::new(""), location).map_err(failed)?;
    }
    Ok(locations)
}

/// The bytes of a model file; failing to read one is failing to load the model.
pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::ModelLoad { path: path.display().to_string(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_replaced_by_one_of_the_same_length_and_time_has_another_stamp() {
        let dir = std::env::temp_dir().join(format!("sparkort-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (file, other) = (dir.join("weights.bin"), dir.join("other.bin"));
        std::fs::write(&file, [1u8; 64]).unwrap();
        std::fs::write(&other, [2u8; 64]).unwrap();
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(time).unwrap();
        std::fs::File::options().write(true).open(&other).unwrap().set_modified(time).unwrap();
        let before = FileVersion::of(&file).unwrap();
        std::fs::rename(&other, &file).unwrap();
        let after = FileVersion::of(&file).unwrap();
        assert_eq!(
            (before.length, before.modified),
            (after.length, after.modified),
            "same length and modification time"
        );
        assert_ne!(before, after, "but another file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
