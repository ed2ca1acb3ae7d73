//! The extractor: `extract_processes` child processes (`docfleet extract-worker`, served by
//! `crate::extractor_child`), or in this process when it is 0.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use docfleet_pipeline::extract::{
    DocumentExtractor, Extractor, ExtractorCommand, OCR_CHILD_ENV, PdfExtractor,
    ProcessPoolExtractor,
};

use crate::settings::{CommonOpts, PipelineOpts};

/// Extraction in `extract_processes` child processes (`docfleet extract-worker`), or in this
/// process when it is 0.
pub fn build_extractor(common: &CommonOpts, opts: &PipelineOpts) -> Result<Arc<dyn Extractor>> {
    let lib = common.pdfium_lib();
    let options = opts.extract_options();
    // Binding here too makes a missing or wrong libpdfium a startup error (exit 2) rather than
    // every PDF failing with the children's crash reports; it costs one bind (~tens of ms).
    let pdf = PdfExtractor::new(&lib)?;
    // The same for Tesseract and each language's traineddata (unless OCR is off).
    let install = common.ocr_install();
    if let Some(info) = install.check(&options.ocr)? {
        tracing::debug!(version = %info.version, tessdata = %info.tessdata_dir.display(), "OCR ready");
    }
    if opts.extract_processes == 0 {
        let extractor = DocumentExtractor::with_pdf(pdf, options).with_ocr_install(install);
        return Ok(Arc::new(extractor));
    }
    let exe = std::env::current_exe().context("locating the docfleet binary to run extractors")?;
    let utf8 = |path: &std::path::Path, what: &str| {
        path.to_str()
            .map(str::to_owned)
            .with_context(|| format!("the {what} path {} is not UTF-8", path.display()))
    };
    let mut args = vec![
        "extract-worker".to_owned(),
        "--pdfium-lib".to_owned(),
        utf8(&lib, "libpdfium")?,
        "--max-file-bytes".to_owned(),
        opts.max_file_bytes.to_string(),
    ];
    if let Some(path) = &install.lib_path {
        args.extend(["--ocr-lib".to_owned(), utf8(path, "libtesseract")?]);
    }
    if let Some(path) = &install.tessdata_dir {
        args.extend(["--ocr-tessdata-dir".to_owned(), utf8(path, "tessdata")?]);
    }
    let mut command = ExtractorCommand::new(exe, args);
    // Tesseract's OpenMP threads would fight the other children and the encoder for the cores
    // (pages 2-13x slower measured): one thread per child, parallelism comes from the children.
    let ocr_env = OCR_CHILD_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    command.env.extend(ocr_env);
    let pool = ProcessPoolExtractor::new(
        command,
        opts.extract_processes,
        Duration::from_secs(opts.extract_timeout_secs),
    )
    .with_options(options, opts.max_file_bytes);
    Ok(Arc::new(pool))
}
