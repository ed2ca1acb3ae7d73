//! The document size cap (`max_file_bytes`), checked wherever the size is known before the
//! bytes are read: a local file's metadata, an S3 object's HEAD and GET, an upload.

use crate::{Error, Result};

/// `TooLarge` when `size_bytes` is over `max_bytes`.
pub fn check_size(size_bytes: u64, max_bytes: u64) -> Result<()> {
    if size_bytes > max_bytes {
        return Err(Error::TooLarge {
            size_bytes,
            limit_bytes: max_bytes,
        });
    }
    Ok(())
}
