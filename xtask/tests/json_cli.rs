//! Every command's `--json` checked against its shape in `docs/json.md`: the documented schema is the tested one.

mod common;

use common::{shown, xtask};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The shapes of `docs/json.md`: fenced blocks tagged `lockstep:NAME` (a command's
/// output) or `lockstep-shape:NAME` (a shape the others name as `$NAME`).
fn shapes() -> HashMap<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/json.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let mut shapes = HashMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```json ") else {
            continue;
        };
        let (_, name) = info.split_once(':').expect("a shape names itself");
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let shape = serde_json::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("docs/json.md, shape {name}: {e}"));
        shapes.insert(name.to_string(), shape);
    }
    shapes
}

/// Checks JSON values against the shapes, as `docs/json.md` says to read them.
struct Schema {
    shapes: HashMap<String, Value>,
}

impl Schema {
    fn load() -> Schema {
        Schema { shapes: shapes() }
    }

    /// Checks the printed output of a command against the shape named `name`.
    fn assert_output(&self, name: &str, output: &std::process::Output) {
        let value: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", shown(output)));
        if let Err(why) = self.check(&self.shapes[name], &value, "$") {
            panic!("{name}: the output departs from docs/json.md at {why}");
        }
    }

    /// Where `value` departs from `shape`: a path into the value and what was expected there.
    fn check(&self, shape: &Value, value: &Value, path: &str) -> Result<(), String> {
        let mismatch = || Err(format!("{path}: expected {shape}, got {}", brief(value)));
        match shape {
            Value::String(leaf) => match leaf.split(" | ").any(|a| self.leaf(a, value)) {
                true => Ok(()),
                false => mismatch(),
            },
            Value::Array(items) => {
                let Value::Array(values) = value else {
                    return mismatch();
                };
                if items.len() == 1 {
                    for (i, value) in values.iter().enumerate() {
                        self.check(&items[0], value, &format!("{path}[{i}]"))?;
                    }
                    return Ok(());
                }
                if items.len() != values.len() {
                    return mismatch();
                }
                for (i, (item, value)) in items.iter().zip(values).enumerate() {
                    self.check(item, value, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::Object(fields) => {
                if let Some(Value::Array(alternatives)) = fields.get("one of") {
                    return match alternatives
                        .iter()
                        .any(|a| self.check(a, value, path).is_ok())
                    {
                        true => Ok(()),
                        false => mismatch(),
                    };
                }
                let Value::Object(object) = value else {
                    return mismatch();
                };
                if let Some(each) = fields.get("*") {
                    for (key, value) in object {
                        self.check(each, value, &format!("{path}.{key}"))?;
                    }
                    return Ok(());
                }
                self.fields(fields, object, path)
            }
            _ => panic!("{path}: {shape} is not a shape"),
        }
    }

    /// Every documented field present (unless optional), and no other.
    fn fields(
        &self,
        fields: &serde_json::Map<String, Value>,
        object: &serde_json::Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        for (name, shape) in fields {
            let (key, optional) = match name.strip_suffix('?') {
                Some(key) => (key, true),
                None => (name.as_str(), false),
            };
            match object.get(key) {
                Some(value) => self.check(shape, value, &format!("{path}.{key}"))?,
                None if optional => {}
                None => {
                    return Err(format!(
                        "{path}: no field `{key}` in {}",
                        brief(&json!(object))
                    ));
                }
            }
        }
        match object
            .keys()
            .find(|key| !fields.contains_key(*key) && !fields.contains_key(&format!("{key}?")))
        {
            Some(key) => Err(format!("{path}: undocumented field `{key}`")),
            None => Ok(()),
        }
    }

    fn leaf(&self, leaf: &str, value: &Value) -> bool {
        match leaf {
            "string" => value.is_string(),
            // 128-bit integers exceed serde_json's own integers and arrive as whole floats.
            "integer" => {
                value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "any" => true,
            quoted if quoted.starts_with('\'') => value.as_str() == Some(quoted.trim_matches('\'')),
            named if named.starts_with('$') => {
                let shape = self.shapes.get(&named[1..]).unwrap_or_else(|| {
                    panic!("docs/json.md names `{named}`, which it does not define")
                });
                self.check(shape, value, "").is_ok()
            }
            other => panic!("docs/json.md uses an unknown type `{other}`"),
        }
    }
}

/// A value cut short for a message.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A trap, a value, and a module wasmi skips (it has no GC).
const SCRIPT: &str = r#"(module
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))
(assert_return (invoke "div" (i32.const 1)) (i32.const 1))
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(module (type $point (struct (field i32))))
"#;

const TWO_ENGINES: [&str; 4] = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    let schema = Schema::load();
    let tally = json!({"engine": "wasmi", "passed": 1, "failed": 0, "skipped": 0, "aborted": null});
    let shape = &schema.shapes["diff-wast"]["engines"][0];
    assert!(schema.check(shape, &tally, "$").is_ok());
    let mut extra = tally.clone();
    extra["surprise"] = json!(1);
    assert!(
        schema
            .check(shape, &extra, "$")
            .unwrap_err()
            .contains("undocumented field `surprise`")
    );
    let mut missing = tally;
    missing.as_object_mut().unwrap().remove("skipped");
    assert!(
        schema
            .check(shape, &missing, "$")
            .unwrap_err()
            .contains("no field `skipped`")
    );
}

#[test]
fn diff_of_a_script_prints_the_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mixed.wast");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = xtask(
        &[
            &["diff", script.to_str().unwrap(), "--json"],
            &TWO_ENGINES[..],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    Schema::load().assert_output("diff-wast", &output);
}

#[test]
fn diff_of_a_module_prints_the_documented_json() {
    let engines = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-pulley",
    ];
    let output = xtask(
        &[
            &["diff", &fixture("uncaught_pair.wat"), "--json"],
            &engines[..],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    Schema::load().assert_output("diff-module", &output);
}

#[test]
fn diff_of_a_program_prints_the_documented_json() {
    let output = xtask(
        &[
            &["diff", &fixture("echo_stdin.wat"), "--json"],
            &TWO_ENGINES[..],
        ]
        .concat(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    Schema::load().assert_output("diff-program", &output);
}

#[test]
fn conformance_prints_the_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mixed.wast");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = dir.path().join("out");
    let suite = [
        "--suite",
        script.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = xtask(&[&["conformance"], &suite[..], &TWO_ENGINES[..]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    Schema::load().assert_output("conformance", &output);
}

#[test]
fn engines_prints_the_documented_json() {
    let output = xtask(&["engines", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    Schema::load().assert_output("engines", &output);
}

#[test]
fn aot_compat_prints_the_documented_json() {
    let output = xtask(&["aot-compat", "--json", "--self-test"]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    Schema::load().assert_output("aot-compat", &output);
}
