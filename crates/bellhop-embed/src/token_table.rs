//! A model's token embedding table, read row by row from the mapped weights file.
//!
//! The table is the largest single tensor of most embedding models (a third of MiniLM, most
//! of EmbeddingGemma). Copied into memory it would be resident whole, while a batch reads only
//! the rows of its tokens: mapped, only the pages of rows in use are, and the operating system
//! may drop them again under pressure.

use std::path::Path;

use candle_core::DType;
use candle_core::safetensors::MmapedSafetensors;

/// The embedding rows of one tensor of a safetensors file, scaled by a constant.
pub(crate) struct TokenTable {
    file: MmapedSafetensors,
    name: String,
    dtype: DType,
    vocab: usize,
    hidden: usize,
    scale: f32,
}

impl std::fmt::Debug for TokenTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTable")
            .field("name", &self.name)
            .field("dtype", &self.dtype)
            .field("vocab", &self.vocab)
            .field("hidden", &self.hidden)
            .finish_non_exhaustive()
    }
}

impl TokenTable {
    /// Maps `name`, a `(vocab, hidden)` tensor of f32, f16 or bf16, in the file at `path`;
    /// rows are multiplied by `scale` as they are read.
    pub(crate) fn open(
        path: &Path,
        name: &str,
        vocab: usize,
        hidden: usize,
        scale: f32,
    ) -> candle_core::Result<Self> {
        // SAFETY: the file is memory-mapped read-only; like every mmap user we rely on nobody
        // truncating the model file while it is loaded.
        let file = unsafe { MmapedSafetensors::new(path)? };
        let view = file.get(name)?;
        let dtype = DType::try_from(view.dtype())?;
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16)
            || view.shape() != [vocab, hidden]
        {
            candle_core::bail!(
                "{name} in {} is {:?} {:?}, expected f32, f16 or bf16 [{vocab}, {hidden}]",
                path.display(),
                view.dtype(),
                view.shape()
            );
        }
        Ok(Self {
            file,
            name: name.to_string(),
            dtype,
            vocab,
            hidden,
            scale,
        })
    }

    /// The width of a row.
    pub(crate) fn hidden(&self) -> usize {
        self.hidden
    }

    /// The scaled row of every id, `(ids, hidden)` row-major, in f32.
    pub(crate) fn gather(&self, ids: &[u32]) -> candle_core::Result<Vec<f32>> {
        let view = self.file.get(&self.name)?;
        let table = view.data();
        let width = self.dtype.size_in_bytes();
        let row_bytes = self.hidden * width;
        let scale = self.scale;
        let mut out = Vec::with_capacity(ids.len() * self.hidden);
        for id in ids {
            let id = *id as usize;
            if id >= self.vocab {
                candle_core::bail!("token id {id} is outside the vocabulary of {}", self.vocab);
            }
            let row = table[id * row_bytes..(id + 1) * row_bytes].chunks_exact(width);
            match self.dtype {
                DType::F16 => {
                    out.extend(row.map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32() * scale))
                }
                DType::BF16 => out
                    .extend(row.map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32() * scale)),
                _ => out.extend(row.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * scale)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// A file holding a 4×3 table of `dtype`, rows `[10i, 10i + 1, 10i + 2]`.
    fn table_file(dir: &Path, dtype: DType) -> std::path::PathBuf {
        let values: Vec<f32> = (0..4)
            .flat_map(|row| (0..3).map(move |column| (row * 10 + column) as f32))
            .collect();
        let table = Tensor::from_vec(values, (4, 3), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let path = dir.join(format!("{dtype:?}.safetensors"));
        candle_core::safetensors::save(
            &std::collections::HashMap::from([("embeddings.weight".to_string(), table)]),
            &path,
        )
        .unwrap();
        path
    }

    #[test]
    fn rows_are_read_in_any_float_type_and_scaled() {
        let dir = tempfile::tempdir().unwrap();
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let table = TokenTable::open(
                &table_file(dir.path(), dtype),
                "embeddings.weight",
                4,
                3,
                0.5,
            )
            .unwrap();
            assert_eq!(table.hidden(), 3);
            assert_eq!(
                table.gather(&[2, 0, 2]).unwrap(),
                [10.0, 10.5, 11.0, 0.0, 0.5, 1.0, 10.0, 10.5, 11.0],
                "{dtype:?}"
            );
            let err = table.gather(&[4]).unwrap_err().to_string();
            assert!(
                err.contains("token id 4 is outside the vocabulary of 4"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_table_of_another_shape_or_type_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_file(dir.path(), DType::F32);
        let err = TokenTable::open(&path, "embeddings.weight", 5, 3, 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("embeddings.weight") && err.contains("[5, 3]"),
            "{err}"
        );
        let path = table_file(dir.path(), DType::U8);
        let err = TokenTable::open(&path, "embeddings.weight", 4, 3, 1.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected f32, f16 or bf16"), "{err}");
    }
}
