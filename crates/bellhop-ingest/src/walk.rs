//! Finding the files to ingest.

use std::path::{Path, PathBuf};

use crate::error::{IngestError, Result};
use bellhop_readers::Format;

/// A file to ingest and the name it is known by in the collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its path relative to the directory it was found in (or its file name), with `/`
    /// separators: the stable id of its documents across runs and machines.
    pub name: String,
    /// How to read it.
    pub format: Format,
}

/// Walks `paths` (files and directories) in a stable order. Files we cannot read are
/// returned in the second list, so the caller can warn about them; hidden files and
/// directories are skipped silently.
pub fn collect_files(paths: &[PathBuf]) -> Result<(Vec<SourceFile>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut unsupported = Vec::new();
    for root in paths {
        let metadata = std::fs::metadata(root).map_err(|source| IngestError::Io {
            path: root.clone(),
            source,
        })?;
        if metadata.is_file() {
            let name = root
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| root.to_string_lossy().into_owned());
            match Format::from_path(root) {
                Some(format) => files.push(SourceFile {
                    path: root.clone(),
                    name,
                    format,
                }),
                None => unsupported.push(root.clone()),
            }
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !is_hidden(entry.file_name()));
        for entry in walker {
            let entry = entry.map_err(|err| IngestError::Io {
                path: err.path().unwrap_or(root).to_path_buf(),
                source: err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("filesystem loop")),
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            match Format::from_path(path) {
                Some(format) => files.push(SourceFile {
                    path: path.to_path_buf(),
                    name: relative_name(root, path),
                    format,
                }),
                None => unsupported.push(path.to_path_buf()),
            }
        }
    }
    Ok((files, unsupported))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|name| name.starts_with('.'))
}

fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_in_order_and_reports_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for file in [
            "b/c/z.md",
            "a.txt",
            "b/menu.csv",
            "photo.jpg",
            ".git/x.md",
            ".hidden.md",
        ] {
            std::fs::write(root.join(file), "x").unwrap();
        }
        let (files, unsupported) = collect_files(&[root.to_path_buf()]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b/c/z.md", "b/menu.csv"]);
        assert_eq!(unsupported, vec![root.join("photo.jpg")]);
        let (files, _) = collect_files(&[root.join("b/menu.csv")]).unwrap();
        assert_eq!(files[0].name, "menu.csv");
        assert!(collect_files(&[root.join("missing")]).is_err());
    }
}
