//! Reading tool results back, so the next step can prove they arrived intact.
//!
//! The tools' output shapes belong to the backends, not to the mock, so these readers look for
//! the field by name, breadth first (the shallowest `title` wins, which is the spec's own title
//! rather than a related spec's). A result that is not JSON, or has no such field, is quoted
//! raw: the proof then is the raw text itself.

use std::collections::VecDeque;

use serde_json::Value;

/// The shallowest string field named `key` in `value`.
fn find_field(value: &Value, key: &str) -> Option<String> {
    let mut queue = VecDeque::from([value]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(obj) => {
                if let Some(Value::String(s)) = obj.get(key) {
                    return Some(s.clone());
                }
                queue.extend(obj.values());
            }
            Value::Array(items) => queue.extend(items),
            _ => {}
        }
    }
    None
}

/// The spec title in a `get_spec` (or `search_specs`) result.
pub fn title_of(result: &str) -> Option<String> {
    let value: Value = serde_json::from_str(result).ok()?;
    find_field(&value, "title")
}

/// The id of the first spec in a `list_specs` result: the shallowest object's `id`, or the
/// first element of a list of plain ids.
pub fn first_spec_id(result: &str) -> Option<String> {
    let value: Value = serde_json::from_str(result).ok()?;
    let mut queue = VecDeque::from([&value]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(obj) => {
                if let Some(Value::String(id)) = obj.get("id") {
                    return Some(id.clone());
                }
                queue.extend(obj.values());
            }
            Value::Array(items) => {
                if let Some(Value::String(id)) = items.first() {
                    return Some(id.clone());
                }
                queue.extend(items);
            }
            _ => {}
        }
    }
    None
}

/// `name returned "Title"`, or the raw result when it has no title.
pub fn describe(name: &str, result: Option<&str>) -> String {
    match result {
        None => format!("{name} returned nothing"),
        Some(raw) => match title_of(raw) {
            Some(title) => format!("{name} returned \"{title}\""),
            None => format!("{name} returned: {raw}"),
        },
    }
}

/// The raw result, for steps that quote whatever came back (errors, fault injection).
pub fn raw(name: &str, result: Option<&str>) -> String {
    match result {
        None => format!("{name} returned nothing"),
        Some(raw) => format!("{name} returned: {raw}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_shallowest_title_and_falls_back_to_raw() {
        let nested = r#"{"related":[{"title":"Other"}],"spec":{"title":"Mine"}}"#;
        assert_eq!(title_of(nested).as_deref(), Some("Mine"));
        assert_eq!(
            title_of(r#"{"title":"Top","x":{"title":"Deep"}}"#).as_deref(),
            Some("Top")
        );
        assert_eq!(title_of("not json {"), None);
        assert_eq!(
            describe("get_spec", Some(nested)),
            "get_spec returned \"Mine\""
        );
        assert_eq!(describe("t", Some("plain")), "t returned: plain");
        assert_eq!(describe("t", None), "t returned nothing");
    }

    #[test]
    fn finds_the_first_spec_id_in_list_shapes() {
        assert_eq!(
            first_spec_id(r#"{"count":2,"specs":[{"id":"a"},{"id":"b"}]}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            first_spec_id(r#"[{"id":"a"},{"id":"b"}]"#).as_deref(),
            Some("a")
        );
        assert_eq!(first_spec_id(r#"["x","y"]"#).as_deref(), Some("x"));
        assert_eq!(first_spec_id(r#"{"specs":[]}"#), None);
        assert_eq!(first_spec_id("error: boom"), None);
    }
}
