// Counts the words of `text` (JSON in, JSON out) with serde_json.
use std::io::Read;

fn main() {
    let mut raw = String::new();
    std::io::stdin().read_to_string(&mut raw).expect("stdin");
    let args: serde_json::Value = serde_json::from_str(&raw).expect("arguments are JSON");
    let text = args["text"].as_str().unwrap_or("");
    if text == "panic" {
        panic!("asked to panic");
    }
    let words = text.split_whitespace().count();
    println!("{}", serde_json::json!({"words": words, "chars": text.chars().count()}));
}
