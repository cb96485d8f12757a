//! MRT (RFC 6396): reading and writing routing table dumps and message logs.
