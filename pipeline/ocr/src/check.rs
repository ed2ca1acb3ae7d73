//! Configuration, and the start-up check: does the library load, is every language there.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::OcrError;
use crate::ffi::TessLib;

/// Library names tried, in order, when `OcrConfig::lib_path` is `None` (the loader's search
/// path: `LD_LIBRARY_PATH`, ld.so.cache). The versioned name first: the unversioned symlink
/// only exists where `libtesseract-dev` is installed.
pub const DEFAULT_LIB_NAMES: [&str; 2] = ["libtesseract.so.5", "libtesseract.so"];

/// Tessdata directories tried, in order, when `OcrConfig::tessdata_dir` is `None` and
/// `$TESSDATA_PREFIX` is unset or missing: Debian/Ubuntu's Tesseract 5 and 4, then the usual
/// locations of other distributions and source builds.
pub const DEFAULT_TESSDATA_DIRS: [&str; 4] = [
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
];

/// Environment the process that runs OCR should start with. Tesseract's Debian build uses
/// OpenMP (libtesseract links libgomp), which by default starts a thread per core inside
/// every engine; with one engine per worker process that oversubscribes the CPUs. libgomp reads
/// the variable when it is loaded, so set it on the child process's `Command` (before the
/// library is `dlopen`ed): `Command::envs(docfleet_ocr::RECOMMENDED_ENV)`.
pub const RECOMMENDED_ENV: [(&str, &str); 1] = [("OMP_THREAD_LIMIT", "1")];

/// How to find Tesseract and which languages to load.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OcrConfig {
    /// Tesseract syntax: "eng", "eng+deu", "chi_sim".
    pub languages: String,
    /// `None`: `$TESSDATA_PREFIX`, then [`DEFAULT_TESSDATA_DIRS`] (the first that exists).
    pub tessdata_dir: Option<PathBuf>,
    /// `None`: [`DEFAULT_LIB_NAMES`] through the loader's search path.
    pub lib_path: Option<PathBuf>,
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig {
            languages: "eng".to_owned(),
            tessdata_dir: None,
            lib_path: None,
        }
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OcrInfo {
    /// `TessVersion()`, e.g. "5.3.0".
    pub version: String,
    /// The tessdata directory in use.
    pub tessdata_dir: PathBuf,
    /// The configured languages, split on '+'.
    pub languages: Vec<String>,
    /// `$OMP_THREAD_LIMIT` of this process when checked. `None`: Tesseract's OpenMP may start
    /// a thread per core in every engine (2-10x slower per page on a busy 2-core machine,
    /// measured); worth a start-up warning. See [`RECOMMENDED_ENV`].
    pub omp_thread_limit: Option<String>,
}

/// Checks that the library loads and every language's `<lang>.traineddata` exists, without
/// initialising an engine (cheap: what the worker calls at start-up).
pub fn check(config: &OcrConfig) -> Result<OcrInfo, OcrError> {
    load(config).map(|(_, info)| info)
}

/// [`check`], keeping the loaded library for an engine.
pub(crate) fn load(config: &OcrConfig) -> Result<(TessLib, OcrInfo), OcrError> {
    let languages = parse_languages(&config.languages)?;
    let lib = open_library(config.lib_path.as_deref())?;
    let version = lib.version();
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if !matches!(major, Some(4 | 5)) {
        return Err(OcrError::Unavailable(format!(
            "Tesseract {version:?} is not supported (docfleet needs Tesseract 4 or 5): install it \
             with `apt-get install tesseract-ocr` (Debian/Ubuntu) or pass --ocr off"
        )));
    }
    let tessdata_dir = match &config.tessdata_dir {
        Some(dir) => dir.clone(),
        None => find_tessdata(std::env::var_os("TESSDATA_PREFIX").as_deref()).ok_or_else(|| {
            OcrError::Unavailable(format!(
                "Tesseract language data not found (looked in $TESSDATA_PREFIX, {}): install \
                 `{}` (Debian/Ubuntu) or set the tessdata directory",
                DEFAULT_TESSDATA_DIRS.join(", "),
                languages
                    .iter()
                    .map(|l| debian_package(l))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        })?,
    };
    for language in &languages {
        if !tessdata_dir
            .join(format!("{language}.traineddata"))
            .is_file()
        {
            return Err(OcrError::MissingLanguage {
                language: language.clone(),
                tessdata_dir,
                package: debian_package(language),
            });
        }
    }
    Ok((
        lib,
        OcrInfo {
            version,
            tessdata_dir,
            languages,
            omp_thread_limit: std::env::var("OMP_THREAD_LIMIT").ok(),
        },
    ))
}

fn open_library(path: Option<&Path>) -> Result<TessLib, OcrError> {
    let names: Vec<&OsStr> = match path {
        Some(p) => vec![p.as_os_str()],
        None => DEFAULT_LIB_NAMES.iter().map(OsStr::new).collect(),
    };
    let mut reasons = Vec::new();
    for name in &names {
        match TessLib::open(name) {
            Ok(lib) => return Ok(lib),
            Err(e) => reasons.push(e),
        }
    }
    let shown = path.map_or_else(
        || DEFAULT_LIB_NAMES[0].to_owned(),
        |p| p.display().to_string(),
    );
    Err(OcrError::Unavailable(format!(
        "Tesseract not found ({shown}): install it with `apt-get install tesseract-ocr` \
         (Debian/Ubuntu) or pass --ocr off [{}]",
        reasons.join("; ")
    )))
}

/// `$TESSDATA_PREFIX` (Tesseract 4+ semantics: the tessdata directory itself), then the
/// defaults; the first directory that exists.
fn find_tessdata(prefix: Option<&OsStr>) -> Option<PathBuf> {
    prefix
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(DEFAULT_TESSDATA_DIRS.iter().map(PathBuf::from))
        .find(|d| d.is_dir())
}

/// Splits and validates "eng+deu": each code is 3+ of `[a-z_]` (`chi_sim`, `frk`).
pub(crate) fn parse_languages(languages: &str) -> Result<Vec<String>, OcrError> {
    let parts: Vec<String> = languages.split('+').map(str::to_owned).collect();
    let valid = |l: &String| l.len() >= 3 && l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if parts.iter().all(valid) {
        Ok(parts)
    } else {
        Err(OcrError::InvalidLanguages(languages.to_owned()))
    }
}

/// Debian/Ubuntu's package for a language: `chi_sim` -> `tesseract-ocr-chi-sim`.
pub fn debian_package(language: &str) -> String {
    format!(
        "tesseract-ocr-{}",
        language.to_ascii_lowercase().replace('_', "-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(parse_languages("eng").ok(), Some(vec!["eng".to_owned()]));
        assert_eq!(
            parse_languages("eng+chi_sim").ok(),
            Some(vec!["eng".to_owned(), "chi_sim".to_owned()])
        );
        for bad in [
            "", "en", "eng+", "+eng", "Eng", "eng deu", "eng+de", "../x", "eng\0",
        ] {
            assert!(
                matches!(parse_languages(bad), Err(OcrError::InvalidLanguages(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn packages() {
        assert_eq!(debian_package("deu"), "tesseract-ocr-deu");
        assert_eq!(debian_package("chi_sim"), "tesseract-ocr-chi-sim");
    }

    #[test]
    fn tessdata_search_order() {
        let tmp = std::env::temp_dir();
        assert_eq!(find_tessdata(Some(tmp.as_os_str())), Some(tmp));
        let missing = OsStr::new("/nonexistent/tessdata");
        let fallback = find_tessdata(Some(missing));
        assert_ne!(
            fallback.as_deref(),
            Some(Path::new("/nonexistent/tessdata"))
        );
    }

    #[test]
    fn invalid_languages_checked_first() {
        let config = OcrConfig {
            languages: "EN".into(),
            lib_path: Some("/nonexistent/libtesseract.so".into()),
            ..OcrConfig::default()
        };
        assert!(matches!(check(&config), Err(OcrError::InvalidLanguages(_))));
    }
}
