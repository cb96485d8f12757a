//! Session tests: deterministic, on a virtual clock, no sockets.

mod collision;
mod fsm_connect;
mod fsm_open;
mod gr;
mod harness;
mod open;
mod pair;
mod update;
