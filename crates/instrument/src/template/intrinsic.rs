//! CloudFormation intrinsic functions as they appear in a parsed template: the short YAML form
//! (`!Ref X`, a tagged value) and the long form (`{Ref: X}`, `{"Fn::If": [...]}`), so the transform
//! treats both alike and writes back what it did not change untouched.

use serde_yaml_ng::{Mapping, Value};

/// If `value` is an intrinsic function call, its long name (`Ref`, `Fn::If`, …) and argument.
pub fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let bare = tag.trim_start_matches('!');
            let name = if bare == "Ref" || bare == "Condition" {
                bare.to_string()
            } else {
                format!("Fn::{bare}")
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::")).then(|| (key.to_string(), arg))
        }
        _ => None,
    }
}

/// Resolves `value` to a plain string: a scalar as text, or `Ref` to a template parameter (its
/// value given to the transform, else its `Default`). `None` for anything else.
pub fn resolve_text(value: &Value, parameters: &Mapping, values: &Mapping) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => {
            let (name, arg) = intrinsic(value)?;
            if name != "Ref" {
                return None;
            }
            let param = arg.as_str()?;
            if let Some(given) = values.get(param) {
                return scalar_or_first(given);
            }
            let default = parameters.get(param)?.get("Default")?;
            scalar_or_first(default)
        }
    }
}

/// Parameter values may be lists (`CommaDelimitedList`, `List<String>`): `Architectures: !Ref P`
/// reads the first element.
fn scalar_or_first(value: &Value) -> Option<String> {
    match value {
        Value::Sequence(items) => items.first().and_then(scalar_or_first),
        Value::String(s) => Some(s.split(',').next().unwrap_or(s).trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{"Fn::Sub": text}` in long form, valid in both YAML and JSON templates.
pub fn fn_sub(text: &str) -> Value {
    let mut map = Mapping::new();
    map.insert(Value::from("Fn::Sub"), Value::from(text));
    Value::Mapping(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_are_the_same_intrinsic() {
        let short: Value = serde_yaml_ng::from_str("!Ref Arch").unwrap();
        let long: Value = serde_yaml_ng::from_str("{Ref: Arch}").unwrap();
        let sub: Value = serde_yaml_ng::from_str("!Sub 'x-${AWS::Region}'").unwrap();
        assert_eq!(intrinsic(&short).unwrap().0, "Ref");
        assert_eq!(intrinsic(&long).unwrap().0, "Ref");
        assert_eq!(intrinsic(&sub).unwrap().0, "Fn::Sub");
        assert!(intrinsic(&Value::from("plain")).is_none());
    }

    #[test]
    fn refs_resolve_from_values_then_defaults() {
        let parameters: Mapping =
            serde_yaml_ng::from_str("Arch: {Type: CommaDelimitedList, Default: 'arm64'}\nRt: {Type: String, Default: python3.12}").unwrap();
        let values: Mapping = serde_yaml_ng::from_str("Rt: python3.11").unwrap();
        let r = |s: &str| resolve_text(&serde_yaml_ng::from_str(s).unwrap(), &parameters, &values);
        assert_eq!(r("!Ref Arch").as_deref(), Some("arm64"));
        assert_eq!(r("!Ref Rt").as_deref(), Some("python3.11"));
        assert_eq!(r("!Ref Missing"), None);
        assert_eq!(r("!GetAtt A.B"), None);
    }
}
