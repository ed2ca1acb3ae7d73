//! The extract lane: bytes and a media type in, pages of text out.
