//! Object storage port.
