//! Kubernetes quantities (`100m`, `512Mi`, `1.5`, `2e3`), as the API server parses them.

use crate::node::{Node, Value};

/// The value of a Kubernetes quantity (`100m`, `512Mi`, `1.5`, `2e3`), in base units.
pub fn parse_quantity(text: &str) -> Result<f64, String> {
    let s = text.trim();
    if s != text || s.is_empty() {
        return Err("a quantity has no spaces and is not empty".into());
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let dots = number.matches('.').count();
    if number.is_empty() || number == "." || dots > 1 {
        return Err("a quantity starts with a number, such as `100m`, `512Mi` or `1.5`".into());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let e = &exp[1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{suffix}` is not a unit"));
            }
            let e: i32 = e.parse().map_err(|_| format!("`{suffix}` is out of range"))?;
            10f64.powi(e)
        }
        _ => {
            return Err(format!(
                "`{suffix}` is not a unit: use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent"
            ))
        }
    };
    let v = value * factor;
    Ok(if negative { -v } else { v })
}

/// The quantity a node holds: a YAML number or a quantity string. `Err` with the reason otherwise.
pub fn quantity(node: &Node) -> Result<f64, String> {
    match &node.value {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) if f.is_finite() => Ok(*f),
        Value::Str(s) => parse_quantity(s),
        _ => Err(format!(
            "a quantity is a number or a string, not a {}",
            node.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("100m"), Ok(0.1));
        assert_eq!(parse_quantity("512Mi"), Ok(512.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("1.5"), Ok(1.5));
        assert_eq!(parse_quantity("2e3"), Ok(2000.0));
        assert_eq!(parse_quantity("1G"), Ok(1e9));
        assert_eq!(parse_quantity(".5"), Ok(0.5));
        assert_eq!(parse_quantity("-1"), Ok(-1.0));
        for bad in [
            "lots", "", " 1", "1 Gi", "1gi", "1.2.3", "Mi", "1e", "1KiB", ".",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad} should be rejected");
        }
    }
}
