//! BGP-4 wire codec (RFC 4271 and its extensions).
#![warn(missing_docs)]
