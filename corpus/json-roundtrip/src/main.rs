//! A JSON round trip: reads a document from the scratch directory (default
//! `data.json`), prints it pretty, writes it compact to `data.min.json`, reads
//! that back and checks both documents are equal. `json-roundtrip [FILE]`.

use serde_json::Value;

fn summary(value: &Value) -> (usize, usize) {
    match value {
        Value::Array(items) => items
            .iter()
            .map(summary)
            .fold((1, 0), |(n, d), (m, e)| (n + m, d.max(e + 1))),
        Value::Object(fields) => fields
            .values()
            .map(summary)
            .fold((1, 0), |(n, d), (m, e)| (n + m, d.max(e + 1))),
        _ => (1, 0),
    }
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "data.json".into());
    let text = std::fs::read_to_string(&path).expect("reading the document");
    let document: Value = serde_json::from_str(&text).expect("a JSON document");
    println!("{}", serde_json::to_string_pretty(&document).expect("printable"));
    let compact = serde_json::to_string(&document).expect("serializable");
    std::fs::write("data.min.json", &compact).expect("writing data.min.json");
    let again: Value = serde_json::from_str(
        &std::fs::read_to_string("data.min.json").expect("reading data.min.json"),
    )
    .expect("the compact form parses");
    assert_eq!(document, again, "the round trip changed the document");
    let (nodes, depth) = summary(&document);
    println!(
        "{nodes} nodes, depth {depth}, {} bytes pretty, {} bytes compact",
        serde_json::to_string_pretty(&document).map_or(0, |s| s.len()),
        compact.len()
    );
}
