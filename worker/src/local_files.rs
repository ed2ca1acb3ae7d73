//! Finds the documents of a local batch run: files and folders (recursive), in a stable order.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// One file to process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceFile {
    /// As the user will recognise it (the path as given, joined with the walk).
    pub display: String,
    /// Canonical absolute path: the document's identity across runs and working dirs.
    pub path: PathBuf,
}

impl SourceFile {
    pub fn uri(&self) -> String {
        format!("file://{}", self.path.display())
    }

    pub fn file_name(&self) -> Option<String> {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    }
}

/// Expands `paths` into files: folders recursively (hidden entries skipped), sorted, deduplicated.
/// A path that does not exist is an error before any work starts.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for root in paths {
        let meta =
            std::fs::metadata(root).with_context(|| format!("{}: cannot read", root.display()))?;
        if meta.is_file() {
            files.push(source(root)?);
            continue;
        }
        if !meta.is_dir() {
            bail!("{}: not a file or folder", root.display());
        }
        let walk = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
        for entry in walk {
            let entry = entry.with_context(|| format!("walking {}", root.display()))?;
            if entry.file_type().is_file() {
                files.push(source(entry.path())?);
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn source(path: &Path) -> Result<SourceFile> {
    let abs = std::fs::canonicalize(path)
        .with_context(|| format!("{}: cannot resolve", path.display()))?;
    Ok(SourceFile {
        display: path.display().to_string(),
        path: abs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_folders_sorted_without_hidden_files_or_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
        for f in ["b.txt", "a.pdf", "sub/c.md", "sub/.git/x", ".hidden"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let files = discover(&[dir.path().to_owned(), dir.path().join("a.pdf")]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap()).collect();
        assert_eq!(names, ["a.pdf", "b.txt", "c.md"]);
        assert!(files[0].uri().starts_with("file:///"));
        assert!(discover(&[dir.path().join("missing")]).is_err());
    }
}
