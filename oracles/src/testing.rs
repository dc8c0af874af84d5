//! Test helpers shared by every engine's smoke test.

use crate::engine::{Engine, Limits};
use crate::outcome::{Heap, Outcome, Ref, Resource, TrapCode, Value};
use std::time::Duration;

/// Encodes a module written in the text format.
pub fn wat(text: &str) -> Vec<u8> {
    let buf = wast::parser::ParseBuffer::new(text).expect("lexing test module");
    let mut module: wast::Wat = wast::parser::parse(&buf).expect("parsing test module");
    module.encode().expect("encoding test module")
}

const SMOKE: &str = r#"(module
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "global_i32" (global $g i32))
  (global (export "answer") i32 (i32.const 42))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "imported") (result i32) (call $print (global.get $g)) (global.get $g))
  (func (export "spin") (loop (br 0)))
  (func (export "recurse") (call 5))
  (func (export "id") (param funcref) (result funcref) (local.get 0)))"#;

/// What every engine must do: values, traps, imports, time and stack limits.
pub fn check_common_behaviour(engine: &dyn Engine) {
    let limits = Limits {
        call_time: Duration::from_millis(50),
        ..Limits::default()
    };
    let mut session = engine.session(&limits);
    let module = session
        .compile(&wat(SMOKE))
        .expect("the smoke module compiles");
    let instance = session.instantiate(module).expect("the smoke module links");
    let call = |session: &mut Box<dyn crate::Session>, name: &str, args: &[Value]| {
        session.invoke(instance, name, args)
    };
    assert_eq!(
        call(&mut session, "add", &[Value::I32(2), Value::I32(3)]),
        Outcome::Values(vec![Value::I32(5)])
    );
    assert!(matches!(
        call(&mut session, "div", &[Value::I32(1), Value::I32(0)]),
        Outcome::Trap {
            code: TrapCode::IntegerDivideByZero,
            ..
        }
    ));
    assert_eq!(
        call(&mut session, "imported", &[]),
        Outcome::Values(vec![Value::I32(666)])
    );
    assert!(matches!(
        call(&mut session, "spin", &[]),
        Outcome::Exhausted(Resource::Time | Resource::Fuel)
    ));
    assert_eq!(
        call(&mut session, "recurse", &[]),
        Outcome::Exhausted(Resource::Stack)
    );
    let null = Value::Ref(Ref::Null(Heap::Func));
    assert_eq!(
        call(&mut session, "id", std::slice::from_ref(&null)),
        Outcome::Values(vec![null])
    );
    assert_eq!(
        session.global(instance, "answer"),
        Outcome::Values(vec![Value::I32(42)])
    );
    let missing = wat(r#"(module (import "spectest" "nope" (func)))"#);
    let missing = session.compile(&missing).expect("valid module");
    assert!(matches!(
        session.instantiate(missing),
        Err(Outcome::Unlinkable(_))
    ));
    assert!(matches!(
        session.compile(b"\0asm\x01\0\0\0\x01"),
        Err(Outcome::Invalid(_))
    ));
}
