//! Where things live, who the work is for and where the model runs: the options every command
//! shares (global flags). The fleet's models are in models.rs, storage and index in their files.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;

use super::index::QdrantOpts;
use super::storage::StorageOpts;

/// Where things live and who the work is for.
#[derive(Args, Debug, Clone, Serialize)]
pub struct CommonOpts {
    /// Data folder: the embedded index (index/) and the local object store (objects/).
    #[arg(
        long,
        env = "DOCFLEET_DATA_DIR",
        default_value = "./docfleet-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Model folder (config.json, model.safetensors, tokenizer.json, 1_Pooling/config.json).
    /// Default: the all-MiniLM-L6-v2 that ./scripts/setup installs in ~/.cache/docfleet.
    #[arg(long, env = "DOCFLEET_MODEL_DIR", global = true)]
    pub model_dir: Option<PathBuf>,
    /// More models a tenant profile may choose (`model = "<name>"`), as `name=folder` pairs
    /// separated by commas; `--model-dir` is the model named `default`. Each model's vectors
    /// live apart: `<data_dir>/index-<name>`, or the Qdrant collection `<collection>-<name>`.
    #[arg(long, env = "DOCFLEET_MODELS", value_delimiter = ',', global = true)]
    pub models: Vec<String>,
    /// Memory the loaded models may take together (their weights' size). A worker loads the
    /// models its tenants use on first use and unloads the least recently used idle one to make
    /// room; 0: no limit.
    #[arg(
        long,
        env = "DOCFLEET_MODEL_MEMORY_BUDGET_BYTES",
        default_value_t = 2 * 1024 * 1024 * 1024,
        global = true
    )]
    pub model_memory_budget_bytes: u64,
    /// How long a worker or API keeps a tenant's profile before reading it again: a new
    /// profile version applies fleet-wide within this time, without a restart.
    #[arg(
        long,
        env = "DOCFLEET_PROFILE_TTL_SECS",
        default_value_t = 5,
        global = true
    )]
    pub profile_ttl_secs: u64,
    /// The model these options are for (`None`: `default`); set by `for_model`, never a flag.
    #[arg(skip)]
    #[serde(skip)]
    pub model_name: Option<String>,
    /// Path of libpdfium.so. Default: ~/.cache/docfleet/pdfium/libpdfium.so (./scripts/setup).
    #[arg(long, env = "DOCFLEET_PDFIUM_LIB", global = true)]
    pub pdfium_lib: Option<PathBuf>,
    /// Path of libtesseract (OCR). Default: libtesseract.so.5 from the system's library path
    /// (Debian/Ubuntu `tesseract-ocr`, which ./scripts/setup installs).
    #[arg(long, env = "DOCFLEET_OCR_LIB", global = true)]
    pub ocr_lib: Option<PathBuf>,
    /// Tesseract's traineddata folder. Default: $TESSDATA_PREFIX, else the system's
    /// (/usr/share/tesseract-ocr/5/tessdata on Debian/Ubuntu).
    #[arg(long, env = "DOCFLEET_OCR_TESSDATA_DIR", global = true)]
    pub ocr_tessdata_dir: Option<PathBuf>,
    /// Tenant the documents belong to; every read is scoped to it.
    #[arg(
        long,
        env = "DOCFLEET_TENANT",
        default_value = "default",
        global = true
    )]
    pub tenant: String,
    /// Device for the model: auto (GPU when built with `cuda` and one is present), cpu, cuda[:N].
    #[arg(long, env = "DOCFLEET_DEVICE", default_value = "auto", global = true)]
    pub device: String,
    /// Threads of the CPU encoder, one batch each at a time; 0: one per core this process may
    /// use (its CPU affinity: `taskset -c 0` gives one).
    #[arg(
        long,
        env = "DOCFLEET_EMBED_THREADS",
        default_value_t = 0,
        global = true
    )]
    pub embed_threads: usize,
    /// Which encoder runs the model: `auto` (docfleet's CPU encoder on the CPU, candle on a GPU)
    /// or `candle` (candle's tensor ops on every device, for comparisons).
    #[arg(long, env = "DOCFLEET_EMBED_BACKEND", value_enum, default_value_t = EmbedBackend::Auto, global = true)]
    pub embed_backend: EmbedBackend,
    /// Arithmetic of the CPU encoder's linear layers: `auto` (int8 on a CPU with AVX512-VNNI,
    /// else bf16 with AVX512-BF16, else f32), `f32`, `bf16` or `int8`. Part of the pipeline
    /// version, so a change re-embeds each document on its next run; pin it in a fleet of mixed
    /// CPUs. An explicit low precision the CPU (or candle's encoder, the GPU's) lacks is an error.
    #[arg(long, env = "DOCFLEET_EMBED_PRECISION", value_enum, default_value_t = EmbedPrecisionOpt::Auto, global = true)]
    pub embed_precision: EmbedPrecisionOpt,
    #[command(flatten)]
    pub storage: StorageOpts,
    #[command(flatten)]
    pub index: QdrantOpts,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbedPrecisionOpt {
    Auto,
    F32,
    Bf16,
    Int8,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmbedBackend {
    Auto,
    Candle,
}

impl CommonOpts {
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(docfleet_models::default_model_dir)
    }

    pub fn pdfium_lib(&self) -> PathBuf {
        self.pdfium_lib.clone().unwrap_or_else(|| {
            docfleet_models::cache_dir()
                .join("pdfium")
                .join("libpdfium.so")
        })
    }

    /// Where Tesseract is, for the extractors.
    pub fn ocr_install(&self) -> docfleet_pipeline::extract::OcrInstall {
        docfleet_pipeline::extract::OcrInstall {
            lib_path: self.ocr_lib.clone(),
            tessdata_dir: self.ocr_tessdata_dir.clone(),
        }
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// The tenant, checked: it becomes an object key prefix, so only a safe alphabet.
    pub fn tenant(&self) -> Result<&str> {
        docfleet_core::tenant::validate_tenant(&self.tenant)?;
        Ok(&self.tenant)
    }

    pub fn device(&self) -> Result<docfleet_models::DeviceChoice> {
        use docfleet_models::DeviceChoice;
        Ok(match self.device.as_str() {
            "auto" => DeviceChoice::Auto,
            "cpu" => DeviceChoice::Cpu,
            "cuda" => DeviceChoice::Cuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(n)) => DeviceChoice::Cuda(n),
                _ => bail!("invalid device {other:?}: use auto, cpu, cuda or cuda:N"),
            },
        })
    }

    /// How the embedding model runs, with a forward pass of at most `max_batch_tokens` tokens.
    pub fn embedder_options(
        &self,
        max_batch_tokens: usize,
    ) -> Result<docfleet_models::EmbedderOptions> {
        Ok(docfleet_models::EmbedderOptions {
            max_batch_tokens,
            device: self.device()?,
            backend: match self.embed_backend {
                EmbedBackend::Auto => docfleet_models::Backend::Auto,
                EmbedBackend::Candle => docfleet_models::Backend::Candle,
            },
            threads: self.embed_threads,
            precision: match self.embed_precision {
                EmbedPrecisionOpt::Auto => docfleet_models::EmbedPrecision::Auto,
                EmbedPrecisionOpt::F32 => docfleet_models::EmbedPrecision::F32,
                EmbedPrecisionOpt::Bf16 => docfleet_models::EmbedPrecision::Bf16,
                EmbedPrecisionOpt::Int8 => docfleet_models::EmbedPrecision::Int8,
            },
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use clap::Parser;

    /// The common options alone, as the tests parse them.
    #[derive(Parser)]
    pub(in crate::settings) struct Cli {
        #[command(flatten)]
        pub common: CommonOpts,
    }

    #[test]
    fn tenant_and_device_are_validated() {
        let cli = Cli::parse_from(["x", "--tenant", "../etc", "--device", "gpu"]);
        assert!(cli.common.tenant().is_err());
        assert!(cli.common.device().is_err());
        let cli = Cli::parse_from(["x", "--tenant", "acme_1", "--device", "cuda:1"]);
        assert_eq!(cli.common.tenant().unwrap(), "acme_1");
        assert!(matches!(
            cli.common.device().unwrap(),
            docfleet_models::DeviceChoice::Cuda(1)
        ));
    }

    #[test]
    fn embed_precision_reaches_the_embedder_options() {
        let cli = Cli::parse_from(["x"]);
        let options = cli.common.embedder_options(4096).unwrap();
        assert_eq!(options.precision, docfleet_models::EmbedPrecision::Auto);
        for (flag, want) in [
            ("f32", docfleet_models::EmbedPrecision::F32),
            ("bf16", docfleet_models::EmbedPrecision::Bf16),
            ("int8", docfleet_models::EmbedPrecision::Int8),
        ] {
            let cli = Cli::parse_from(["x", "--embed-precision", flag]);
            assert_eq!(cli.common.embedder_options(1).unwrap().precision, want);
        }
        assert!(Cli::try_parse_from(["x", "--embed-precision", "fp16"]).is_err());
    }
}
