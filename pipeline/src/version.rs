//! The pipeline version stored with every vector: when it changes, unchanged documents are
//! processed again (new model weights, other chunking settings, a new extraction format).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bump when extraction or payload semantics change in a way that needs re-processing.
pub const PIPELINE_FORMAT: u32 = 1;

/// `p<format>-<model_id>@<model_fingerprint>-<chunking>`.
pub fn pipeline_version(model_id: &str, model_fingerprint: &str, chunking: &str) -> String {
    format!("p{PIPELINE_FORMAT}-{model_id}@{model_fingerprint}-{chunking}")
}

/// A model fingerprint with the arithmetic its vectors were computed in, when that is not f32
/// (`…+int8`): vectors of another precision are other vectors, so a change re-embeds, while
/// f32 keeps the versions it always had.
pub fn with_precision(model_fingerprint: &str, precision: &str) -> String {
    match precision {
        "f32" => model_fingerprint.to_owned(),
        other => format!("{model_fingerprint}+{other}"),
    }
}

/// The version of a document processed with `tags`: the processor's, plus a short hash of
/// the tags when there are any (they are stored with every chunk, so new tags re-index it).
pub fn with_tags(
    pipeline_version: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> String {
    if tags.is_empty() {
        return pipeline_version.to_owned();
    }
    let mut h = Sha256::new();
    for (k, v) in tags {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("{pipeline_version}-t{}", &hex::encode(h.finalize())[..8])
}

/// Short hash of a model folder: its configs, tokenizer, and the weights file's length, header
/// and first and last MiB. Cheap at start-up even for large models, and it tells different
/// weights apart (fine-tunes change the tensor bytes the sample covers).
pub fn model_fingerprint(model_dir: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for name in [
        "config.json",
        "tokenizer.json",
        "1_Pooling/config.json",
        "sentence_bert_config.json",
    ] {
        match std::fs::read(model_dir.join(name)) {
            Ok(bytes) => h.update(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => h.update(b"-"),
            Err(e) => return Err(e),
        }
    }
    let mut weights = std::fs::File::open(model_dir.join("model.safetensors"))?;
    let len = weights.metadata()?.len();
    h.update(len.to_le_bytes());
    const SAMPLE: u64 = 1 << 20;
    let mut buf = Vec::new();
    (&mut weights).take(SAMPLE).read_to_end(&mut buf)?;
    h.update(&buf);
    if len > SAMPLE {
        weights.seek(SeekFrom::Start(len.saturating_sub(SAMPLE).max(SAMPLE)))?;
        buf.clear();
        weights.read_to_end(&mut buf)?;
        h.update(&buf);
    }
    Ok(hex::encode(h.finalize())[..12].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_with_weights() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("model.safetensors"), vec![1u8; 3 << 20]).unwrap();
        let a = model_fingerprint(dir.path()).unwrap();
        assert_eq!(a, model_fingerprint(dir.path()).unwrap());
        let mut w = vec![1u8; 3 << 20];
        *w.last_mut().unwrap() = 2;
        std::fs::write(dir.path().join("model.safetensors"), w).unwrap();
        assert_ne!(a, model_fingerprint(dir.path()).unwrap());
        assert!(pipeline_version("m", &a, "c").starts_with("p1-m@"));
        assert_eq!(with_precision(&a, "f32"), a);
        assert_eq!(with_precision(&a, "int8"), format!("{a}+int8"));
        assert_ne!(with_precision(&a, "bf16"), with_precision(&a, "int8"));
    }
}
