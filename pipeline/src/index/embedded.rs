//! Embedded on-disk vector index.
