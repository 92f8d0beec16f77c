//! CEL as the Kubernetes API server evaluates it: the standard library plus the Kubernetes extension
//! libraries that policies use in practice (lists, regex, quantity, URL, named formats, the strings
//! extension), object trees turned into CEL values, and the fields an expression reads (so a finding
//! points at the source line that set the field, not at the object as a whole).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::extractors::{Arguments, This};
use cel::objects::{Key, Map, Opaque, OptionalValue};
use cel::{Context, Env, ExecutionError, FunctionContext, Program, Value};

use crate::check::custom::direct;
pub use crate::check::custom::direct::Bound;
use crate::k8s::quantity::parse_quantity;
use crate::node::{self, Node};

/// A compiled expression, with the variables it names (to know, before running it, whether it needs
/// something we do not have offline: `authorizer`, `oldObject`, `request.userInfo`).
pub struct Expression {
    pub source: String,
    pub program: Program,
    /// The same expression for direct evaluation over the tree, when it stays within that subset.
    direct: Option<direct::Program>,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Expression {
    /// Parses an expression; the error is the parser's message.
    pub fn compile(source: &str) -> Result<Expression, String> {
        // The parser and the interpreter recurse once or more per level: a rule from the repository
        // may not nest deeper than the stack allows.
        if nesting(source) > MAX_NESTING {
            return Err(format!(
                "the expression nests brackets more than {MAX_NESTING} deep"
            ));
        }
        let program = env()
            .compile(source)
            .map_err(|e| e.to_string().trim().to_string())?;
        if depth(program.expression()) > MAX_DEPTH {
            return Err(format!(
                "the expression nests operations more than {MAX_DEPTH} deep"
            ));
        }
        Ok(Expression {
            source: source.to_string(),
            direct: direct::Program::compile(program.expression()),
            program,
        })
    }

    /// Whether the expression names the variable `name` anywhere.
    pub fn uses(&self, name: &str) -> bool {
        self.program.references().has_variable(name)
    }

    /// The bool the expression gives with `vars` bound, decided straight over the tree; `None` when
    /// only the interpreter can tell ([`Expression::eval`] then gives the same answer as ever, an
    /// error's text included).
    pub fn decide(&self, vars: &[(&str, Bound<'_>)]) -> Option<bool> {
        self.direct.as_ref()?.decide(vars)
    }

    /// Runs the expression in a scope that binds `vars` over the shared functions.
    pub fn eval(&self, vars: &Scope<'_>) -> Result<Value, String> {
        ROOT.with(|root| {
            // Declared before the scope that borrows it, so it outlives it.
            let prepared = Prepared(&vars.prepared);
            let mut ctx = root.new_inner_scope();
            for (name, value) in &vars.vars {
                ctx.add_variable_from_value(*name, (*value).clone());
            }
            if !vars.prepared.is_empty() {
                ctx.set_variable_resolver(&prepared);
            }
            self.program.execute(&ctx).map_err(|e| message(&e))
        })
    }

    /// An upper bound on the steps evaluating the expression takes over data whose longest list or
    /// map has `widths.entries` entries and longest string `widths.text` characters (see [`widths`]):
    /// each comprehension costs its body times the most its range can hold. A range read from the data
    /// holds at most the longest list of the data or of the expression's literals; a function's
    /// result (`split`, `findAll`) at most the longest string too; `a + b` at most both.
    pub fn cost(&self, widths: Widths) -> u64 {
        let e = self.program.expression();
        let w = Widths {
            entries: widths.entries.max(literal_entries(e)).max(1),
            text: widths.text,
        };
        cost(e, w)
    }

    /// Whether the expression iterates (holds a comprehension macro): only then can its cost depend
    /// on the data.
    pub fn loops(&self) -> bool {
        fn any(e: &IdedExpr) -> bool {
            matches!(e.expr, Expr::Comprehension(_)) || children(e).into_iter().any(any)
        }
        any(self.program.expression())
    }

    /// The finding's text when the expression may cost more than [`COST_BUDGET`] over data of
    /// these widths.
    pub fn too_costly(&self, widths: Widths) -> Option<String> {
        let cost = self.cost(widths);
        (cost > COST_BUDGET).then(|| {
            format!(
                "the rule `{}` is not evaluated: over lists of up to {} entries it may take {cost} steps, more than the {COST_BUDGET} a rule may take",
                self.source, widths.entries
            )
        })
    }

    /// The object fields the expression reads below the variable `root` (`object`, `self`), as key
    /// paths, in the order they appear: `object.spec.replicas <= 5` reads `[spec, replicas]`.
    pub fn paths_below(&self, root: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        collect_paths(self.program.expression(), root, &mut out);
        out
    }
}

/// The variables of one evaluation.
#[derive(Default)]
pub struct Scope<'a> {
    /// Converted into the interpreter's form when the expression runs.
    vars: Vec<(&'a str, &'a Value)>,
    /// Already in the interpreter's form ([`prepare`]): looked up in place, never copied.
    prepared: Vec<(&'a str, &'a dyn Val)>,
}

impl<'a> Scope<'a> {
    pub fn bind(&mut self, name: &'a str, value: &'a Value) -> &mut Self {
        self.vars.push((name, value));
        self
    }

    /// Binds a value made once by [`prepare`] and shared by every evaluation that reads it: binding a
    /// [`Value`] converts the whole tree each time, which for an object read by many rules costs more
    /// than the rules themselves.
    pub fn bind_prepared(&mut self, name: &'a str, value: &'a dyn Val) -> &mut Self {
        self.prepared.push((name, value));
        self
    }
}

/// A value in the interpreter's own form, made once and bound by reference ([`Scope::bind_prepared`]).
pub fn prepare(value: &Value) -> Box<dyn Val> {
    // Only opaque values fail to convert, and object trees hold none.
    value
        .clone()
        .try_into()
        .unwrap_or_else(|_| Value::Null.try_into().expect("null converts"))
}

/// The prepared variables of one evaluation, found by name before the scope's own.
struct Prepared<'a>(&'a [(&'a str, &'a dyn Val)]);

impl VariableResolver for Prepared<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        self.0
            .iter()
            .find(|(name, _)| *name == variable)
            .map(|(_, v)| CowVal::Borrowed(*v))
    }
}

fn message(e: &ExecutionError) -> String {
    e.to_string()
}

/// The environment every expression is compiled in: the standard library and its macros, the strings
/// extension (`lowerAscii`, `split`, `join`, ...) and the lists extension (`sort`, `distinct`, ...).
fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Both extensions are the crate's own; a clash would be a build error of ours, caught by tests.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        Arc::new(env)
    })
}

thread_local! {
    /// The root context: the environment plus the Kubernetes library functions, built once per thread
    /// (a `Context` is not `Sync`); every evaluation opens a child scope over it for its variables.
    static ROOT: Context<'static, 'static> = kubernetes_library();
}

fn kubernetes_library() -> Context<'static, 'static> {
    let mut ctx = Context::with_env(env().clone());
    // Names the standard library or an extension already declares are skipped (`add_function`
    // refuses them): the declared overload is used.
    let _ = ctx.add_function("isSorted", is_sorted);
    let _ = ctx.add_function("sum", sum);
    let _ = ctx.add_function("find", find);
    let _ = ctx.add_function("findAll", find_all);
    let _ = ctx.add_function("quantity", quantity);
    let _ = ctx.add_function("isQuantity", is_quantity);
    let _ = ctx.add_function("isGreaterThan", |a: This<Value>, b: Value| {
        compare(&a.0, &b).map(|o| o == Ordering::Greater)
    });
    let _ = ctx.add_function("isLessThan", |a: This<Value>, b: Value| {
        compare(&a.0, &b).map(|o| o == Ordering::Less)
    });
    let _ = ctx.add_function("compareTo", |a: This<Value>, b: Value| {
        compare(&a.0, &b).map(|o| o as i64)
    });
    let _ = ctx.add_function("asApproximateFloat", |a: This<Value>| {
        as_quantity(&a.0).map(|q| q.value)
    });
    let _ = ctx.add_function("asInteger", |a: This<Value>| {
        let q = as_quantity(&a.0)?;
        if q.value.fract() != 0.0 || q.value.abs() > i64::MAX as f64 {
            return Err(ExecutionError::function_error(
                "asInteger",
                "the quantity is not an integer",
            ));
        }
        Ok(q.value as i64)
    });
    let _ = ctx.add_function("isInteger", |a: This<Value>| {
        as_quantity(&a.0).map(|q| q.value.fract() == 0.0)
    });
    let _ = ctx.add_function("sign", |a: This<Value>| {
        as_quantity(&a.0).map(|q| {
            if q.value > 0.0 {
                1i64
            } else if q.value < 0.0 {
                -1
            } else {
                0
            }
        })
    });
    let _ = ctx.add_function("url", url);
    let _ = ctx.add_function("isURL", |s: Arc<String>| parse_url(&s).is_some());
    let _ = ctx.add_function("getScheme", |a: This<Value>| {
        as_url(&a.0).map(|u| text(&u.scheme.clone()))
    });
    let _ = ctx.add_function("getHost", |a: This<Value>| {
        as_url(&a.0).map(|u| text(&u.host.clone()))
    });
    let _ = ctx.add_function("getHostname", |a: This<Value>| {
        as_url(&a.0).map(|u| text(&u.hostname()))
    });
    let _ = ctx.add_function("getPort", |a: This<Value>| {
        as_url(&a.0).map(|u| text(&u.port()))
    });
    let _ = ctx.add_function("getEscapedPath", |a: This<Value>| {
        as_url(&a.0).map(|u| text(&u.path.clone()))
    });
    let _ = ctx.add_function("getQuery", get_query);
    for (name, _) in FORMATS {
        let _ = ctx.add_function(&format!("format.{name}"), move || named_format(name));
    }
    let _ = ctx.add_function("format.named", |s: Arc<String>| {
        match FORMATS.iter().find(|(n, _)| **n == *s.as_str()) {
            Some((n, _)) => named_format(n),
            None => optional(None),
        }
    });
    let _ = ctx.add_function("validate", validate);
    ctx
}

fn text(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn optional(v: Option<Value>) -> Value {
    Value::Opaque(Arc::new(match v {
        Some(v) => OptionalValue::of(v),
        None => OptionalValue::none(),
    }))
}

fn list_of(this: &Value, name: &str) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match this {
        Value::List(l) => Ok(l.clone()),
        other => Err(ExecutionError::function_error(
            name,
            format!("expects a list, got {:?}", other.type_of()),
        )),
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Value::UInt(a), Value::UInt(b)) => Some(a.cmp(b)),
        (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Opaque(_), Value::Opaque(_)) => compare(a, b).ok(),
        _ => None,
    }
}

/// `list.isSorted()`: Kubernetes' lists library.
fn is_sorted(This(this): This<Value>) -> Result<bool, ExecutionError> {
    let l = list_of(&this, "isSorted")?;
    for w in l.windows(2) {
        match order(&w[0], &w[1]) {
            Some(Ordering::Greater) => return Ok(false),
            Some(_) => {}
            None => {
                return Err(ExecutionError::function_error(
                    "isSorted",
                    "the list holds values that do not compare",
                ))
            }
        }
    }
    Ok(true)
}

/// `list.sum()`: Kubernetes' lists library (ints, uints or doubles; `0` for an empty list).
fn sum(This(this): This<Value>) -> Result<Value, ExecutionError> {
    let l = list_of(&this, "sum")?;
    let mut acc = Value::Int(0);
    for (i, v) in l.iter().enumerate() {
        acc = match (i, &acc, v) {
            (0, _, v) => v.clone(),
            (_, Value::Int(a), Value::Int(b)) => Value::Int(
                a.checked_add(*b)
                    .ok_or_else(|| ExecutionError::function_error("sum", "integer overflow"))?,
            ),
            (_, Value::UInt(a), Value::UInt(b)) => Value::UInt(a.saturating_add(*b)),
            (_, Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            _ => {
                return Err(ExecutionError::function_error(
                    "sum",
                    "the list holds values that do not add",
                ))
            }
        };
    }
    Ok(acc)
}

fn regex(f: &str, pattern: &str) -> Result<regex::Regex, ExecutionError> {
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(f, e))
}

/// `string.find(regex)`: the first match, or `''`.
fn find(This(this): This<Arc<String>>, pattern: Arc<String>) -> Result<Value, ExecutionError> {
    let re = regex("find", &pattern)?;
    Ok(text(re.find(&this).map(|m| m.as_str()).unwrap_or_default()))
}

/// `string.findAll(regex)` and `string.findAll(regex, limit)`.
fn find_all(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    Arguments(args): Arguments,
) -> Result<Value, ExecutionError> {
    let pattern = match args.first() {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(ftx.error("expects a regular expression")),
    };
    let limit = match args.get(1) {
        Some(Value::Int(n)) if *n >= 0 => *n as usize,
        Some(Value::Int(_)) | None => usize::MAX,
        Some(_) => return Err(ftx.error("the limit is an int")),
    };
    let re = regex("findAll", &pattern)?;
    let found: Vec<Value> = re
        .find_iter(&this)
        .take(limit)
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect();
    Ok(Value::List(Arc::new(found)))
}

/// A Kubernetes quantity (`quantity('1.5Gi')`), compared by value.
#[derive(Debug, PartialEq)]
struct Quantity {
    text: String,
    value: f64,
}
impl Eq for Quantity {}
impl Opaque for Quantity {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.Quantity"
    }
}

fn quantity(s: Arc<String>) -> Result<Value, ExecutionError> {
    let value = parse_quantity(&s).map_err(|e| ExecutionError::function_error("quantity", e))?;
    Ok(Value::Opaque(Arc::new(Quantity {
        text: s.to_string(),
        value,
    })))
}

fn is_quantity(s: Arc<String>) -> bool {
    parse_quantity(&s).is_ok()
}

fn as_quantity(v: &Value) -> Result<&Quantity, ExecutionError> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<Quantity>(),
        _ => None,
    }
    .ok_or_else(|| ExecutionError::function_error("quantity", "expects a quantity"))
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, ExecutionError> {
    let (a, b) = (as_quantity(a)?, as_quantity(b)?);
    a.value
        .partial_cmp(&b.value)
        .ok_or_else(|| ExecutionError::function_error("compareTo", "the quantities do not compare"))
}

/// A URL as Kubernetes' `url()` reads it (absolute URI or absolute path).
#[derive(Debug, PartialEq, Eq)]
struct Url {
    scheme: String,
    host: String,
    path: String,
    query: String,
}
impl Opaque for Url {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.URL"
    }
}
impl Url {
    fn hostname(&self) -> String {
        let h = &self.host;
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or_default().to_string();
        }
        h.rsplit_once(':').map(|(n, _)| n).unwrap_or(h).to_string()
    }
    fn port(&self) -> String {
        let after = match self.host.rfind(']') {
            Some(i) => &self.host[i + 1..],
            None => &self.host,
        };
        after
            .rsplit_once(':')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default()
    }
}

fn parse_url(s: &str) -> Option<Url> {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((scheme, rest)) => {
            let ok = scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !ok {
                return None;
            }
            (scheme.to_string(), rest)
        }
        None if s.starts_with('/') => (String::new(), s),
        None => return None,
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, path) = if scheme.is_empty() {
        (String::new(), before_query.to_string())
    } else {
        match before_query.find('/') {
            Some(i) => (before_query[..i].to_string(), before_query[i..].to_string()),
            None => (before_query.to_string(), String::new()),
        }
    };
    Some(Url {
        scheme,
        host,
        path,
        query: query.to_string(),
    })
}

fn url(s: Arc<String>) -> Result<Value, ExecutionError> {
    parse_url(&s)
        .map(|u| Value::Opaque(Arc::new(u)))
        .ok_or_else(|| ExecutionError::function_error("url", format!("`{s}` is not a URL")))
}

fn as_url(v: &Value) -> Result<&Url, ExecutionError> {
    match v {
        Value::Opaque(o) => o.downcast_ref::<Url>(),
        _ => None,
    }
    .ok_or_else(|| ExecutionError::function_error("url", "expects a URL"))
}

/// `url.getQuery()`: a map from each query key to its values.
fn get_query(This(this): This<Value>) -> Result<Value, ExecutionError> {
    let u = as_url(&this)?;
    let mut map: HashMap<Key, Vec<Value>> = HashMap::new();
    for pair in u.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(Key::from(k.to_string()))
            .or_default()
            .push(Value::String(Arc::new(v.to_string())));
    }
    let map: HashMap<Key, Value> = map
        .into_iter()
        .map(|(k, v)| (k, Value::List(Arc::new(v))))
        .collect();
    Ok(Value::Map(Map { map: Arc::new(map) }))
}

/// The named formats of Kubernetes' format library and what each accepts.
/// A format check: `None` when the text has the format, else why not.
type FormatCheck = fn(&str) -> Option<String>;

static FORMATS: &[(&str, FormatCheck)] = &[
    ("dns1123Label", |s| dns_label(s, 63, false)),
    ("dns1123Subdomain", dns_subdomain),
    ("dns1035Label", |s| dns_label(s, 63, true)),
    ("qualifiedName", qualified_name),
    ("dns1123LabelPrefix", |s| {
        dns_label(s.strip_suffix('-').unwrap_or(s), 63, false)
    }),
    ("dns1123SubdomainPrefix", |s| {
        dns_subdomain(s.strip_suffix('-').unwrap_or(s))
    }),
    ("labelValue", label_value),
    ("uri", |s| {
        parse_url(s).is_none().then(|| "must be a URI".to_string())
    }),
    ("uuid", uuid),
    ("byte", |s| {
        let ok = s.len() % 4 == 0
            && s.trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        (!ok).then(|| "must be base64".to_string())
    }),
    ("date", |s| {
        crate::check::date::Date::parse(s)
            .is_none()
            .then(|| "must be a date (YYYY-MM-DD)".to_string())
    }),
];

fn dns_label(s: &str, max: usize, letter_first: bool) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && (!letter_first || s.starts_with(|c: char| c.is_ascii_lowercase()));
    (!ok).then(|| {
        format!("must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, at most {max} characters")
    })
}

fn dns_subdomain(s: &str) -> Option<String> {
    let ok =
        !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| dns_label(l, 63, false).is_none());
    (!ok).then(|| "must be a lowercase RFC 1123 subdomain, at most 253 characters".to_string())
}

fn label_value(s: &str) -> Option<String> {
    let ok = s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric()));
    (!ok).then(|| "must be 63 characters or less, alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric".to_string())
}

fn qualified_name(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if prefix.is_some_and(|p| dns_subdomain(p).is_some()) {
        return Some("the prefix must be a DNS subdomain".to_string());
    }
    (name.is_empty() || label_value(name).is_some())
        .then(|| "must be a qualified name: a name of at most 63 characters, alphanumerics, '-', '_' or '.', with an optional DNS subdomain prefix and '/'".to_string())
}

fn uuid(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    (!ok).then(|| "must be a UUID".to_string())
}

/// A named format, as `format.dns1123Label()` returns it.
#[derive(Debug, PartialEq, Eq)]
struct Format(&'static str);
impl Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.NamedFormat"
    }
}

fn named_format(name: &'static str) -> Value {
    optional(Some(Value::Opaque(Arc::new(Format(name)))))
}

/// `format.<name>().validate(s)`: `optional.none()` when `s` has the format, else the errors.
fn validate(This(this): This<Value>, s: Arc<String>) -> Result<Value, ExecutionError> {
    let format = match &this {
        Value::Opaque(o) => o.downcast_ref::<Format>().or_else(|| {
            o.downcast_ref::<OptionalValue>()
                .and_then(|v| match v.value() {
                    Some(Value::Opaque(i)) => i.downcast_ref::<Format>(),
                    _ => None,
                })
        }),
        _ => None,
    }
    .ok_or_else(|| ExecutionError::function_error("validate", "expects a format"))?;
    let check = FORMATS
        .iter()
        .find(|(n, _)| *n == format.0)
        .map(|(_, f)| *f)
        .ok_or_else(|| ExecutionError::function_error("validate", "unknown format"))?;
    Ok(optional(check(&s).map(|e| {
        Value::List(Arc::new(vec![Value::String(Arc::new(e))]))
    })))
}

/// An object tree as a CEL value.
pub fn value_of(node: &Node) -> Value {
    match &node.value {
        node::Value::Null => Value::Null,
        node::Value::Bool(b) => Value::Bool(*b),
        node::Value::Int(i) => Value::Int(*i),
        node::Value::Float(f) => Value::Float(*f),
        node::Value::Str(s) => Value::String(Arc::new(s.clone())),
        node::Value::Seq(items) => Value::List(Arc::new(items.iter().map(value_of).collect())),
        node::Value::Map(m) => Value::Map(Map {
            map: Arc::new(
                m.iter()
                    .map(|(k, v)| (Key::from(k.name.clone()), value_of(v)))
                    .collect(),
            ),
        }),
    }
}

/// A map value from named entries.
pub fn map_of(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(Map {
        map: Arc::new(
            entries
                .into_iter()
                .map(|(k, v)| (Key::from(k.to_string()), v))
                .collect(),
        ),
    })
}

/// The text of a value for a message (`messageExpression` must give a string).
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// How deep an expression may nest brackets (checked on its text, before parsing).
pub const MAX_NESTING: usize = 32;
/// How deep an expression's syntax tree may be (a chain of 100 `+` is 100 deep).
pub const MAX_DEPTH: usize = 128;

/// The deepest nesting of `(`, `[` and `{` in an expression's text, outside quoted strings.
fn nesting(source: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                max = max.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    max
}

/// The depth of a syntax tree, walked without recursion.
fn depth(root: &IdedExpr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(children(e).into_iter().map(|c| (c, d + 1)));
    }
    max
}

/// The steps a comprehension may take at most, per evaluation of one rule: the API server's own
/// runtime budget for one rule is 1,000,000 cost units, and its estimate for a CRD's rule 10,000,000.
pub const COST_BUDGET: u64 = 10_000_000;

/// The longest list or map (`entries`) and the longest string (`text`) of some data.
#[derive(Clone, Copy, Default, Debug)]
pub struct Widths {
    pub entries: usize,
    pub text: usize,
}

impl Widths {
    pub fn max(self, other: Widths) -> Widths {
        Widths {
            entries: self.entries.max(other.entries),
            text: self.text.max(other.text),
        }
    }
}

/// The widths of a tree.
pub fn widths(node: &Node) -> Widths {
    if let Some(items) = node.as_seq() {
        items.iter().map(widths).fold(
            Widths {
                entries: items.len(),
                text: 0,
            },
            Widths::max,
        )
    } else if let Some(map) = node.as_map() {
        map.iter()
            .map(|(k, v)| {
                widths(v).max(Widths {
                    entries: 0,
                    text: k.name.len(),
                })
            })
            .fold(
                Widths {
                    entries: map.len(),
                    text: 0,
                },
                Widths::max,
            )
    } else {
        Widths {
            entries: 0,
            text: node.as_str().map_or(0, str::len),
        }
    }
}

/// The children of an expression node.
fn children(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) => c.target.as_deref().into_iter().chain(&c.args).collect(),
        Expr::Select(s) => vec![&s.operand],
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m
            .entries
            .iter()
            .filter_map(|en| match &en.expr {
                cel::common::ast::EntryExpr::MapEntry(me) => Some([&me.key, &me.value]),
                _ => None,
            })
            .flatten()
            .collect(),
        Expr::Struct(st) => st
            .entries
            .iter()
            .filter_map(|en| match &en.expr {
                cel::common::ast::EntryExpr::StructField(f) => Some(&f.value),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The entries of an expression's list and map literals.
fn literal_entries(e: &IdedExpr) -> usize {
    let own = match &e.expr {
        Expr::List(l) => l.elements.len(),
        Expr::Map(m) => m.entries.len(),
        _ => 0,
    };
    children(e)
        .into_iter()
        .map(literal_entries)
        .fold(own, usize::saturating_add)
}

/// The most entries the value of `e` can hold, when it is a list or map (see [`Expression::cost`]).
fn size(e: &IdedExpr, w: Widths) -> u64 {
    let data = w.entries as u64;
    match &e.expr {
        Expr::List(l) => l.elements.len() as u64,
        Expr::Map(m) => m.entries.len() as u64,
        Expr::Comprehension(c) => size(&c.iter_range, w),
        Expr::Call(c) if c.func_name == "_+_" => c
            .args
            .iter()
            .fold(0, |sum, a| sum.saturating_add(size(a, w))),
        Expr::Call(c) if c.func_name == "_[_]" || c.func_name == "_?_:_" => data,
        Expr::Call(_) => data.max(w.text as u64),
        _ => data,
    }
}

fn cost(e: &IdedExpr, w: Widths) -> u64 {
    match &e.expr {
        Expr::Comprehension(c) => {
            let body = cost(&c.loop_cond, w).saturating_add(cost(&c.loop_step, w));
            cost(&c.iter_range, w)
                .saturating_add(cost(&c.accu_init, w))
                .saturating_add(size(&c.iter_range, w).saturating_mul(body))
                .saturating_add(cost(&c.result, w))
        }
        _ => children(e)
            .into_iter()
            .fold(1, |sum, c| sum.saturating_add(cost(c, w))),
    }
}

fn collect_paths(e: &IdedExpr, root: &str, out: &mut Vec<Vec<String>>) {
    if let Some(path) = path_of(e, root) {
        out.push(path);
        return;
    }
    match &e.expr {
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                collect_paths(t, root, out);
            }
            for a in &c.args {
                collect_paths(a, root, out);
            }
        }
        Expr::Select(s) => collect_paths(&s.operand, root, out),
        Expr::Comprehension(c) => {
            collect_paths(&c.iter_range, root, out);
            collect_paths(&c.loop_step, root, out);
            collect_paths(&c.result, root, out);
        }
        Expr::List(l) => l.elements.iter().for_each(|x| collect_paths(x, root, out)),
        Expr::Map(m) => {
            for en in &m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &en.expr {
                    collect_paths(&me.key, root, out);
                    collect_paths(&me.value, root, out);
                }
            }
        }
        _ => {}
    }
}

/// `root.a.b['c']` as `[a, b, c]`; `None` when `e` is no such chain.
fn path_of(e: &IdedExpr, root: &str) -> Option<Vec<String>> {
    match &e.expr {
        Expr::Ident(name) if name == root => Some(Vec::new()),
        Expr::Select(s) => {
            let mut p = path_of(&s.operand, root)?;
            p.push(s.field.clone());
            Some(p)
        }
        Expr::Call(c) if c.func_name == "_[_]" && c.args.len() == 2 => {
            let mut p = path_of(&c.args[0], root)?;
            match &c.args[1].expr {
                Expr::Literal(LiteralValue::String(s)) => p.push(s.to_string()),
                Expr::Literal(LiteralValue::Int(i)) => p.push(i.to_string()),
                _ => return Some(p),
            }
            Some(p)
        }
        _ => None,
    }
}

/// The deepest node of `object` each path reaches; the one node when they all reach the same, else
/// `None` (the rule reads several fields: the finding points at the object).
pub fn field_read<'a>(object: &'a Node, paths: &[Vec<String>]) -> Option<&'a Node> {
    let mut found: Option<&Node> = None;
    for p in paths {
        let mut n = object;
        for key in p {
            let next = match &n.value {
                node::Value::Map(m) => m.get(key),
                node::Value::Seq(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(x) => n = x,
                None => break,
            }
        }
        if std::ptr::eq(n, object) {
            return None;
        }
        match found {
            Some(f) if !std::ptr::eq(f, n) => return None,
            _ => found = Some(n),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Result<Value, String> {
        let e = Expression::compile(src)?;
        e.eval(&Scope::default())
    }

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert_eq!(nesting("f(a[1], {'k': (2)})"), 3);
        assert_eq!(nesting("'((((' + \"[[[\\\"[[\" + 'a\\'('"), 0);
        let deep = format!("{}1{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(
            Expression::compile(&deep).err().as_deref(),
            Some("the expression nests brackets more than 32 deep")
        );
        let quoted = format!("'{}' != ''", "(".repeat(100));
        assert!(Expression::compile(&quoted).is_ok());
    }

    #[test]
    fn the_cost_bound_multiplies_nested_ranges() {
        let w = |entries, text| Widths { entries, text };
        let flat = Expression::compile("self.a == 1 && self.b.size() < 3").expect("compiles");
        assert!(!flat.loops());
        assert_eq!(flat.cost(w(1_000_000, 0)), flat.cost(w(0, 0)));
        let two = Expression::compile("self.l.all(a, self.l.all(b, a != b))").expect("compiles");
        assert!(two.loops());
        // 100 × 100 bodies of a few steps each: well inside the budget; 10,000 × 10,000 is not.
        assert!(two.too_costly(w(100, 0)).is_none());
        assert!(two.too_costly(w(10_000, 0)).is_some());
        // A list literal sets the range, concatenation adds, and a function of a string may return
        // a list as long as the string.
        let lit = Expression::compile("[1, 2, 3].all(a, [4, 5].all(b, a != b))").expect("compiles");
        assert!(lit.cost(w(0, 0)) < 3 * 2 * 20);
        let plus = Expression::compile("(self.l + self.l).all(a, a > 0)").expect("compiles");
        assert!(plus.cost(w(10, 0)) > 2 * 10);
        let found = Expression::compile("self.s.findAll('a').all(a, a != '')").expect("compiles");
        assert!(found.cost(w(1, 5_000)) > 5_000);
    }

    #[test]
    fn kubernetes_library() {
        for (src, want) in [
            ("[1, 2, 3].isSorted()", true),
            ("[1, 3, 2].isSorted()", false),
            ("['a', 'b'].isSorted()", true),
            ("[1, 2, 3].sum() == 6", true),
            ("quantity('1Gi').isGreaterThan(quantity('1000Mi'))", true),
            ("quantity('500m').isLessThan(quantity('1'))", true),
            ("quantity('1k').compareTo(quantity('1000')) == 0", true),
            ("quantity('2').asInteger() == 2", true),
            ("isQuantity('1.5Gi') && !isQuantity('1.5 Gi')", true),
            (
                "url('https://example.com:8443/a/b?x=1&x=2').getHost() == 'example.com:8443'",
                true,
            ),
            (
                "url('https://example.com:8443/a').getPort() == '8443'",
                true,
            ),
            ("url('https://example.com/a').getScheme() == 'https'", true),
            (
                "url('https://example.com/a?x=1&x=2').getQuery()['x'] == ['1', '2']",
                true,
            ),
            ("isURL('/absolute/path') && !isURL('not a url')", true),
            ("'abc123def'.find('[0-9]+') == '123'", true),
            ("'a1b22c333'.findAll('[0-9]+') == ['1', '22', '333']", true),
            ("'a1b22c333'.findAll('[0-9]+', 2) == ['1', '22']", true),
            ("'release-v1'.matches('^release-v[0-9]+$')", true),
            (
                "!format.dns1123Label().validate('openim-api').hasValue()",
                true,
            ),
            (
                "format.dns1123Label().validate('OpenIM_api').hasValue()",
                true,
            ),
            ("format.named('labelValue').hasValue()", true),
            ("'OpenIM'.lowerAscii() == 'openim'", true),
        ] {
            assert_eq!(eval(src), Ok(Value::Bool(want)), "{src}");
        }
        assert!(eval("quantity('12 apples')").is_err());
        assert!(eval("[1, 'a'].isSorted()").is_err());
    }

    #[test]
    fn paths_read() {
        let e = Expression::compile("object.spec.replicas <= 5 && has(object.metadata.labels) && 'app' in object.metadata.labels && object.metadata.labels['team'] != ''").unwrap();
        assert_eq!(
            e.paths_below("object"),
            vec![
                vec!["spec".to_string(), "replicas".into()],
                vec!["metadata".into(), "labels".into()],
                vec!["metadata".into(), "labels".into()],
                vec!["metadata".into(), "labels".into(), "team".into()],
            ]
        );
    }
}
