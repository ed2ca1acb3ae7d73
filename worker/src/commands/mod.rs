//! One module per subcommand.

pub mod audit;
pub mod bench;
pub mod enqueue;
pub mod eval;
pub mod gc;
pub mod jobs;
pub mod keys;
pub mod redrive;
pub mod run;
pub mod search;
pub mod stats;
pub mod tenants;
pub mod worker;
