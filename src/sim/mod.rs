//! The embedded SignalDock-like simulator.
