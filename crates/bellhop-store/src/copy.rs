//! Copying collections between stores (embedded ⇄ PostgreSQL), vectors included.

use std::collections::HashMap;

use crate::collection::{IndexKind, NewDocument, SourceUpdate};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Documents read per page.
const PAGE: usize = 256;

/// What a copy wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Documents written.
    pub documents: usize,
    /// Chunks written.
    pub chunks: usize,
    /// Sources whose content hashes came along (re-ingesting them is skipped).
    pub sources: usize,
}

/// Copies collection `name` from `from` into `to`, where it must not exist yet: its
/// definition, documents, chunks with their vectors (nothing is embedded again) and the
/// content hashes of its sources. `index` replaces the definition's vector index choice
/// (a collection searched exactly on one machine may want HNSW on a shared database).
/// `progress` is told the documents and chunks written so far.
pub async fn copy_collection(
    from: &dyn Store,
    to: &dyn Store,
    name: &str,
    index: Option<IndexKind>,
    mut progress: impl FnMut(CopyReport),
) -> Result<CopyReport> {
    let info = from.collection(name).await?;
    let mut spec = info.spec.clone();
    if let Some(index) = index {
        spec.index = index;
    }
    let mut hashes: HashMap<String, String> = from
        .sources(name)
        .await?
        .into_iter()
        .map(|source| (source.name, source.content_hash))
        .collect();
    to.create_collection(spec).await?;
    let mut report = CopyReport::default();
    // Documents arrive grouped by source. A source with a recorded hash is written in one
    // call with its hash, since a write with a source replaces everything the source had;
    // other documents are written a page at a time.
    let mut group: Vec<NewDocument> = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = from
            .export_documents(
                name,
                after.as_ref().map(|(s, i)| (s.as_str(), i.as_str())),
                PAGE,
            )
            .await?;
        let last_page = page.len() < PAGE;
        if let Some(last) = page.last() {
            after = Some((last.source.clone(), last.id.clone()));
        }
        for document in page {
            if group
                .first()
                .is_some_and(|first| first.source != document.source)
            {
                flush(to, name, &mut group, &mut hashes, &mut report).await?;
                progress(report);
            }
            group.push(document);
            if group.len() >= PAGE && !hashes.contains_key(&group[0].source) {
                flush(to, name, &mut group, &mut hashes, &mut report).await?;
                progress(report);
            }
        }
        if last_page {
            break;
        }
    }
    flush(to, name, &mut group, &mut hashes, &mut report).await?;
    // Sources that were ingested but yielded no document keep their hash too.
    for (source, content_hash) in hashes.drain() {
        to.put_documents(
            name,
            Vec::new(),
            Some(SourceUpdate {
                name: source,
                content_hash,
            }),
        )
        .await?;
        report.sources += 1;
    }
    progress(report);
    let copied = to.collection(name).await?;
    if copied.documents != info.documents || copied.chunks != info.chunks {
        return Err(StoreError::Database(format!(
            "copy of {name:?} has {} documents and {} chunks, the source {} and {}",
            copied.documents, copied.chunks, info.documents, info.chunks
        )));
    }
    Ok(report)
}

async fn flush(
    to: &dyn Store,
    name: &str,
    group: &mut Vec<NewDocument>,
    hashes: &mut HashMap<String, String>,
    report: &mut CopyReport,
) -> Result<()> {
    let Some(first) = group.first() else {
        return Ok(());
    };
    let source = hashes
        .remove(&first.source)
        .map(|content_hash| SourceUpdate {
            name: first.source.clone(),
            content_hash,
        });
    report.sources += usize::from(source.is_some());
    let documents = std::mem::take(group);
    let receipt = to.put_documents(name, documents, source).await?;
    report.documents += receipt.documents;
    report.chunks += receipt.chunks;
    Ok(())
}
