//! The archive an engine saves an image as (`docker image save`, `podman image save`: the
//! docker-archive format), read in place: a tar whose `manifest.json` names the image's config
//! file and its layer tars, in order. The layers are the uncompressed tars whose digests are the
//! config's `rootfs.diff_ids`, so the image can be uploaded from the file as it is, the config
//! bytes unchanged (its digest stays the local image ID).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Bytes of a tar header and of the blocks an entry's data is padded to.
const BLOCK: u64 = 512;

/// An image saved by the engine into `file`: its config and where each layer lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedImage {
    pub file: PathBuf,
    /// The config as the engine saved it: its sha256 is the local image ID.
    pub config: Vec<u8>,
    /// The layers, bottom first.
    pub layers: Vec<SavedLayer>,
}

/// One uncompressed layer tar inside the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedLayer {
    /// `sha256:...`, the layer's diff ID.
    pub digest: String,
    /// Where its bytes start in the archive.
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("reading the saved image `{}`", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("gzipping a layer of the saved image into `{}`: {source}", path.display())]
    Compressing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the saved image `{}` is not a docker-archive: {why}", path.display())]
    Invalid { path: PathBuf, why: String },
}

/// One image of `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchivedImage {
    config: String,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct Config {
    rootfs: RootFs,
}

#[derive(Deserialize)]
struct RootFs {
    diff_ids: Vec<String>,
}

/// A file of the tar: where its data starts, how long it is, or the entry it links to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    offset: u64,
    size: u64,
    link: Option<String>,
}

impl SavedImage {
    /// The image ID: the sha256 of its config, `sha256:<hex>`.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(&self.config);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Reads the archive the engine saved one image into.
    pub fn read(file: &Path) -> Result<Self, ArchiveError> {
        let io = |source| ArchiveError::Io {
            path: file.to_owned(),
            source,
        };
        let invalid = |why: String| ArchiveError::Invalid {
            path: file.to_owned(),
            why,
        };
        let mut archive = fs_err::File::open(file).map_err(io)?;
        let entries = tar_entries(&mut archive).map_err(io)?;
        let find = |name: &str| {
            resolve(&entries, name).ok_or_else(|| invalid(format!("it has no `{name}`")))
        };
        let manifest = read_entry(&mut archive, find("manifest.json")?).map_err(io)?;
        let images: Vec<ArchivedImage> = serde_json::from_slice(&manifest)
            .map_err(|e| invalid(format!("manifest.json: {e}")))?;
        let [image] = images.as_slice() else {
            return Err(invalid(format!(
                "it holds {} images, not one",
                images.len()
            )));
        };
        let config = read_entry(&mut archive, find(&image.config)?).map_err(io)?;
        let diff_ids = serde_json::from_slice::<Config>(&config)
            .map_err(|e| invalid(format!("{}: {e}", image.config)))?
            .rootfs
            .diff_ids;
        if diff_ids.len() != image.layers.len() {
            let (ids, layers) = (diff_ids.len(), image.layers.len());
            return Err(invalid(format!("{ids} diff IDs for {layers} layers")));
        }
        let mut layers = Vec::new();
        for (name, digest) in image.layers.iter().zip(diff_ids) {
            let entry = find(name)?;
            let (offset, size) = (entry.offset, entry.size);
            layers.push(SavedLayer {
                digest,
                offset,
                size,
            });
        }
        Ok(Self {
            file: file.to_owned(),
            config,
            layers,
        })
    }
}

/// The entry named `name`, its links followed (docker links a layer saved twice to its first
/// copy, by a path relative to the link's folder).
fn resolve<'a>(entries: &'a [Entry], name: &str) -> Option<&'a Entry> {
    let mut name = name.trim_start_matches("./").to_owned();
    for _ in 0..8 {
        let entry = entries.iter().find(|e| e.name == name)?;
        let Some(link) = &entry.link else {
            return Some(entry);
        };
        name = joined(&name, link);
    }
    None
}

/// `link` read from the folder of `name`, with `..` and `.` resolved.
fn joined(name: &str, link: &str) -> String {
    let mut parts: Vec<&str> = match link.starts_with('/') {
        true => Vec::new(),
        false => name.split('/').collect(),
    };
    parts.pop();
    for part in link.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

fn read_entry(archive: &mut fs_err::File, entry: &Entry) -> std::io::Result<Vec<u8>> {
    archive.seek(SeekFrom::Start(entry.offset))?;
    let mut data = Vec::new();
    archive.take(entry.size).read_to_end(&mut data)?;
    Ok(data)
}

/// The files and links of the tar `archive`, from its headers alone (the data is skipped):
/// ustar names with their prefix, GNU long names and pax `path`/`linkpath` records.
fn tar_entries(archive: &mut (impl Read + Seek)) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut offset = 0;
    let (mut long_name, mut long_link) = (None, None);
    loop {
        let mut header = [0u8; BLOCK as usize];
        archive.seek(SeekFrom::Start(offset))?;
        if archive.read_exact(&mut header).is_err() || header.iter().all(|&b| b == 0) {
            return Ok(entries);
        }
        let size = octal(&header[124..136])?;
        let data = offset + BLOCK;
        offset = data + size.div_ceil(BLOCK) * BLOCK;
        match header[156] {
            b'L' | b'K' | b'x' => {
                archive.seek(SeekFrom::Start(data))?;
                let mut text = Vec::new();
                archive.take(size).read_to_end(&mut text)?;
                match header[156] {
                    b'L' => long_name = Some(text_field(&text)),
                    b'K' => long_link = Some(text_field(&text)),
                    _ => (long_name, long_link) = pax_paths(&text, long_name, long_link),
                }
            }
            kind => {
                let name = long_name.take().unwrap_or_else(|| ustar_name(&header));
                let linked = long_link
                    .take()
                    .unwrap_or_else(|| text_field(&header[157..257]));
                entries.push(Entry {
                    name: name.trim_start_matches("./").to_owned(),
                    offset: data,
                    size,
                    link: matches!(kind, b'1' | b'2').then_some(linked),
                });
            }
        }
    }
}

/// The name of a ustar header: its prefix, a slash, its name.
fn ustar_name(header: &[u8]) -> String {
    let name = text_field(&header[0..100]);
    let prefix = match &header[257..263] {
        b"ustar\0" | b"ustar " => text_field(&header[345..500]),
        _ => String::new(),
    };
    match prefix.is_empty() {
        true => name,
        false => format!("{prefix}/{name}"),
    }
}

/// The `path` and `linkpath` of pax records (`LEN KEY=VALUE\n` each), else `name` and `link`.
fn pax_paths(
    records: &[u8],
    name: Option<String>,
    link: Option<String>,
) -> (Option<String>, Option<String>) {
    let (mut name, mut link) = (name, link);
    for record in String::from_utf8_lossy(records).lines() {
        let Some((_, pair)) = record.split_once(' ') else {
            continue;
        };
        match pair.split_once('=') {
            Some(("path", value)) => name = Some(value.to_owned()),
            Some(("linkpath", value)) => link = Some(value.to_owned()),
            _ => {}
        }
    }
    (name, link)
}

/// A NUL-terminated text field.
fn text_field(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// An octal number field (NUL or space terminated), or GNU's base-256 form.
fn octal(field: &[u8]) -> std::io::Result<u64> {
    if field[0] & 0x80 != 0 {
        let bytes = field[1..].iter();
        return Ok(bytes.fold(0, |n, &b| (n << 8) | u64::from(b)));
    }
    let text = text_field(field);
    u64::from_str_radix(text.trim_matches([' ', '\0']), 8)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("tar size: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header of `name` with `size` bytes of data, of `kind`, linking to `link`.
    fn header(name: &str, size: usize, kind: u8, link: &str) -> Vec<u8> {
        let mut block = vec![0u8; BLOCK as usize];
        block[..name.len()].copy_from_slice(name.as_bytes());
        let size = format!("{size:011o}\0");
        block[124..136].copy_from_slice(size.as_bytes());
        block[156] = kind;
        block[157..157 + link.len()].copy_from_slice(link.as_bytes());
        block[257..263].copy_from_slice(b"ustar\0");
        block
    }

    fn file(name: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = header(name, data.len(), b'0', "");
        bytes.extend(data);
        bytes.resize(bytes.len().div_ceil(BLOCK as usize) * BLOCK as usize, 0);
        bytes
    }

    #[test]
    fn a_saved_image_is_its_config_and_its_layers_where_they_lie_links_followed() {
        let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:a","sha256:b"]}}"#;
        let manifest =
            br#"[{"Config":"c.json","RepoTags":["x:y"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;
        let mut tar = file("a/layer.tar", b"AAAA");
        tar.extend(header("b/layer.tar", 0, b'2', "../a/layer.tar"));
        tar.extend(file("c.json", config));
        tar.extend(file("manifest.json", manifest));
        tar.extend([0u8; 1024]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        fs_err::write(&path, &tar).unwrap();
        let saved = SavedImage::read(&path).unwrap();
        assert_eq!(saved.config, config);
        let layer = |digest: &str| SavedLayer {
            digest: digest.into(),
            offset: BLOCK,
            size: 4,
        };
        assert_eq!(saved.layers, [layer("sha256:a"), layer("sha256:b")]);
    }

    #[test]
    fn long_names_come_from_gnu_and_pax_records() {
        let long = format!("{}/layer.tar", "d".repeat(120));
        let mut tar = file("././@LongLink", long.as_bytes());
        tar[156] = b'L';
        tar.extend(file(&long[..99], b"X"));
        let pax = format!("{} path=p/{long}\n", long.len() + 10);
        let mut record = file("pax", pax.as_bytes());
        record[156] = b'x';
        tar.extend(record);
        tar.extend(file("short", b"Y"));
        let entries = tar_entries(&mut std::io::Cursor::new(tar)).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [long.clone(), format!("p/{long}")]);
    }

    #[test]
    fn an_archive_without_manifest_is_refused_naming_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        fs_err::write(&path, file("other", b"x")).unwrap();
        let error = SavedImage::read(&path).unwrap_err().to_string();
        assert!(
            error.ends_with("is not a docker-archive: it has no `manifest.json`"),
            "{error}"
        );
    }

    #[test]
    fn links_resolve_from_the_links_folder() {
        assert_eq!(joined("b/layer.tar", "../a/layer.tar"), "a/layer.tar");
        assert_eq!(joined("b/layer.tar", "/a/layer.tar"), "a/layer.tar");
        assert_eq!(joined("layer.tar", "./x.tar"), "x.tar");
    }
}
