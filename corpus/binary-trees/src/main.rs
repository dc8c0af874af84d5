//! binary-trees from the Computer Language Benchmarks Game, single-threaded:
//! allocates and walks many perfect binary trees. `binary-trees DEPTH` (default 10).

struct Tree {
    children: Option<Box<(Tree, Tree)>>,
}

fn build(depth: u32) -> Tree {
    let children = (depth > 0).then(|| Box::new((build(depth - 1), build(depth - 1))));
    Tree { children }
}

fn check(tree: &Tree) -> u32 {
    match &tree.children {
        Some(pair) => 1 + check(&pair.0) + check(&pair.1),
        None => 1,
    }
}

fn main() {
    let max_depth: u32 = std::env::args()
        .nth(1)
        .map(|word| word.parse().expect("the depth is a number"))
        .unwrap_or(10)
        .max(6);
    let stretch = max_depth + 1;
    println!(
        "stretch tree of depth {stretch}\t check: {}",
        check(&build(stretch))
    );
    let long_lived = build(max_depth);
    for depth in (4..=max_depth).step_by(2) {
        let iterations = 1u32 << (max_depth - depth + 4);
        let total: u32 = (0..iterations).map(|_| check(&build(depth))).sum();
        println!("{iterations}\t trees of depth {depth}\t check: {total}");
    }
    println!(
        "long lived tree of depth {max_depth}\t check: {}",
        check(&long_lived)
    );
}
