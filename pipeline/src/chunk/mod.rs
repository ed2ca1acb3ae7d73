//! The chunk lane: pages in, token-bounded chunks out.
