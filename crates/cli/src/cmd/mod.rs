//! One module per command group.

pub mod batch;
pub mod endpoint;
pub mod serve;
pub mod token;
pub mod user;
pub mod verify;
