//! Topology builder and end-to-end tests (work in progress).
