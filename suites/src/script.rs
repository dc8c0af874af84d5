//! A `.wast` file turned into engine-independent commands: parsed once, modules encoded once, shared by every engine.

use crate::patterns::{Expected, FloatPattern, LanePattern, RefPattern};
use oracles::{Heap, Ref, Value};
use serde::{Deserialize, Serialize};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// A parsed script: what to do, in order, with source positions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Script {
    pub commands: Vec<Command>,
}

/// One directive, at a 1-based line and column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Command {
    pub line: u32,
    pub column: u32,
    pub kind: CommandKind,
}

/// A module as the script gives it: binary bytes, or why there are none.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ModuleBytes {
    Binary(#[serde(with = "oracles::hex::text")] Vec<u8>),
    /// Quoted text the text parser rejects (for `assert_malformed`, the expected result).
    MalformedText(String),
    /// Something lockstep does not run, such as a component.
    NotCore(String),
}

/// What an action does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Action {
    Invoke {
        instance: Option<String>,
        export: String,
        args: Vec<Value>,
    },
    Get {
        instance: Option<String>,
        global: String,
    },
    /// Instantiating a module inline (`assert_trap (module ...)`).
    Instantiate(ModuleBytes),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CommandKind {
    /// `module`: compile, and instantiate unless it is a `module definition`.
    Module {
        name: Option<String>,
        bytes: ModuleBytes,
        instantiate: bool,
    },
    /// `module instance $i $m`.
    Instance {
        instance: Option<String>,
        module: Option<String>,
    },
    Register {
        name: String,
        instance: Option<String>,
    },
    Action(Action),
    AssertReturn {
        action: Action,
        expected: Vec<Expected>,
    },
    AssertTrap {
        action: Action,
        message: String,
    },
    AssertExhaustion {
        action: Action,
        message: String,
    },
    AssertException {
        action: Action,
    },
    /// `assert_invalid` and `assert_malformed`: every engine must reject the module.
    AssertRejected {
        bytes: ModuleBytes,
        message: String,
        malformed: bool,
    },
    AssertUnlinkable {
        bytes: ModuleBytes,
        message: String,
    },
    /// `thread $t (shared (module $m)) ...`: its commands run on their own
    /// OS thread, in a fresh session that sees the shared instance `$m`.
    Thread {
        name: String,
        shared_module: Option<String>,
        commands: Vec<Command>,
    },
    /// `wait $t`: joins the thread.
    Wait {
        thread: String,
    },
    /// A directive lockstep does not run, and why.
    NotRun(String),
}

impl CommandKind {
    /// The directive's keyword, as a report names it.
    pub fn keyword(&self) -> &'static str {
        match self {
            CommandKind::Module { instantiate, .. } if *instantiate => "module",
            CommandKind::Module { .. } => "module definition",
            CommandKind::Instance { .. } => "module instance",
            CommandKind::Register { .. } => "register",
            CommandKind::Action(Action::Invoke { .. }) => "invoke",
            CommandKind::Action(Action::Get { .. }) => "get",
            CommandKind::Action(Action::Instantiate(_)) => "module",
            CommandKind::AssertReturn { .. } => "assert_return",
            CommandKind::AssertTrap { .. } => "assert_trap",
            CommandKind::AssertExhaustion { .. } => "assert_exhaustion",
            CommandKind::AssertException { .. } => "assert_exception",
            CommandKind::AssertRejected {
                malformed: true, ..
            } => "assert_malformed",
            CommandKind::AssertRejected { .. } => "assert_invalid",
            CommandKind::AssertUnlinkable { .. } => "assert_unlinkable",
            CommandKind::Thread { .. } => "thread",
            CommandKind::Wait { .. } => "wait",
            CommandKind::NotRun(_) => "directive",
        }
    }
}

/// A syntax error in a script, with its position.
#[derive(Debug, Clone)]
pub struct ScriptError {
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses `text` (named `path` in errors) into a script.
pub fn parse(path: &str, text: &str) -> Result<Script, ScriptError> {
    let located = |mut e: wast::Error| {
        e.set_path(std::path::Path::new(path));
        e.set_text(text);
        ScriptError {
            message: e.to_string(),
        }
    };
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buffer = ParseBuffer::new_with_lexer(lexer).map_err(located)?;
    let wast = parser::parse::<wast::Wast>(&buffer).map_err(located)?;
    let lines = LineIndex::new(text);
    let commands = wast
        .directives
        .into_iter()
        .map(|d| command(&lines, d))
        .collect();
    Ok(Script { commands })
}

/// Byte offsets of line starts, for turning spans into line:column cheaply.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    fn position(&self, span: wast::token::Span) -> (u32, u32) {
        let offset = span.offset();
        let line = self.starts.partition_point(|start| *start <= offset) - 1;
        (line as u32 + 1, (offset - self.starts[line]) as u32 + 1)
    }
}

fn command(lines: &LineIndex, directive: WastDirective<'_>) -> Command {
    let (line, column) = lines.position(directive.span());
    Command {
        line,
        column,
        kind: command_kind(lines, directive),
    }
}

fn command_kind(lines: &LineIndex, directive: WastDirective<'_>) -> CommandKind {
    use CommandKind as K;
    match directive {
        WastDirective::Module(module) => module_command(module, true),
        WastDirective::ModuleDefinition(module) => module_command(module, false),
        WastDirective::ModuleInstance {
            instance, module, ..
        } => K::Instance {
            instance: instance.map(|id| id.name().to_string()),
            module: module.map(|id| id.name().to_string()),
        },
        WastDirective::Register { name, module, .. } => K::Register {
            name: name.to_string(),
            instance: module.map(|id| id.name().to_string()),
        },
        WastDirective::Invoke(invoke) => K::Action(invoke_action(invoke)),
        WastDirective::AssertReturn { exec, results, .. } => match expectations(results) {
            Ok(expected) => K::AssertReturn {
                action: action(exec),
                expected,
            },
            Err(why) => K::NotRun(why),
        },
        WastDirective::AssertTrap { exec, message, .. } => K::AssertTrap {
            action: action(exec),
            message: message.to_string(),
        },
        WastDirective::AssertExhaustion { call, message, .. } => K::AssertExhaustion {
            action: invoke_action(call),
            message: message.to_string(),
        },
        WastDirective::AssertException { exec, .. } => K::AssertException {
            action: action(exec),
        },
        WastDirective::AssertInvalid {
            mut module,
            message,
            ..
        } => K::AssertRejected {
            bytes: encode(&mut module),
            message: message.to_string(),
            malformed: false,
        },
        WastDirective::AssertMalformed {
            mut module,
            message,
            ..
        } => K::AssertRejected {
            bytes: encode(&mut module),
            message: message.to_string(),
            malformed: true,
        },
        WastDirective::AssertUnlinkable {
            module, message, ..
        } => K::AssertUnlinkable {
            bytes: encode(&mut QuoteWat::Wat(module)),
            message: message.to_string(),
        },
        WastDirective::Thread(thread) => K::Thread {
            name: thread.name.name().to_string(),
            shared_module: thread.shared_module.map(|id| id.name().to_string()),
            commands: thread
                .directives
                .into_iter()
                .map(|d| command(lines, d))
                .collect(),
        },
        WastDirective::Wait { thread, .. } => K::Wait {
            thread: thread.name().to_string(),
        },
        WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
            K::NotRun("custom-section assertions concern tools, not engines".into())
        }
        WastDirective::AssertSuspension { .. } => {
            K::NotRun("stack switching is not run by lockstep".into())
        }
    }
}

fn module_command(mut module: QuoteWat<'_>, instantiate: bool) -> CommandKind {
    CommandKind::Module {
        name: module.name().map(|id| id.name().to_string()),
        bytes: encode(&mut module),
        instantiate,
    }
}

fn encode(module: &mut QuoteWat<'_>) -> ModuleBytes {
    if matches!(
        module,
        QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
    ) {
        return ModuleBytes::NotCore("component model".into());
    }
    match module.encode() {
        Ok(bytes) => ModuleBytes::Binary(bytes),
        Err(e) => ModuleBytes::MalformedText(e.message()),
    }
}

fn action(exec: WastExecute<'_>) -> Action {
    match exec {
        WastExecute::Invoke(invoke) => invoke_action(invoke),
        WastExecute::Get { module, global, .. } => Action::Get {
            instance: module.map(|id| id.name().to_string()),
            global: global.to_string(),
        },
        WastExecute::Wat(module) => Action::Instantiate(encode(&mut QuoteWat::Wat(module))),
    }
}

fn invoke_action(invoke: WastInvoke<'_>) -> Action {
    Action::Invoke {
        instance: invoke.module.map(|id| id.name().to_string()),
        export: invoke.name.to_string(),
        args: invoke.args.iter().filter_map(argument).collect(),
    }
}

fn argument(arg: &WastArg<'_>) -> Option<Value> {
    let WastArg::Core(core) = arg else {
        return None;
    };
    Some(match core {
        WastArgCore::I32(v) => Value::I32(*v),
        WastArgCore::I64(v) => Value::I64(*v),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::V128(v) => Value::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(heap) => Value::Ref(Ref::Null(hierarchy(heap))),
        WastArgCore::RefExtern(n) => Value::Ref(Ref::Extern(Some(*n))),
        WastArgCore::RefHost(n) => Value::Ref(Ref::Host(*n)),
    })
}

/// The hierarchy a null of this heap type belongs to. Concrete types are
/// almost always function types in the suites, so they count as `func`.
fn hierarchy(heap: &HeapType<'_>) -> Heap {
    use AbstractHeapType as A;
    match heap {
        HeapType::Abstract { ty, .. } => match ty {
            A::Func | A::NoFunc => Heap::Func,
            A::Extern | A::NoExtern => Heap::Extern,
            A::Exn | A::NoExn => Heap::Exn,
            A::Any | A::Eq | A::Struct | A::Array | A::I31 | A::None | A::Cont | A::NoCont => {
                Heap::Any
            }
        },
        HeapType::Concrete(_) | HeapType::Exact(_) => Heap::Func,
    }
}

fn expectations(results: Vec<WastRet<'_>>) -> Result<Vec<Expected>, String> {
    results
        .iter()
        .map(|ret| match ret {
            WastRet::Core(core) => expected(core),
            #[allow(
                unreachable_patterns,
                reason = "component values exist with other wast features"
            )]
            _ => Err("component-model results are not run".to_string()),
        })
        .collect()
}

fn expected(ret: &WastRetCore<'_>) -> Result<Expected, String> {
    Ok(match ret {
        WastRetCore::I32(v) => Expected::I32(*v),
        WastRetCore::I64(v) => Expected::I64(*v),
        WastRetCore::F32(p) => Expected::F32(float(p, |v| v.bits)),
        WastRetCore::F64(p) => Expected::F64(float(p, |v| v.bits)),
        WastRetCore::V128(p) => Expected::V128(lanes(p)),
        WastRetCore::RefNull(heap) => Expected::Ref(RefPattern::Null(heap.as_ref().map(hierarchy))),
        WastRetCore::RefExtern(n) => Expected::Ref(RefPattern::Extern(*n)),
        WastRetCore::RefHost(n) => Expected::Ref(RefPattern::Host(*n)),
        WastRetCore::RefFunc(_) => Expected::Ref(RefPattern::Func),
        WastRetCore::RefAny => Expected::Ref(RefPattern::Any),
        WastRetCore::RefEq => Expected::Ref(RefPattern::Eq),
        WastRetCore::RefArray => Expected::Ref(RefPattern::Array),
        WastRetCore::RefStruct => Expected::Ref(RefPattern::Struct),
        WastRetCore::RefI31 => Expected::Ref(RefPattern::I31),
        WastRetCore::RefI31Shared => return Err("shared-everything threads are not run".into()),
        WastRetCore::Either(options) => {
            Expected::Either(options.iter().map(expected).collect::<Result<_, _>>()?)
        }
    })
}

fn float<T: Copy, B>(pattern: &NanPattern<T>, bits: impl Fn(&T) -> B) -> FloatPattern<B> {
    match pattern {
        NanPattern::CanonicalNan => FloatPattern::CanonicalNan,
        NanPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        NanPattern::Value(v) => FloatPattern::Bits(bits(v)),
    }
}

fn lanes(pattern: &V128Pattern) -> LanePattern {
    fn pack<const N: usize>(lanes: [u128; N], width: u32) -> u128 {
        let mask = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        lanes.iter().enumerate().fold(0, |acc, (i, lane)| {
            acc | ((lane & mask) << (width * i as u32))
        })
    }
    match pattern {
        V128Pattern::I8x16(l) => LanePattern::Bits(pack(l.map(|v| v as u8 as u128), 8)),
        V128Pattern::I16x8(l) => LanePattern::Bits(pack(l.map(|v| v as u16 as u128), 16)),
        V128Pattern::I32x4(l) => LanePattern::Bits(pack(l.map(|v| v as u32 as u128), 32)),
        V128Pattern::I64x2(l) => LanePattern::Bits(pack(l.map(|v| v as u64 as u128), 64)),
        V128Pattern::F32x4(l) => LanePattern::F32(l.each_ref().map(|p| float(p, |v| v.bits))),
        V128Pattern::F64x2(l) => LanePattern::F64(l.each_ref().map(|p| float(p, |v| v.bits))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_keep_their_lines() {
        let text = "(module (func (export \"f\") (result i32) (i32.const 1)))\n\n(assert_return (invoke \"f\") (i32.const 1))";
        let script = parse("t.wast", text).unwrap();
        assert_eq!(script.commands.len(), 2);
        assert_eq!(
            (script.commands[1].line, script.commands[1].column),
            (3, 2),
            "the directive keyword"
        );
        assert!(matches!(
            script.commands[1].kind,
            CommandKind::AssertReturn { .. }
        ));
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let error = parse("broken.wast", "(module)\n  (assert_return (invoke \"f\")").unwrap_err();
        assert!(
            error.message.contains("broken.wast:2:"),
            "{}",
            error.message
        );
    }

    #[test]
    fn lane_patterns_pack_little_endian() {
        let pattern = V128Pattern::I32x4([1, 2, 3, -1]);
        let LanePattern::Bits(bits) = lanes(&pattern) else {
            panic!()
        };
        assert_eq!(bits, 0xffff_ffff_0000_0003_0000_0002_0000_0001);
    }
}
