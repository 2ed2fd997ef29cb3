//! devcontainer.json's dialect (JSON with comments and trailing commas) read into a small
//! owned tree that keeps the authors' key order. jsonc-parser is used here only.

use jsonc_parser::{JsonValue, ParseOptions};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum J {
    Str(String),
    Num(String),
    Bool(bool),
    Null,
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    /// Parse JSONC text; the error says line and column.
    pub fn parse(text: &str) -> Result<J, String> {
        let value = jsonc_parser::parse_to_value(text, &ParseOptions::default())
            .map_err(|e| e.to_string())?;
        Ok(value.map_or(J::Null, J::from))
    }

    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, J)] {
        match self {
            J::Obj(entries) => entries,
            _ => &[],
        }
    }

    /// A short description for warnings.
    pub fn describe(&self) -> String {
        match self {
            J::Str(s) => format!("\"{s}\""),
            J::Num(n) => n.clone(),
            J::Bool(b) => b.to_string(),
            J::Null => "null".into(),
            J::Arr(a) => {
                let items: Vec<String> = a.iter().map(J::describe).collect();
                format!("[{}]", items.join(", "))
            }
            J::Obj(o) => {
                let keys: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
                format!("{{{}}}", keys.join(", "))
            }
        }
    }
}

impl From<JsonValue<'_>> for J {
    fn from(v: JsonValue<'_>) -> J {
        match v {
            JsonValue::String(s) => J::Str(s.into_owned()),
            JsonValue::Number(n) => J::Num(n.to_owned()),
            JsonValue::Boolean(b) => J::Bool(b),
            JsonValue::Null => J::Null,
            JsonValue::Array(a) => J::Arr(a.into_iter().map(J::from).collect()),
            JsonValue::Object(o) => J::Obj(
                o.into_iter()
                    .map(|(k, v)| (k.into_owned(), J::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_trailing_commas_and_order() {
        let j = J::parse("// top\n{ /* c */ \"b\": 1, \"a\": [\"x\",], }").unwrap();
        let keys: Vec<&str> = j.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(j.get("a"), Some(&J::Arr(vec![J::Str("x".into())])));
        assert!(J::parse("{ \"a\": }").unwrap_err().contains("line 1"));
    }
}
