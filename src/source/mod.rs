//! Sources: async tasks that observe the server (or a recording) and send `Observation`s.

pub mod replay;
