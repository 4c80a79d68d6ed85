//! The key that identifies an operation for sharing its answer: the
//! response cache keeps answers by it, the live fan-out shares
//! subscriptions by it.

/// The key of an operation: two requests with one key get the same answer
/// at one store generation. Built from the document's tokens (the GraphQL lexer's, so
/// layout and comments do not split the cache, and two different documents
/// never share a key), the variables the document mentions, and the
/// operation name. Variables the document never mentions cannot change the
/// answer (coercion ignores them), so they are left out: a large unused
/// variable costs the cache nothing. No hashing: keys never collide.
pub fn operation_key(
    query: &str,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
    operation: Option<&str>,
) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(query.len() + 16);
    let mut mentioned: Vec<&str> = Vec::new();
    let mut after_dollar = false;
    for token in super::tokens(query) {
        // Each token with its length: the key reads back one way only.
        let _ = write!(out, "{}:{}", token.text.len(), token.text);
        if after_dollar && token.kind == super::TokenKind::Word {
            mentioned.push(token.text);
        }
        after_dollar = token.text == "$";
    }
    out.push('\u{0}');
    if let Some(variables) = variables {
        let mut used: Vec<(&String, &serde_json::Value)> = variables
            .iter()
            .filter(|(name, _)| mentioned.contains(&name.as_str()))
            .collect();
        used.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in used {
            let value = serde_json::to_string(value).unwrap_or_default();
            let _ = write!(out, "{}:{name}{}:{value}", name.len(), value.len());
        }
    }
    out.push('\u{0}');
    out.push_str(operation.unwrap_or(""));
    out
}
