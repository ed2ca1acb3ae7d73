//! How documents are processed: chunking, limits, embedding batches, extraction and OCR.

use clap::Args;
use serde::Serialize;

/// How documents are processed.
#[derive(Args, Debug, Clone, Serialize)]
pub struct PipelineOpts {
    /// Tokens per chunk, special tokens included.
    #[arg(long, env = "DOCFLEET_CHUNK_MAX_TOKENS", default_value_t = 256)]
    pub chunk_max_tokens: usize,
    /// Tokens shared by consecutive chunks.
    #[arg(long, env = "DOCFLEET_CHUNK_OVERLAP_TOKENS", default_value_t = 32)]
    pub chunk_overlap_tokens: usize,
    /// Larger files fail without being read.
    #[arg(long, env = "DOCFLEET_MAX_FILE_BYTES", default_value_t = 100 * 1024 * 1024)]
    pub max_file_bytes: u64,
    /// Documents with more pages fail before extraction.
    #[arg(long, env = "DOCFLEET_MAX_PAGES", default_value_t = 5000)]
    pub max_pages: u64,
    /// Tokens per forward pass of the model: real tokens on the CPU encoder (no padding),
    /// padded tokens (texts × longest text) on candle's.
    #[arg(long, env = "DOCFLEET_EMBED_BATCH_TOKENS", default_value_t = 4096)]
    pub embed_batch_tokens: usize,
    /// Documents in flight at once (extraction of the next overlaps embedding of the current).
    #[arg(long, env = "DOCFLEET_CONCURRENCY", default_value_t = 4)]
    pub concurrency: usize,
    /// Child processes that extract documents, one document each at a time (a crash or hang
    /// fails only that document). 0 extracts inside this process: no isolation, for debugging.
    #[arg(long, env = "DOCFLEET_EXTRACT_PROCESSES", default_value_t = 2)]
    pub extract_processes: usize,
    /// A document whose extraction takes longer fails and its extractor process is killed.
    #[arg(long, env = "DOCFLEET_EXTRACT_TIMEOUT_SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub extract_timeout_secs: u64,
    #[command(flatten)]
    pub ocr: OcrOpts,
}

/// Optical character recognition (Tesseract) of image files and scanned PDF pages.
#[derive(Args, Debug, Clone, Serialize)]
pub struct OcrOpts {
    /// `auto`: image files and PDF pages without a text layer; `force`: every PDF page too;
    /// `off`: none (images and scanned PDFs fail).
    #[arg(long = "ocr", env = "DOCFLEET_OCR", value_enum, default_value_t = OcrModeOpt::Auto)]
    pub mode: OcrModeOpt,
    /// Tesseract languages, joined by `+` (`eng+deu`); each needs its traineddata
    /// (Debian: tesseract-ocr-<lang>). Checked at start.
    #[arg(long, env = "DOCFLEET_OCR_LANGUAGES", default_value = "eng")]
    pub ocr_languages: String,
    /// Resolution PDF pages are rendered at for OCR.
    #[arg(long, env = "DOCFLEET_OCR_DPI", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(72..=1200))]
    pub ocr_dpi: u32,
    /// Pixels of one page: a rendered PDF page is scaled down to fit, a larger image fails.
    #[arg(long, env = "DOCFLEET_OCR_MAX_PIXELS", default_value_t = 40_000_000)]
    pub ocr_max_pixels: u64,
    /// Recognition of one page that takes longer fails the document.
    #[arg(long, env = "DOCFLEET_OCR_PAGE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ocr_page_timeout_secs: u64,
    /// Pages of one document that may need OCR; more fail the document before any is read.
    #[arg(long, env = "DOCFLEET_OCR_MAX_PAGES", default_value_t = 1000)]
    pub ocr_max_pages: u64,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrModeOpt {
    Off,
    Auto,
    Force,
}

impl From<OcrModeOpt> for docfleet_pipeline::extract::OcrMode {
    fn from(mode: OcrModeOpt) -> Self {
        use docfleet_pipeline::extract::OcrMode;
        match mode {
            OcrModeOpt::Off => OcrMode::Off,
            OcrModeOpt::Auto => OcrMode::Auto,
            OcrModeOpt::Force => OcrMode::Force,
        }
    }
}

impl PipelineOpts {
    /// What each document's extraction gets, unless a tenant profile changes it.
    pub fn extract_options(&self) -> docfleet_pipeline::extract::ExtractOptions {
        docfleet_pipeline::extract::ExtractOptions {
            max_pages: self.max_pages,
            ocr: self.ocr.settings(),
        }
    }
}

impl OcrOpts {
    pub fn settings(&self) -> docfleet_pipeline::extract::OcrSettings {
        use docfleet_pipeline::extract::OcrSettings;
        OcrSettings {
            mode: self.mode.into(),
            languages: self.ocr_languages.clone(),
            dpi: self.ocr_dpi,
            max_pixels: self.ocr_max_pixels,
            page_timeout_secs: self.ocr_page_timeout_secs,
            max_pages: self.ocr_max_pages,
        }
    }
}
