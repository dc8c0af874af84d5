//! lockstep's own reduction passes, where wasm-shrink's random search is slow: keep one export, stub out
//! function bodies, cut or fold instruction runs. All rewrite sections in place, so every index in the
//! module stays valid.

use std::ops::Range;
use wasmparser::{
    ExternalKind, FuncValidatorAllocations, Operator, Parser, Payload, ValType, ValidPayload,
    Validator,
};

/// The module with `export` as its only export, if it has it.
pub fn only_export(wasm: &[u8], export: &str) -> Option<Vec<u8>> {
    let facts = oracles::facts::read(wasm);
    let kept = facts.exports.iter().find(|e| e.name == export)?;
    let mut contents = Vec::new();
    leb(1, &mut contents);
    leb(export.len() as u64, &mut contents);
    contents.extend_from_slice(export.as_bytes());
    contents.push(kind_byte(kept.kind));
    leb(u64::from(kept.index), &mut contents);
    Some(replace_section(wasm, 7, |_| contents.clone()))
}

/// The defined-function index `export` names, if it names a defined function.
pub fn exported_function(wasm: &[u8], export: &str) -> Option<usize> {
    let facts = oracles::facts::read(wasm);
    let found = facts.exports.iter().find(|e| e.name == export)?;
    let function = matches!(found.kind, ExternalKind::Func | ExternalKind::FuncExact);
    let index = function.then_some(found.index as usize)?;
    index.checked_sub(facts.imported_functions())
}

/// How many functions the module defines.
pub fn defined_functions(wasm: &[u8]) -> usize {
    function_bodies(wasm).len()
}

/// The module with the bodies of the defined functions `stub` selects replaced by `unreachable`.
pub fn stub_bodies(wasm: &[u8], stub: impl Fn(usize) -> bool) -> Vec<u8> {
    let bodies = function_bodies(wasm);
    replace_section(wasm, 10, |_| {
        let mut contents = Vec::new();
        leb(bodies.len() as u64, &mut contents);
        for (index, range) in bodies.iter().enumerate() {
            // No locals, `unreachable`, `end`: valid for any function type.
            let body: &[u8] = if stub(index) {
                &[0x00, 0x00, 0x0b]
            } else {
                &wasm[range.clone()]
            };
            leb(body.len() as u64, &mut contents);
            contents.extend_from_slice(body);
        }
        contents
    })
}

/// One way to make a function body smaller: replace the bytes at `range` (an instruction run) with `with`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub range: Range<usize>,
    pub with: Vec<u8>,
}

impl Cut {
    /// The module with this cut made; the body holding it is re-measured.
    pub fn apply(&self, wasm: &[u8]) -> Vec<u8> {
        let bodies = function_bodies(wasm);
        replace_section(wasm, 10, |_| {
            let mut contents = Vec::new();
            leb(bodies.len() as u64, &mut contents);
            for range in &bodies {
                let mut body = wasm[range.clone()].to_vec();
                if range.contains(&self.range.start) {
                    let start = self.range.start - range.start;
                    body.splice(start..start + self.range.len(), self.with.iter().copied());
                }
                leb(body.len() as u64, &mut contents);
                contents.extend_from_slice(&body);
            }
            contents
        })
    }
}

/// Where instructions can go without upsetting the operand stack, longest first: every run of
/// instructions in one block that leaves the stack as it found it (cut out), every run that
/// leaves one number or vector on it (folded into the constant zero of that type), and every
/// block replaced by its body. A cut can still make an invalid module (a branch out of an
/// unwrapped block): callers validate.
pub fn cuts(wasm: &[u8]) -> Vec<Cut> {
    let mut cuts: Vec<Cut> = instruction_tracks(wasm)
        .iter()
        .flat_map(|track| track_cuts(wasm, track))
        .collect();
    cuts.sort_by_key(|cut| std::cmp::Reverse(cut.range.len() - cut.with.len()));
    cuts.dedup();
    cuts
}

/// An instruction's start in the module, what it does to blocks, the operand and control stack
/// heights before it, and the type on top of the operand stack before it.
struct Mark {
    at: usize,
    shape: Shape,
    operands: u32,
    frames: u32,
    top: Option<ValType>,
}

/// What an instruction does to the block structure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `block`, `loop`, `try_table`: a block whose body can stand in for it.
    Opens,
    /// `if`: its condition dropped, a `then` can stand in for it.
    OpensIf,
    Else,
    End,
    Other,
}

impl Shape {
    fn of(operator: &Operator) -> Shape {
        match operator {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::TryTable { .. } => {
                Shape::Opens
            }
            Operator::If { .. } => Shape::OpensIf,
            Operator::Else => Shape::Else,
            Operator::End => Shape::End,
            _ => Shape::Other,
        }
    }
}

/// The cuts within one function: for each instruction, the longest and the shortest run in its
/// block that leaves the stack as high as before (cut out), one value higher (folded to zero) or
/// one value lower (replaced by `drop`), and the block it opens unwrapped.
fn track_cuts(wasm: &[u8], track: &[Mark]) -> Vec<Cut> {
    let mut cuts = Vec::new();
    // The body's final `end` ends runs, never starts one.
    let starts = track.len().saturating_sub(1);
    for (i, start) in track[..starts].iter().enumerate() {
        let ends: Vec<&Mark> = track[i + 1..]
            .iter()
            .take_while(|m| m.frames >= start.frames)
            .filter(|m| m.frames == start.frames)
            .collect();
        let replacements = [
            (Some(start.operands), Replacement::Nothing),
            (start.operands.checked_add(1), Replacement::Zero),
            (start.operands.checked_sub(1), Replacement::Drop),
        ];
        for (height, replacement) in replacements {
            let mut runs = ends.iter().filter(|m| Some(m.operands) == height);
            let (shortest, longest) = (runs.next(), runs.next_back());
            for end in [shortest, longest].into_iter().flatten() {
                let Some(with) = replacement.bytes(end.top) else {
                    continue;
                };
                if end.at - start.at > with.len() {
                    cuts.push(Cut {
                        range: start.at..end.at,
                        with,
                    });
                }
            }
        }
        cuts.extend(unwrapped(wasm, &track[i..]));
    }
    cuts
}

/// What a cut run of instructions leaves in its place.
#[derive(Clone, Copy)]
enum Replacement {
    Nothing,
    /// The constant zero of the type the run left on top.
    Zero,
    Drop,
}

impl Replacement {
    fn bytes(self, top: Option<ValType>) -> Option<Vec<u8>> {
        match self {
            Replacement::Nothing => Some(Vec::new()),
            Replacement::Zero => zero_of(top?),
            Replacement::Drop => Some(vec![0x1a]),
        }
    }
}

/// The block `start` opens replaced by its body (an `if` with no `else` by `drop` and its body).
fn unwrapped(wasm: &[u8], track: &[Mark]) -> Option<Cut> {
    let start = track.first()?;
    let drop_condition: &[u8] = match start.shape {
        Shape::Opens => &[],
        Shape::OpensIf => &[0x1a],
        _ => return None,
    };
    let body = track.get(1)?;
    let closing = track[1..]
        .iter()
        .find(|m| m.frames == start.frames + 1 && matches!(m.shape, Shape::End | Shape::Else))?;
    (closing.shape == Shape::End).then(|| Cut {
        range: start.at..closing.at + 1,
        with: [drop_condition, &wasm[body.at..closing.at]].concat(),
    })
}

/// The encoding of `T.const 0` for a number or vector type.
fn zero_of(ty: ValType) -> Option<Vec<u8>> {
    let mut bytes = match ty {
        ValType::I32 => vec![0x41, 0],
        ValType::I64 => vec![0x42, 0],
        ValType::F32 => vec![0x43, 0, 0, 0, 0],
        ValType::F64 => vec![0x44, 0, 0, 0, 0, 0, 0, 0, 0],
        ValType::V128 => vec![0xfd, 0x0c],
        ValType::Ref(_) => return None,
    };
    if ty == ValType::V128 {
        bytes.extend([0; 16]);
    }
    Some(bytes)
}

/// The instructions of every defined function body, with the stack heights
/// the validator saw before each (none when the module does not validate).
fn instruction_tracks(wasm: &[u8]) -> Vec<Vec<Mark>> {
    let mut validator = Validator::new_with_features(oracles::features::all());
    let mut tracks = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            return Vec::new();
        };
        match validator.payload(&payload) {
            Ok(ValidPayload::Func(function, body)) => {
                let mut function = function.into_validator(FuncValidatorAllocations::default());
                let mut track = Vec::new();
                let mut locals = body.get_binary_reader();
                let Ok(mut reader) = function
                    .read_locals(&mut locals)
                    .and_then(|()| body.get_operators_reader())
                else {
                    return Vec::new();
                };
                while !reader.eof() {
                    let Ok((operator, at)) = reader.read_with_offset() else {
                        return Vec::new();
                    };
                    track.push(Mark {
                        at: at as usize,
                        shape: Shape::of(&operator),
                        operands: function.operand_stack_height(),
                        frames: function.control_stack_height(),
                        top: function.get_operand_type(0).flatten(),
                    });
                    if function.op(at, &operator).is_err() {
                        return Vec::new();
                    }
                }
                tracks.push(track);
            }
            Ok(_) => {}
            Err(_) => return Vec::new(),
        }
    }
    tracks
}

fn function_bodies(wasm: &[u8]) -> Vec<Range<usize>> {
    Parser::new(0)
        .parse_all(wasm)
        .flatten()
        .filter_map(|payload| match payload {
            Payload::CodeSectionEntry(body) => {
                Some(body.range().start as usize..body.range().end as usize)
            }
            _ => None,
        })
        .collect()
}

/// Rebuilds the module with the contents of section `id` replaced.
fn replace_section(wasm: &[u8], id: u8, contents: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = wasm[..8].to_vec();
    for payload in Parser::new(0).parse_all(wasm).flatten() {
        let Some((section, range)) = payload.as_section() else {
            continue;
        };
        let range = range.start as usize..range.end as usize;
        let bytes = if section == id {
            contents(&wasm[range])
        } else {
            wasm[range].to_vec()
        };
        out.push(section);
        leb(bytes.len() as u64, &mut out);
        out.extend_from_slice(&bytes);
    }
    out
}

fn kind_byte(kind: ExternalKind) -> u8 {
    match kind {
        ExternalKind::Func => 0x00,
        ExternalKind::FuncExact => 0x20,
        ExternalKind::Table => 1,
        ExternalKind::Memory => 2,
        ExternalKind::Global => 3,
        ExternalKind::Tag => 4,
    }
}

fn leb(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_keep_the_module_valid() {
        let wasm = generators::wat_to_wasm(
            r#"(module (import "host" "i32" (func (param i32) (result i32)))
                 (func (export "a") (result i32) (call 2))
                 (func (export "b") (result i32) (i32.const 7))
                 (global (export "g") i32 (i32.const 1)))"#,
        )
        .unwrap();
        let all = oracles::features::all();
        let one = only_export(&wasm, "b").unwrap();
        assert!(oracles::features::validates(&one, all));
        assert_eq!(generators::exports::functions(&one).len(), 1);
        assert_eq!(exported_function(&wasm, "b"), Some(1));
        let stubbed = stub_bodies(&one, |index| index != 1);
        assert!(oracles::features::validates(&stubbed, all));
        assert!(stubbed.len() < one.len());
        assert_eq!(defined_functions(&stubbed), 2);
    }

    #[test]
    fn cuts_remove_neutral_runs_and_fold_values_to_zero() {
        let wasm = generators::wat_to_wasm(
            r#"(module (func (export "f") (param i32) (result i32)
                 (drop (i32.add (local.get 0) (i32.const 1)))
                 (i32.mul (local.get 0) (i32.const 3))))"#,
        )
        .unwrap();
        let all = oracles::features::all();
        let printed: Vec<String> = cuts(&wasm)
            .iter()
            .map(|cut| {
                let cut = cut.apply(&wasm);
                assert!(oracles::features::validates(&cut, all));
                wasmprinter::print_bytes(&cut).unwrap()
            })
            .collect();
        let body = |text: &str| text.rsplit("(result i32)").next().unwrap().to_string();
        let bodies: Vec<String> = printed.iter().map(|text| body(text)).collect();
        let first = bodies[0].split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            first, "i32.const 0 ) )",
            "longest first: the whole body folds to zero"
        );
        assert!(
            bodies
                .iter()
                .any(|b| !b.contains("drop") && b.contains("i32.mul")),
            "the dropped sum is cut out alone: {bodies:#?}"
        );
    }

    #[test]
    fn cuts_unwrap_blocks_and_ifs() {
        let wasm = generators::wat_to_wasm(
            r#"(module (func (export "f") (param i32) (result i32)
                 (if (local.get 0) (then (nop)))
                 (block (result i32) (local.get 0))))"#,
        )
        .unwrap();
        let all = oracles::features::all();
        let printed: Vec<String> = cuts(&wasm)
            .iter()
            .map(|cut| cut.apply(&wasm))
            .filter(|cut| oracles::features::validates(cut, all))
            .map(|cut| wasmprinter::print_bytes(cut).unwrap())
            .collect();
        let flat = |text: &String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let flat: Vec<String> = printed.iter().map(flat).collect();
        assert!(
            flat.iter()
                .any(|t| t.contains("local.get 0 drop nop block")),
            "the if is its condition dropped and its then: {flat:#?}"
        );
        assert!(
            flat.iter()
                .any(|t| t.contains("end local.get 0 )") && !t.contains("block")),
            "the block is its body: {flat:#?}"
        );
    }
}
