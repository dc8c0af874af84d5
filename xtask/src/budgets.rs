//! `--compile-time`, `--instantiate-time`, `--call-time`, `--fuel`, `--memory`: the budgets of
//! `oracles::Limits` on the command lines of `diff`, `fuzz`, `conformance` and `bench programs`.

use anyhow::bail;
use oracles::Limits;
use std::time::Duration;

/// Budgets the user sets; each one not given keeps the command's default.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BudgetArgs {
    /// Seconds one compilation may take (an Asyncify tier's instrumentation included).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub compile_time: Option<f64>,
    /// Seconds one instantiation may take (loading an AOT artifact, the start function).
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub instantiate_time: Option<f64>,
    /// Seconds one call may take.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub call_time: Option<f64>,
    /// Fuel one call may burn on wasmi, deterministically (about one unit per instruction; default:
    /// none, wasmi keeps to the call time like every other tier).
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Largest linear memory, in MiB.
    #[arg(long, value_name = "MIB")]
    pub memory: Option<usize>,
}

impl BudgetArgs {
    /// `defaults` with the budgets the user gave.
    pub fn apply(&self, defaults: Limits) -> anyhow::Result<Limits> {
        let seconds = |flag: &str, given: Option<f64>, default: Duration| match given {
            None => Ok(default),
            Some(secs) => match Duration::try_from_secs_f64(secs) {
                Ok(duration) => Ok(duration),
                Err(_) => bail!("--{flag} {secs}: expected a number of seconds, 0 or more"),
            },
        };
        let memory_bytes = match self.memory {
            None => defaults.memory_bytes,
            Some(mib) => match mib.checked_mul(1 << 20) {
                Some(bytes) => bytes,
                None => bail!("--memory {mib}: more MiB than this machine can address"),
            },
        };
        Ok(Limits {
            compile_time: seconds("compile-time", self.compile_time, defaults.compile_time)?,
            instantiate_time: seconds(
                "instantiate-time",
                self.instantiate_time,
                defaults.instantiate_time,
            )?,
            call_time: seconds("call-time", self.call_time, defaults.call_time)?,
            fuel: self.fuel.or(defaults.fuel),
            memory_bytes,
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_budgets_replace_the_defaults_and_the_others_stay() {
        let args = BudgetArgs {
            compile_time: Some(90.5),
            fuel: Some(1_000),
            memory: Some(16),
            ..BudgetArgs::default()
        };
        let limits = args.apply(Limits::fuzzing()).unwrap();
        assert_eq!(limits.compile_time, Duration::from_secs_f64(90.5));
        assert_eq!(limits.fuel, Some(1_000));
        assert_eq!(limits.memory_bytes, 16 << 20);
        assert_eq!(limits.call_time, Limits::fuzzing().call_time);
        assert!(limits.host_functions);
    }

    #[test]
    fn a_negative_time_is_refused_with_its_flag() {
        let args = BudgetArgs {
            call_time: Some(-1.0),
            ..BudgetArgs::default()
        };
        let error = args.apply(Limits::default()).unwrap_err().to_string();
        assert!(error.contains("--call-time -1"), "{error}");
    }
}
