//! Routing information bases: Adj-RIB-In, Loc-RIB, Adj-RIB-Out, best path, reflection, policy.
