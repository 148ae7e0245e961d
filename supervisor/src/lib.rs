//! supervisor: decode → policy → act → reply.
pub mod resolve;
