//! docfleet's pipeline: the lanes a document goes through (extract, PII, chunk, embed, index)
//! and the ports (one trait per seam) with their adapters. The job message they run is
//! `docfleet_core::job`.
//!
//! Lanes: [`extract`] turns bytes into pages, [`pii`] counts or redacts personal data in them,
//! [`chunk`] cuts pages into token-bounded chunks, embedding lives in the `docfleet-models` crate
//! behind its `Embedder` trait, [`index`] stores vectors and answers searches ([`search`]).
//! [`store`] holds artifacts; [`source`] reads the documents (local files, S3). [`process`] runs
//! one document through the lanes; [`embed_lane`] shares the model among all in-flight documents.

pub mod artifacts;
pub mod chunk;
pub mod doc;
pub mod embed_lane;
pub mod error;
pub mod extract;
pub mod index;
pub mod pii;
pub mod process;
pub mod search;
pub mod size_cap;
pub mod source;
pub mod store;
pub mod version;

pub use doc::{Chunk, DocIdentity, Page};
pub use error::{Error, Result};
