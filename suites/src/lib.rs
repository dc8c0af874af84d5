//! lockstep's suites: the `.wast` driver, spec-suite discovery, per-engine expectations and the trial runner.

pub mod catalog;
pub mod driver;
pub mod expectations;
pub mod patterns;
pub mod runner;
pub mod script;
