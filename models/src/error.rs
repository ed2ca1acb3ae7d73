use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    #[error("model folder {path}: {message}")]
    ModelFiles { path: String, message: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model input: {0}")]
    Input(String),
    #[error("device: {0}")]
    Device(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Model errors are about the model or its files, not the document: retrying will not help,
    /// except for I/O, which may be transient.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(_))
    }
}
