//! One classification for a module's calls and a program's runs alike: leave out the engines whose
//! result says nothing about the Wasm, group the others into classes of equal results, majority first.

use crate::outcome::{Outcome, Resource};

/// One engine's result, as the classification sees it.
pub trait Contender {
    fn engine(&self) -> &str;
    /// The outcome the result ended with; `None` for a program that exited.
    fn outcome(&self) -> Option<&Outcome>;
}

/// The results that say something about the Wasm: an engine that cannot
/// run it, or whose harness failed, takes no part in the comparison.
pub fn ran<T: Contender>(results: &[T]) -> Vec<&T> {
    let says_nothing =
        |o: &Outcome| matches!(o, Outcome::Unsupported(_) | Outcome::HarnessFailed(_));
    let ran = results
        .iter()
        .filter(|r| !r.outcome().is_some_and(says_nothing));
    ran.collect()
}

/// The results of `ran` to compare, or why nothing can be concluded. Stack
/// depth, fuel, memory and time limits legitimately differ between engines:
/// an engine that ran out is left out (with whatever it did on the way), the
/// others are still compared.
pub fn finished<T: Contender>(ran: Vec<&T>) -> Result<Vec<&T>, String> {
    let (exhausted, finished): (Vec<&T>, Vec<&T>) = ran
        .into_iter()
        .partition(|r| matches!(r.outcome(), Some(Outcome::Exhausted(_))));
    if finished.len() >= 2 {
        return Ok(finished);
    }
    if exhausted.is_empty() {
        return Err("fewer than two engines could run it".to_string());
    }
    let mut resources: Vec<&str> = exhausted
        .iter()
        .filter_map(|r| match r.outcome() {
            Some(Outcome::Exhausted(resource)) => Some(resource_name(*resource)),
            _ => None,
        })
        .collect();
    resources.dedup();
    Err(format!(
        "{} ran out of {}",
        engines(&exhausted).join(", "),
        resources.join(", ")
    ))
}

fn resource_name(resource: Resource) -> &'static str {
    match resource {
        Resource::Stack => "stack",
        Resource::Fuel => "fuel",
        Resource::Memory => "memory",
        Resource::Time => "time",
        Resource::Output => "output",
    }
}

/// Groups results into classes of equal ones, the largest first; on a tie,
/// the class holding the earlier result leads (so the first engine's class
/// is the majority of two).
pub fn classes<'a, T>(results: &[&'a T], same: impl Fn(&T, &T) -> bool) -> Vec<Vec<&'a T>> {
    let mut classes: Vec<Vec<&T>> = Vec::new();
    for result in results {
        match classes.iter_mut().find(|class| same(class[0], result)) {
            Some(class) => class.push(result),
            None => classes.push(vec![result]),
        }
    }
    classes.sort_by_key(|class| std::cmp::Reverse(class.len()));
    classes
}

/// The engines of the majority class, and those of every other class.
pub fn split<T: Contender>(classes: &[Vec<&T>]) -> (Vec<String>, Vec<String>) {
    let minority: Vec<&T> = classes[1..].iter().flatten().copied().collect();
    (engines(&classes[0]), engines(&minority))
}

fn engines<T: Contender>(results: &[&T]) -> Vec<String> {
    results.iter().map(|r| r.engine().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::TrapCode;

    impl Contender for (&str, Outcome) {
        fn engine(&self) -> &str {
            self.0
        }
        fn outcome(&self) -> Option<&Outcome> {
            Some(&self.1)
        }
    }

    #[test]
    fn the_largest_class_leads_and_a_tie_goes_to_the_first_engine() {
        let trap = Outcome::trap(TrapCode::Unreachable, "x");
        let results = [
            ("a", Outcome::Values(Vec::new())),
            ("b", trap.clone()),
            ("c", trap),
            ("d", Outcome::Unsupported("no".into())),
        ];
        let ran = ran(&results);
        assert_eq!(ran.len(), 3, "an unsupported engine takes no part");
        let same = |x: &(&str, Outcome), y: &(&str, Outcome)| x.1 == y.1;
        let (majority, minority) = split(&classes(&ran, same));
        assert_eq!(
            (majority, minority),
            (vec!["b".into(), "c".into()], vec!["a".into()])
        );
        let (majority, _) = split(&classes(&ran[..2], same));
        assert_eq!(majority, ["a"]);
    }

    #[test]
    fn fewer_than_two_finished_is_inconclusive_naming_what_ran_out() {
        let results = [
            ("a", Outcome::Values(Vec::new())),
            ("b", Outcome::Exhausted(Resource::Stack)),
            ("c", Outcome::Exhausted(Resource::Stack)),
        ];
        assert_eq!(
            finished(ran(&results)).unwrap_err(),
            "b, c ran out of stack"
        );
        let alone = finished(ran(&results[..1])).unwrap_err();
        assert_eq!(alone, "fewer than two engines could run it");
    }
}
