//! The layers of a [`SavedImage`] compressed as `docker push` sends them (gzip), each into a
//! file beside the saved archive, streamed, its sha256 and size counted as it is written. The
//! gzip header holds no name and a zero time, so the same layer always compresses to the same
//! blob, and a second push of an image finds every blob already in the registry.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::archive::{ArchiveError, SavedImage, SavedLayer};

/// Layers compressed at once (each on a thread of its own).
const CONCURRENT_LAYERS: usize = 4;

/// One layer, gzipped into a file of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedLayer {
    pub file: PathBuf,
    /// `sha256:...` of the compressed bytes: the blob's digest.
    pub digest: String,
    /// Bytes of the compressed file.
    pub size: u64,
}

impl SavedImage {
    /// Gzips each layer into `layer-<N>.tar.gz` beside the saved archive, a few at a time, in
    /// the order of [`SavedImage::layers`].
    pub fn compressed_layers(&self) -> Result<Vec<CompressedLayer>, ArchiveError> {
        let folder = self.file.parent().unwrap_or(Path::new("."));
        let numbered: Vec<(usize, &SavedLayer)> = self.layers.iter().enumerate().collect();
        let mut compressed = Vec::with_capacity(numbered.len());
        for batch in numbered.chunks(CONCURRENT_LAYERS) {
            let results = std::thread::scope(|scope| {
                let threads: Vec<_> = batch
                    .iter()
                    .map(|&(n, layer)| {
                        let file = folder.join(format!("layer-{n}.tar.gz"));
                        scope.spawn(move || compress(&self.file, layer, file))
                    })
                    .collect();
                threads
                    .into_iter()
                    .map(|thread| {
                        thread
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p))
                    })
                    .collect::<Vec<_>>()
            });
            for result in results {
                compressed.push(result?);
            }
        }
        Ok(compressed)
    }
}

/// Gzips `layer` of the archive `saved` into `file`.
fn compress(
    saved: &Path,
    layer: &SavedLayer,
    file: PathBuf,
) -> Result<CompressedLayer, ArchiveError> {
    let written = gzip_into(saved, layer, &file).map_err(|source| ArchiveError::Compressing {
        path: file.clone(),
        source,
    })?;
    let hex: String = written
        .hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(CompressedLayer {
        file,
        digest: format!("sha256:{hex}"),
        size: written.size,
    })
}

fn gzip_into(
    saved: &Path,
    layer: &SavedLayer,
    file: &Path,
) -> std::io::Result<Counted<BufWriter<fs_err::File>>> {
    let mut source = fs_err::File::open(saved)?;
    source.seek(SeekFrom::Start(layer.offset))?;
    let target = Counted {
        inner: BufWriter::new(fs_err::File::create(file)?),
        hash: Sha256::new(),
        size: 0,
    };
    let mut encoder = GzEncoder::new(target, Compression::default());
    let copied = std::io::copy(&mut source.take(layer.size), &mut encoder)?;
    if copied != layer.size {
        let why = format!("the layer `{}` ends early", layer.digest);
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, why));
    }
    let mut written = encoder.finish()?;
    written.inner.flush()?;
    Ok(written)
}

/// A writer that hashes and counts what goes through it.
struct Counted<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hash.update(&bytes[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    #[test]
    fn a_layer_gzips_the_same_every_time_to_its_counted_digest_and_back_to_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("image.tar");
        let data: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        let mut archive = vec![7u8; 100];
        archive.extend(&data);
        fs_err::write(&file, &archive).unwrap();
        let layer = SavedLayer {
            digest: "sha256:l".into(),
            offset: 100,
            size: data.len() as u64,
        };
        let image = SavedImage {
            file,
            config: Vec::new(),
            layers: vec![layer.clone(), layer],
        };
        let layers = image.compressed_layers().unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[0].digest, layers[1].digest, "not deterministic");
        let bytes = fs_err::read(&layers[0].file).unwrap();
        assert_eq!(layers[0].size, bytes.len() as u64);
        assert!(bytes.len() < data.len() / 10, "not compressed");
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(layers[0].digest, format!("sha256:{hex}"));
        let mut unzipped = Vec::new();
        GzDecoder::new(&bytes[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, data);
    }
}
