//! Sources: the async tasks that talk HTTP to the server and turn what they see into observations.

pub mod backoff;
pub mod lines;
