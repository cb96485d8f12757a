//! route-reflector (work in progress: see the issue tracker).
#![warn(missing_docs)]
