//! `--compile-time`, `--instantiate-time`, `--call-time`, `--fuel`, `--memory`: the budgets of
//! `oracles::Limits` on the command lines of `diff`, `fuzz`, `conformance` and `bench programs`,
//! and as every report shows them.

use anyhow::bail;
use oracles::Limits;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Budgets the user sets; each one not given keeps the command's default. A fuzz campaign's
/// checkpoint saves them, so that `--resume` runs under the same ones.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// These budgets, each one not given taken from `saved`.
    pub fn or(&self, saved: &BudgetArgs) -> BudgetArgs {
        BudgetArgs {
            compile_time: self.compile_time.or(saved.compile_time),
            instantiate_time: self.instantiate_time.or(saved.instantiate_time),
            call_time: self.call_time.or(saved.call_time),
            fuel: self.fuel.or(saved.fuel),
            memory: self.memory.or(saved.memory),
        }
    }

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

/// The one line atop a report that says what every run was allowed.
pub fn line(limits: &Limits) -> String {
    let fuel = limits
        .fuel
        .map_or("none (wasmi keeps to the call time)".to_string(), |fuel| {
            fuel.to_string()
        });
    format!(
        "budgets: compile {:?}, instantiate {:?}, call {:?}, fuel {fuel}, memory {} MiB\n",
        limits.compile_time,
        limits.instantiate_time,
        limits.call_time,
        limits.memory_bytes >> 20
    )
}

/// [`Limits`] in `--json`, as a reader sets them on the command line.
#[derive(Serialize)]
pub struct Budgets {
    compile_seconds: f64,
    instantiate_seconds: f64,
    call_seconds: f64,
    /// `null`: none; wasmi keeps to the call time.
    fuel: Option<u64>,
    memory_bytes: usize,
}

impl From<&Limits> for Budgets {
    fn from(limits: &Limits) -> Budgets {
        Budgets {
            compile_seconds: limits.compile_time.as_secs_f64(),
            instantiate_seconds: limits.instantiate_time.as_secs_f64(),
            call_seconds: limits.call_time.as_secs_f64(),
            fuel: limits.fuel,
            memory_bytes: limits.memory_bytes,
        }
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
    fn budgets_given_again_win_over_the_saved_ones_and_the_others_are_kept() {
        let saved = BudgetArgs {
            call_time: Some(0.5),
            fuel: Some(7),
            ..BudgetArgs::default()
        };
        let given = BudgetArgs {
            fuel: Some(9),
            memory: Some(4),
            ..BudgetArgs::default()
        };
        let merged = given.or(&saved);
        assert_eq!(merged.call_time, Some(0.5));
        assert_eq!(merged.fuel, Some(9));
        assert_eq!(merged.memory, Some(4));
        assert_eq!(merged.compile_time, None);
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
