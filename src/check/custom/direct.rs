//! CEL evaluated directly over the object tree, for the part of the language policies use most
//! (field selection, `has()`, indexing, comparisons, logic, integer arithmetic, `size()`, `in`, the
//! comprehension macros, the string tests, `matches`, `quantity()`).
//!
//! The interpreter of the `cel` crate stays the reference: an expression is parsed by it, and this
//! evaluator only ever answers `true` or `false` where the interpreter gives that same bool. Anything
//! else (an error, a value that is not a bool, a construct or a value outside the subset) is handed
//! back undecided, and the interpreter evaluates the expression as before, so messages and findings
//! are the interpreter's own. What it saves: converting every object into the interpreter's values,
//! a child context per evaluation, and a copy of every element a comprehension binds.
//!
//! Errors are tracked without their text, because `&&`, `||` and the `all`/`exists` loops absorb
//! them exactly as the interpreter does (`error && false` is `false`), and a result is only given
//! when it does not depend on which error it was.

use std::cmp::Ordering;
use std::rc::Rc;

use cel::common::ast::{operators, Expr, IdedExpr, LiteralValue};

use crate::k8s::quantity::parse_quantity;
use crate::node::{self, Node};

/// A value bound to a variable name for [`Program::decide`].
#[derive(Clone, Copy, Debug)]
pub enum Bound<'a> {
    Node(&'a Node),
    Null,
    Str(&'a str),
}

/// An expression compiled for direct evaluation.
#[derive(Debug)]
pub struct Program {
    root: Ex,
}

impl Program {
    /// The program for a parsed expression, or `None` when it uses anything outside the subset.
    pub fn compile(e: &IdedExpr) -> Option<Program> {
        Some(Program {
            root: compile(e, &mut Vec::new())?,
        })
    }

    /// The bool the expression gives with `vars` bound, when this evaluator is sure of it; `None`
    /// leaves the answer (and any error's text) to the interpreter.
    pub fn decide(&self, vars: &[(&str, Bound<'_>)]) -> Option<bool> {
        match self.outcome(vars) {
            Ok(V::Bool(b)) => Some(b),
            _ => None,
        }
    }

    fn outcome<'a>(&'a self, vars: &[(&'a str, Bound<'a>)]) -> Result<V<'a>, Stop> {
        let mut scope: Vec<(&'a str, V<'a>)> = vars
            .iter()
            .map(|(n, b)| {
                (
                    *n,
                    match b {
                        Bound::Node(n) => of_node(n),
                        Bound::Null => V::Null,
                        Bound::Str(s) => V::Str(s),
                    },
                )
            })
            .collect();
        eval(&self.root, &mut scope)
    }
}

/// Why an evaluation gave no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// The interpreter gives an error here (which one is its to say).
    Error,
    /// Outside what this evaluator knows for sure.
    Defer,
}

type R<'a> = Result<V<'a>, Stop>;

/// A value: scalars, a map or list of the tree by reference, a list made by the expression, a
/// quantity.
#[derive(Clone, Debug)]
enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(&'a str),
    Text(Rc<str>),
    Map(&'a node::Map),
    Seq(&'a [Node]),
    List(Rc<Vec<V<'a>>>),
    Quantity(f64),
}

impl<'a> V<'a> {
    fn str(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::Text(s) => Some(s),
            _ => None,
        }
    }

    fn is_scalar(&self) -> bool {
        matches!(
            self,
            V::Null | V::Bool(_) | V::Int(_) | V::UInt(_) | V::Double(_) | V::Str(_) | V::Text(_)
        )
    }

    fn len(&self) -> Option<usize> {
        match self {
            V::Seq(s) => Some(s.len()),
            V::List(l) => Some(l.len()),
            _ => None,
        }
    }

    fn item(&self, i: usize) -> Option<V<'a>> {
        match self {
            V::Seq(s) => s.get(i).map(of_node),
            V::List(l) => l.get(i).cloned(),
            _ => None,
        }
    }
}

fn of_node(n: &Node) -> V<'_> {
    match &n.value {
        node::Value::Null => V::Null,
        node::Value::Bool(b) => V::Bool(*b),
        node::Value::Int(i) => V::Int(*i),
        node::Value::Float(f) => V::Double(*f),
        node::Value::Str(s) => V::Str(s),
        node::Value::Seq(s) => V::Seq(s),
        node::Value::Map(m) => V::Map(m),
    }
}

#[derive(Debug)]
enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(String),
}

#[derive(Clone, Copy, Debug)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Clone, Copy, Debug)]
enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Clone, Copy, Debug)]
enum QTest {
    Less,
    Greater,
    CompareTo,
}

#[derive(Debug)]
enum Pattern {
    /// A literal pattern, compiled once (`None`: it does not compile, an error at every call).
    Fixed(Option<regex::Regex>),
    Dynamic(Box<Ex>),
}

#[derive(Debug)]
enum Ex {
    Lit(Lit),
    Var(String),
    Select(Box<Ex>, String),
    Has(Box<Ex>, String),
    Index(Box<Ex>, Box<Ex>),
    And(Box<Ex>, Box<Ex>),
    Or(Box<Ex>, Box<Ex>),
    Not(Box<Ex>),
    Cond(Box<(Ex, Ex, Ex)>),
    Eq(bool, Box<Ex>, Box<Ex>),
    Cmp(Cmp, Box<Ex>, Box<Ex>),
    Arith(Arith, Box<Ex>, Box<Ex>),
    Neg(Box<Ex>),
    In(Box<Ex>, Box<Ex>),
    NotStrictlyFalse(Box<Ex>),
    Size(Box<Ex>),
    StrTest(StrTest, Box<Ex>, Box<Ex>),
    Matches(Box<Ex>, Pattern),
    Quantity(Box<Ex>),
    /// `quantity('2Gi')`: parsed once (`None`: it does not parse, an error at every call).
    QuantityOf(Option<f64>),
    QTest(QTest, Box<Ex>, Box<Ex>),
    List(Vec<Ex>),
    Loop(Box<Loop>),
}

/// A comprehension, as the macros expand (`all`, `exists`, `exists_one`, `map`, `filter`).
#[derive(Debug)]
struct Loop {
    range: Ex,
    iter: String,
    accu: String,
    init: Ex,
    cond: Ex,
    step: Ex,
    result: Ex,
    /// `Some(absorbing)` when the step is `accu && x` (`false` absorbs errors) or `accu || x`
    /// (`true`): the interpreter then defers an element's error, as cel-go does.
    fold: Option<bool>,
}

fn b(e: Ex) -> Box<Ex> {
    Box::new(e)
}

/// The variables a caller may bind (the interpreter resolves any other name as a type or fails).
fn is_top(name: &str) -> bool {
    matches!(
        name,
        "object" | "namespaceObject" | "environment" | "self" | "params" | "oldObject"
    )
}

fn compile(e: &IdedExpr, scope: &mut Vec<String>) -> Option<Ex> {
    Some(match &e.expr {
        Expr::Literal(l) => Ex::Lit(match l {
            LiteralValue::Null => Lit::Null,
            LiteralValue::Boolean(v) => Lit::Bool(*v.inner()),
            LiteralValue::Int(v) => Lit::Int(*v.inner()),
            LiteralValue::UInt(v) => Lit::UInt(*v.inner()),
            LiteralValue::Double(v) => Lit::Double(*v.inner()),
            LiteralValue::String(v) => Lit::Str(v.inner().to_string()),
            LiteralValue::Bytes(_) => return None,
        }),
        Expr::Ident(name) => {
            if !scope.iter().any(|s| s == name) && !is_top(name) {
                return None;
            }
            Ex::Var(name.clone())
        }
        Expr::Select(s) => {
            let operand = b(compile(&s.operand, scope)?);
            if s.test {
                Ex::Has(operand, s.field.clone())
            } else {
                Ex::Select(operand, s.field.clone())
            }
        }
        Expr::List(l) => {
            if !l.optional_indices.is_empty() {
                return None;
            }
            Ex::List(
                l.elements
                    .iter()
                    .map(|x| compile(x, scope))
                    .collect::<Option<_>>()?,
            )
        }
        Expr::Comprehension(c) => {
            if c.iter_var2.is_some() {
                return None;
            }
            let range = compile(&c.iter_range, scope)?;
            let init = compile(&c.accu_init, scope)?;
            scope.push(c.accu_var.clone());
            let cond = compile(&c.loop_cond, scope);
            scope.push(c.iter_var.clone());
            let step = compile(&c.loop_step, scope);
            let result = compile(&c.result, scope);
            scope.pop();
            scope.pop();
            let fold = match &c.loop_step.expr {
                Expr::Call(call)
                    if call.target.is_none()
                        && matches!(
                            call.args.first().map(|a| &a.expr),
                            Some(Expr::Ident(n)) if *n == c.accu_var
                        ) =>
                {
                    match call.func_name.as_str() {
                        operators::LOGICAL_AND => Some(false),
                        operators::LOGICAL_OR => Some(true),
                        _ => None,
                    }
                }
                _ => None,
            };
            Ex::Loop(Box::new(Loop {
                range,
                iter: c.iter_var.clone(),
                accu: c.accu_var.clone(),
                init,
                cond: cond?,
                step: step?,
                result: result?,
                fold,
            }))
        }
        Expr::Call(call) => return compile_call(call, scope),
        Expr::Map(_) | Expr::Struct(_) | Expr::Unspecified => return None,
    })
}

fn compile_call(call: &cel::common::ast::CallExpr, scope: &mut Vec<String>) -> Option<Ex> {
    let name = call.func_name.as_str();
    let mut args = Vec::with_capacity(call.args.len());
    for a in &call.args {
        args.push(compile(a, scope)?);
    }
    if let Some(t) = &call.target {
        // A target that spells a name rooted at a variable never names a function
        // (`format.named(...)` does not compile here: `format` is no variable).
        let target = b(compile(t, scope)?);
        let mut args = args.into_iter();
        return Some(match (name, args.next(), args.next()) {
            ("size", None, None) => Ex::Size(target),
            ("startsWith", Some(a), None) => Ex::StrTest(StrTest::StartsWith, target, b(a)),
            ("endsWith", Some(a), None) => Ex::StrTest(StrTest::EndsWith, target, b(a)),
            ("contains", Some(a), None) => Ex::StrTest(StrTest::Contains, target, b(a)),
            ("matches", Some(a), None) => Ex::Matches(target, pattern(a, &call.args[0])),
            ("isLessThan", Some(a), None) => Ex::QTest(QTest::Less, target, b(a)),
            ("isGreaterThan", Some(a), None) => Ex::QTest(QTest::Greater, target, b(a)),
            ("compareTo", Some(a), None) => Ex::QTest(QTest::CompareTo, target, b(a)),
            _ => return None,
        });
    }
    let n = args.len();
    let mut args = args.into_iter();
    let mut next = || args.next().map(b);
    Some(match (name, n) {
        (operators::LOGICAL_AND, 2) => Ex::And(next()?, next()?),
        (operators::LOGICAL_OR, 2) => Ex::Or(next()?, next()?),
        (operators::CONDITIONAL, 3) => {
            let (c, t, f) = (next()?, next()?, next()?);
            Ex::Cond(Box::new((*c, *t, *f)))
        }
        (operators::LOGICAL_NOT, 1) => Ex::Not(next()?),
        (operators::NEGATE, 1) => Ex::Neg(next()?),
        (operators::NOT_STRICTLY_FALSE, 1) => Ex::NotStrictlyFalse(next()?),
        (operators::EQUALS, 2) => Ex::Eq(false, next()?, next()?),
        (operators::NOT_EQUALS, 2) => Ex::Eq(true, next()?, next()?),
        (operators::LESS, 2) => Ex::Cmp(Cmp::Lt, next()?, next()?),
        (operators::LESS_EQUALS, 2) => Ex::Cmp(Cmp::Le, next()?, next()?),
        (operators::GREATER, 2) => Ex::Cmp(Cmp::Gt, next()?, next()?),
        (operators::GREATER_EQUALS, 2) => Ex::Cmp(Cmp::Ge, next()?, next()?),
        (operators::ADD, 2) => Ex::Arith(Arith::Add, next()?, next()?),
        (operators::SUBSTRACT, 2) => Ex::Arith(Arith::Sub, next()?, next()?),
        (operators::MULTIPLY, 2) => Ex::Arith(Arith::Mul, next()?, next()?),
        (operators::DIVIDE, 2) => Ex::Arith(Arith::Div, next()?, next()?),
        (operators::MODULO, 2) => Ex::Arith(Arith::Mod, next()?, next()?),
        (operators::INDEX, 2) => Ex::Index(next()?, next()?),
        (operators::IN, 2) => Ex::In(next()?, next()?),
        ("size", 1) => Ex::Size(next()?),
        ("matches", 2) => {
            let s = next()?;
            let p = next()?;
            Ex::Matches(s, pattern(*p, &call.args[1]))
        }
        ("quantity", 1) => match &call.args[0].expr {
            Expr::Literal(LiteralValue::String(s)) => {
                Ex::QuantityOf(parse_quantity(s.inner()).ok())
            }
            _ => Ex::Quantity(next()?),
        },
        _ => return None,
    })
}

fn pattern(compiled: Ex, source: &IdedExpr) -> Pattern {
    match &source.expr {
        Expr::Literal(LiteralValue::String(s)) => Pattern::Fixed(regex::Regex::new(s.inner()).ok()),
        _ => Pattern::Dynamic(b(compiled)),
    }
}

fn lookup<'a>(scope: &[(&'a str, V<'a>)], name: &str) -> R<'a> {
    scope
        .iter()
        .rev()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
        .ok_or(Stop::Defer)
}

/// `try_bool` of the interpreter: a bool, else an error (an error stays one, a deferral too).
fn as_bool(r: R<'_>) -> Result<bool, Stop> {
    match r? {
        V::Bool(b) => Ok(b),
        _ => Err(Stop::Error),
    }
}

fn eval<'a>(e: &'a Ex, scope: &mut Vec<(&'a str, V<'a>)>) -> R<'a> {
    match e {
        Ex::Lit(l) => Ok(match l {
            Lit::Null => V::Null,
            Lit::Bool(b) => V::Bool(*b),
            Lit::Int(i) => V::Int(*i),
            Lit::UInt(u) => V::UInt(*u),
            Lit::Double(d) => V::Double(*d),
            Lit::Str(s) => V::Str(s),
        }),
        Ex::Var(name) => lookup(scope, name),
        Ex::Select(x, field) => match eval(x, scope)? {
            V::Map(m) => m.get(field).map(of_node).ok_or(Stop::Error),
            _ => Err(Stop::Defer),
        },
        Ex::Has(x, field) => match eval(x, scope)? {
            V::Map(m) => Ok(V::Bool(m.get(field).is_some())),
            _ => Err(Stop::Defer),
        },
        Ex::Index(x, i) => {
            let base = eval(x, scope)?;
            let idx = eval(i, scope)?;
            match (&base, &idx) {
                (V::Map(m), _) => match idx.str() {
                    Some(k) => m.get(k).map(of_node).ok_or(Stop::Error),
                    None => Err(Stop::Defer),
                },
                (V::Seq(_) | V::List(_), V::Int(i)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| base.item(i))
                    .ok_or(Stop::Error),
                (V::Seq(_) | V::List(_), V::UInt(i)) => usize::try_from(*i)
                    .ok()
                    .and_then(|i| base.item(i))
                    .ok_or(Stop::Error),
                _ => Err(Stop::Defer),
            }
        }
        Ex::And(l, r) | Ex::Or(l, r) => {
            let absorbing = matches!(e, Ex::Or(..));
            let left = as_bool(eval(l, scope));
            if left == Err(Stop::Defer) {
                return Err(Stop::Defer);
            }
            if left == Ok(absorbing) {
                return Ok(V::Bool(absorbing));
            }
            // The right side is evaluated and its error wins, as in the interpreter.
            let right = match eval(r, scope)? {
                V::Bool(b) => Some(b),
                _ => None,
            };
            match (left, right) {
                (Ok(_), Some(r)) => Ok(V::Bool(r)),
                (Err(_), Some(r)) if r == absorbing => Ok(V::Bool(r)),
                _ => Err(Stop::Error),
            }
        }
        Ex::Not(x) => match eval(x, scope)? {
            V::Bool(b) => Ok(V::Bool(!b)),
            _ => Err(Stop::Error),
        },
        Ex::Cond(c) => {
            if as_bool(eval(&c.0, scope))? {
                eval(&c.1, scope)
            } else {
                eval(&c.2, scope)
            }
        }
        Ex::NotStrictlyFalse(x) => match as_bool(eval(x, scope)) {
            Ok(b) => Ok(V::Bool(b)),
            Err(Stop::Error) => Ok(V::Bool(true)),
            Err(Stop::Defer) => Err(Stop::Defer),
        },
        Ex::Eq(negate, l, r) => {
            let (l, r) = (eval(l, scope)?, eval(r, scope)?);
            Ok(V::Bool(equals(&l, &r)? != *negate))
        }
        Ex::Cmp(op, l, r) => {
            let (l, r) = (eval(l, scope)?, eval(r, scope)?);
            let o = compare(&l, &r)?;
            Ok(V::Bool(match op {
                Cmp::Lt => o == Ordering::Less,
                Cmp::Le => o != Ordering::Greater,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
            }))
        }
        Ex::Arith(op, l, r) => {
            let (l, r) = (eval(l, scope)?, eval(r, scope)?);
            arith(*op, l, r)
        }
        Ex::Neg(x) => match eval(x, scope)? {
            V::Int(i) => i.checked_neg().map(V::Int).ok_or(Stop::Error),
            V::Double(d) => Ok(V::Double(-d)),
            _ => Err(Stop::Defer),
        },
        Ex::In(l, r) => {
            let (l, r) = (eval(l, scope)?, eval(r, scope)?);
            match (&r, l.str()) {
                (V::Map(m), Some(k)) => Ok(V::Bool(m.get(k).is_some())),
                (V::Seq(_) | V::List(_), _) => {
                    let n = r.len().unwrap_or(0);
                    for i in 0..n {
                        let item = r.item(i).ok_or(Stop::Defer)?;
                        if equals(&item, &l)? {
                            return Ok(V::Bool(true));
                        }
                    }
                    Ok(V::Bool(false))
                }
                _ => Err(Stop::Defer),
            }
        }
        Ex::Size(x) => match eval(x, scope)? {
            V::Str(s) => Ok(V::Int(s.chars().count() as i64)),
            V::Text(s) => Ok(V::Int(s.chars().count() as i64)),
            V::Map(m) => Ok(V::Int(m.entries.len() as i64)),
            v @ (V::Seq(_) | V::List(_)) => Ok(V::Int(v.len().unwrap_or(0) as i64)),
            _ => Err(Stop::Defer),
        },
        Ex::StrTest(t, s, a) => {
            let (s, a) = (eval(s, scope)?, eval(a, scope)?);
            let (Some(s), Some(a)) = (s.str(), a.str()) else {
                return Err(Stop::Defer);
            };
            Ok(V::Bool(match t {
                StrTest::StartsWith => s.starts_with(a),
                StrTest::EndsWith => s.ends_with(a),
                StrTest::Contains => s.contains(a),
            }))
        }
        Ex::Matches(s, p) => {
            let s = eval(s, scope)?;
            match p {
                Pattern::Fixed(re) => {
                    let s = s.str().ok_or(Stop::Defer)?;
                    re.as_ref()
                        .map(|re| V::Bool(re.is_match(s)))
                        .ok_or(Stop::Error)
                }
                Pattern::Dynamic(p) => {
                    let p = eval(p, scope)?;
                    let (Some(s), Some(p)) = (s.str(), p.str()) else {
                        return Err(Stop::Defer);
                    };
                    regex::Regex::new(p)
                        .map(|re| V::Bool(re.is_match(s)))
                        .map_err(|_| Stop::Error)
                }
            }
        }
        Ex::Quantity(x) => {
            let v = eval(x, scope)?;
            let s = v.str().ok_or(Stop::Defer)?;
            parse_quantity(s).map(V::Quantity).map_err(|_| Stop::Error)
        }
        Ex::QuantityOf(q) => q.map(V::Quantity).ok_or(Stop::Error),
        Ex::QTest(t, a, c) => {
            let (a, c) = (eval(a, scope)?, eval(c, scope)?);
            let (V::Quantity(a), V::Quantity(c)) = (a, c) else {
                return Err(Stop::Defer);
            };
            let o = a.partial_cmp(&c).ok_or(Stop::Error)?;
            Ok(match t {
                QTest::Less => V::Bool(o == Ordering::Less),
                QTest::Greater => V::Bool(o == Ordering::Greater),
                QTest::CompareTo => V::Int(o as i64),
            })
        }
        Ex::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                out.push(eval(x, scope)?);
            }
            Ok(V::List(Rc::new(out)))
        }
        Ex::Loop(l) => run_loop(l, scope),
    }
}

fn run_loop<'a>(l: &'a Loop, scope: &mut Vec<(&'a str, V<'a>)>) -> R<'a> {
    let init = eval(&l.init, scope)?;
    let range = eval(&l.range, scope)?;
    // A map iterates over its keys in the interpreter's hash order: only a fold, whose result does
    // not depend on the order, is decided here.
    let keys: Option<&node::Map> = match &range {
        V::Map(m) if l.fold.is_some() => Some(m),
        V::Seq(_) | V::List(_) => None,
        _ => return Err(Stop::Defer),
    };
    let n = match keys {
        Some(m) => m.entries.len(),
        None => range.len().unwrap_or(0),
    };
    let base = scope.len();
    scope.push((l.accu.as_str(), init));
    let out = (|| {
        let mut pending = false;
        for i in 0..n {
            if !as_bool(eval(&l.cond, scope))? {
                break;
            }
            let item = match keys {
                Some(m) => V::Str(m.entries[i].0.name.as_str()),
                None => range.item(i).ok_or(Stop::Defer)?,
            };
            scope.truncate(base + 1);
            scope.push((l.iter.as_str(), item));
            let step = eval(&l.step, scope);
            match (step, l.fold) {
                (Err(Stop::Defer), _) => return Err(Stop::Defer),
                (Err(Stop::Error), Some(_)) => pending = true,
                (Err(Stop::Error), None) => return Err(Stop::Error),
                (Ok(v), Some(absorbing))
                    if pending && !matches!(v, V::Bool(b) if b == absorbing) => {}
                (Ok(v), _) => {
                    pending = false;
                    scope[base].1 = v;
                }
            }
        }
        if pending {
            return Err(Stop::Error);
        }
        eval(&l.result, scope)
    })();
    scope.truncate(base);
    out
}

fn equals(a: &V<'_>, b: &V<'_>) -> Result<bool, Stop> {
    if !a.is_scalar() || !b.is_scalar() {
        return Err(Stop::Defer);
    }
    Ok(match (a, b) {
        (V::Null, V::Null) => true,
        (V::Bool(x), V::Bool(y)) => x == y,
        _ => match (a.str(), b.str()) {
            (Some(x), Some(y)) => x == y,
            (Some(_), None) | (None, Some(_)) => false,
            (None, None) => compare(a, b).map(|o| o == Ordering::Equal).unwrap_or(false),
        },
    })
}

fn compare(a: &V<'_>, b: &V<'_>) -> Result<Ordering, Stop> {
    if !a.is_scalar() || !b.is_scalar() {
        return Err(Stop::Defer);
    }
    let nan = |o: Option<Ordering>| o.ok_or(Stop::Error);
    match (a, b) {
        (V::Int(x), V::Int(y)) => Ok(x.cmp(y)),
        (V::UInt(x), V::UInt(y)) => Ok(x.cmp(y)),
        (V::Double(x), V::Double(y)) => nan(x.partial_cmp(y)),
        (V::Int(x), V::UInt(y)) => Ok(u64::try_from(*x).map_or(Ordering::Less, |x| x.cmp(y))),
        (V::UInt(x), V::Int(y)) => Ok(i64::try_from(*x).map_or(Ordering::Greater, |x| x.cmp(y))),
        (V::Int(x), V::Double(y)) => nan((*x as f64).partial_cmp(y)),
        (V::Double(x), V::Int(y)) => nan(x.partial_cmp(&(*y as f64))),
        (V::UInt(x), V::Double(y)) => nan((*x as f64).partial_cmp(y)),
        (V::Double(x), V::UInt(y)) => nan(x.partial_cmp(&(*y as f64))),
        (V::Bool(x), V::Bool(y)) => Ok(x.cmp(y)),
        _ => match (a.str(), b.str()) {
            (Some(x), Some(y)) => Ok(x.cmp(y)),
            _ => Err(Stop::Error),
        },
    }
}

fn arith<'a>(op: Arith, l: V<'a>, r: V<'a>) -> R<'a> {
    match (&l, &r) {
        (V::Int(x), V::Int(y)) => {
            let (x, y) = (*x, *y);
            match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div => x.checked_div(y),
                Arith::Mod => x.checked_rem(y),
            }
            .map(V::Int)
            .ok_or(Stop::Error)
        }
        (V::Double(x), V::Double(y)) => match op {
            Arith::Add => Ok(V::Double(x + y)),
            Arith::Sub => Ok(V::Double(x - y)),
            Arith::Mul => Ok(V::Double(x * y)),
            Arith::Div | Arith::Mod => Err(Stop::Defer),
        },
        (V::Seq(_) | V::List(_), V::Seq(_) | V::List(_)) if matches!(op, Arith::Add) => {
            let mut out = Vec::with_capacity(l.len().unwrap_or(0) + r.len().unwrap_or(0));
            for v in [&l, &r] {
                for i in 0..v.len().unwrap_or(0) {
                    out.push(v.item(i).ok_or(Stop::Defer)?);
                }
            }
            Ok(V::List(Rc::new(out)))
        }
        _ if matches!(l, V::UInt(_)) || matches!(r, V::UInt(_)) => Err(Stop::Defer),
        _ if l.is_scalar() && r.is_scalar() => match (l.str(), r.str(), op) {
            (Some(x), Some(y), Arith::Add) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                Ok(V::Text(s.into()))
            }
            _ => Err(Stop::Error),
        },
        _ => Err(Stop::Defer),
    }
}

#[cfg(test)]
mod tests {
    //! The differential test: every expression the fixtures, the policies, the docs and the benchmark
    //! hold, and generated ones, over real and generated objects, evaluated by the interpreter and by
    //! this evaluator. Where this one answers, the interpreter gives the same value; where this one
    //! says error, so does the interpreter.

    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::check::custom::cel::{prepare, value_of, Expression, Scope};
    use crate::node::{FileRole, Sources};

    fn objects_of(text: &str) -> Vec<Node> {
        let mut sources = Sources::new();
        let id = sources.add(Path::new("t.yaml"), Arc::from(text), FileRole::Resource);
        crate::load::yaml::parse(id, sources.get(id))
            .map(|d| d.into_iter().map(|d| d.root).collect())
            .unwrap_or_default()
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, ext, out);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// The YAML of the repository's fixtures, policies and the code blocks of docs/policies.md.
    fn yaml_texts() -> Vec<String> {
        let mut paths = Vec::new();
        for d in ["tests/fixtures/user-policies", "policies", "environments"] {
            files(&root().join(d), "yaml", &mut paths);
        }
        let mut texts: Vec<String> = paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        let docs = std::fs::read_to_string(root().join("docs/policies.md")).unwrap();
        for block in docs.split("```yaml").skip(1) {
            texts.push(block.split("```").next().unwrap_or_default().to_string());
        }
        texts
    }

    fn strings_under(n: &Node, keys: &[&str], out: &mut Vec<String>) {
        match &n.value {
            node::Value::Map(m) => {
                for (k, v) in &m.entries {
                    match (&v.value, keys.contains(&k.name.as_str())) {
                        (node::Value::Str(s), true) => out.push(s.clone()),
                        _ => strings_under(v, keys, out),
                    }
                }
            }
            node::Value::Seq(items) => items.iter().for_each(|x| strings_under(x, keys, out)),
            _ => {}
        }
    }

    /// The rules of bench/user-policies.py, with the numbers it gives them.
    fn bench_expressions() -> Vec<String> {
        let shapes = [
            "object.spec.replicas <= {n}",
            "has(object.metadata.labels) && 'app' in object.metadata.labels",
            "object.metadata.name.size() < 60 + {n}",
            "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
            "object.spec.template.spec.containers.all(c, has(c.resources.limits) && quantity(c.resources.limits.memory).isLessThan(quantity('{n}Gi')))",
        ];
        (0..50)
            .map(|i| shapes[i % 5].replace("{n}", &(i + 10).to_string()))
            .collect()
    }

    fn fixture_expressions() -> Vec<String> {
        let mut out = Vec::new();
        for t in yaml_texts() {
            for o in objects_of(&t) {
                strings_under(
                    &o,
                    &[
                        "expression",
                        "messageExpression",
                        "rule",
                        "messageExpression",
                    ],
                    &mut out,
                );
            }
        }
        // The expressions the tests of user policies write inline.
        let inline = regex::Regex::new(r#"(?i)(?:expression|rule): \\"(.*?)\\"\\n"#).unwrap();
        let text = std::fs::read_to_string(root().join("tests/user_policies.rs")).unwrap();
        for c in inline.captures_iter(&text) {
            out.push(c[1].replace("\\\\", "\\"));
        }
        // The expressions of the interpreter's own unit tests (`("...", true)`).
        let table =
            regex::Regex::new(r#"\(\s*"((?:[^"\\]|\\.)*)",\s*(?:true|false),?\s*\)"#).unwrap();
        let text = std::fs::read_to_string(root().join("src/check/custom/cel.rs")).unwrap();
        for c in table.captures_iter(&text) {
            out.push(c[1].replace("\\\"", "\""));
        }
        out.extend(bench_expressions());
        out.sort();
        out.dedup();
        out
    }

    /// Objects: the fixtures' and the repository's, and the shapes of the benchmark.
    fn fixture_objects() -> Vec<Node> {
        let mut out: Vec<Node> = yaml_texts().iter().flat_map(|t| objects_of(t)).collect();
        out.extend(objects_of(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-1\n  namespace: ns-1\n  labels: {app: app-1, team: team-1}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: main\n          image: registry.example.com/app-1:1.1.0\n          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n            limits: {cpu: 500m, memory: 256Mi}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg-3, namespace: ns-3, labels: {app: cfg-3}}\ndata: {mode: fast}\n",
        ));
        out
    }

    fn to_value(v: &V<'_>) -> Option<::cel::Value> {
        use ::cel::Value as C;
        Some(match v {
            V::Null => C::Null,
            V::Bool(b) => C::Bool(*b),
            V::Int(i) => C::Int(*i),
            V::UInt(u) => C::UInt(*u),
            V::Double(d) => C::Float(*d),
            V::Str(s) => C::String(Arc::new(s.to_string())),
            V::Text(s) => C::String(Arc::new(s.to_string())),
            V::Map(m) => crate::check::custom::cel::map_of(
                m.entries
                    .iter()
                    .map(|(k, n)| (k.name.as_str(), value_of(n)))
                    .collect(),
            ),
            V::Seq(s) => C::List(Arc::new(s.iter().map(value_of).collect())),
            V::List(l) => C::List(Arc::new(l.iter().map(to_value).collect::<Option<_>>()?)),
            V::Quantity(_) => return None,
        })
    }

    #[derive(Default, Debug)]
    struct Tally {
        decided: usize,
        errors: usize,
        deferred: usize,
    }

    /// An object with its values in the interpreter's form, made once.
    struct Case<'a> {
        object: &'a Node,
        namespace: Option<&'a Node>,
        object_value: Box<dyn ::cel::common::value::Val>,
        self_value: Box<dyn ::cel::common::value::Val>,
        ns_value: Box<dyn ::cel::common::value::Val>,
    }

    impl<'a> Case<'a> {
        fn new(object: &'a Node, namespace: Option<&'a Node>) -> Case<'a> {
            Case {
                object,
                namespace,
                object_value: prepare(&value_of(object)),
                self_value: prepare(&value_of(Self::selfish(object))),
                ns_value: prepare(&namespace.map_or(::cel::Value::Null, value_of)),
            }
        }

        /// What `self` is bound to: a CRD rule's `self` is the object's `spec` in most rules.
        fn selfish(object: &Node) -> &Node {
            object.get("spec").unwrap_or(object)
        }
    }

    /// Evaluates `src` over the case both ways and asserts they agree.
    fn agree(src: &str, case: &Case<'_>, tally: &mut Tally) {
        let Ok(expr) = Expression::compile(src) else {
            return;
        };
        let Some(program) = Program::compile(expr.program.expression()) else {
            tally.deferred += 1;
            return;
        };
        let vars = [
            ("object", Bound::Node(case.object)),
            (
                "namespaceObject",
                case.namespace.map_or(Bound::Null, Bound::Node),
            ),
            ("environment", Bound::Str("release")),
            ("self", Bound::Node(Case::selfish(case.object))),
        ];
        let direct = program.outcome(&vars);
        let environment = ::cel::Value::String(Arc::new("release".to_string()));
        let mut scope = Scope::default();
        scope
            .bind_prepared("object", case.object_value.as_ref())
            .bind_prepared("namespaceObject", case.ns_value.as_ref())
            .bind_prepared("self", case.self_value.as_ref())
            .bind("environment", &environment);
        let interpreted = expr.eval(&scope);
        let object = case.object;
        match (&direct, &interpreted) {
            (Err(Stop::Defer), _) => tally.deferred += 1,
            (Err(Stop::Error), Err(_)) => tally.errors += 1,
            (Ok(v), Ok(want)) => {
                if let Some(got) = to_value(v) {
                    let nan = matches!(want, ::cel::Value::Float(f) if f.is_nan());
                    assert!(
                        nan || got == *want,
                        "{src}: direct {got:?}, interpreter {want:?} on {object:?}"
                    );
                }
                tally.decided += 1;
            }
            _ => panic!("{src}: direct {direct:?}, interpreter {interpreted:?} on {object:?}"),
        }
        // What callers see: decide() answers only with the interpreter's bool.
        if let Some(b) = program.decide(&vars) {
            assert_eq!(interpreted, Ok(::cel::Value::Bool(b)), "{src}");
        }
    }

    #[test]
    fn fixtures_evaluate_alike() {
        let exprs = fixture_expressions();
        let objects = fixture_objects();
        assert!(exprs.len() >= 45, "{} expressions", exprs.len());
        assert!(objects.len() >= 50, "{} objects", objects.len());
        let namespace = objects
            .iter()
            .find(|o| o.str_at(&["kind"]) == Some("Namespace"));
        let cases: Vec<Case> = objects.iter().map(|o| Case::new(o, namespace)).collect();
        let mut tally = Tally::default();
        for e in &exprs {
            for c in &cases {
                agree(e, c, &mut tally);
            }
        }
        // Most evaluations are answered here (library functions outside the subset are deferred),
        // and errors are recognised, not only deferred.
        assert!(tally.decided + tally.errors > tally.deferred, "{tally:?}");
        assert!(tally.decided > 1000, "{tally:?}");
        assert!(tally.errors > 0, "{tally:?}");
    }

    #[test]
    fn the_benchmark_rules_are_decided_directly() {
        let objects = fixture_objects();
        let bench = &objects[objects.len() - 2];
        for e in bench_expressions() {
            let expr = Expression::compile(&e).unwrap();
            let b = expr.decide(&[
                ("object", Bound::Node(bench)),
                ("namespaceObject", Bound::Null),
                ("environment", Bound::Str("")),
            ]);
            assert_eq!(b, Some(true), "{e}");
        }
    }

    #[test]
    fn errors_and_absorption_follow_the_interpreter() {
        let objects = objects_of("kind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n");
        let case = Case::new(&objects[0], None);
        let mut tally = Tally::default();
        for src in [
            // A missing field is an error, absorbed by the other side of && and || either way.
            "object.spec.replicas > 1 && false",
            "false && object.spec.replicas > 1",
            "object.spec.replicas > 1 || true",
            "true || object.spec.replicas > 1",
            "object.spec.replicas > 1 && true",
            "has(object.spec.template)",
            "[1, 2, 0].all(x, 10 / x > 0)",
            "[0, 1].exists(x, 10 / x > 0)",
            "[1, 0].exists_one(x, 10 / x > 0)",
            "1 == 1u && 1 == 1.0 && 1u < 2.5 && -1 < 1u",
            "'a' < 'b' && 'é' > 'z'",
            "9223372036854775807 + 1 > 0",
            "'abc'.matches('(')",
            "quantity('1Gi') == quantity('1Gi')",
            "quantity('12 apples').isLessThan(quantity('1'))",
            "size('héllo') == 5",
            "[1, 2].map(x, x * 2) == [2, 4]",
            "object.data.all(k, k.size() > 0)",
            "1 || true",
            "'x' + 1 == 'x1'",
            "null == null && null != 1",
            "[1, 'a', null].exists(x, x == null)",
        ] {
            agree(src, &case, &mut tally);
        }
        assert!(tally.errors >= 5, "{tally:?}");
    }

    fn leaf() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "object.spec.replicas",
            "object.metadata.name",
            "object.metadata.labels",
            "object.metadata.labels.app",
            "object.metadata.labels['team']",
            "object.spec",
            "object.spec.template.spec.containers",
            "object.spec.template.spec.containers[0]",
            "object.spec.template.spec.containers[0].image",
            "object.spec.ports",
            "namespaceObject",
            "namespaceObject.metadata.labels",
            "environment",
            "c",
            "c.image",
            "c.name",
            "c.resources.limits.memory",
            "0",
            "1",
            "-7",
            "9223372036854775807",
            "2u",
            "2.5",
            "-0.0",
            "'app'",
            "''",
            "':latest'",
            "'main'",
            "null",
            "true",
            "false",
            "[1, 'a', 2.0]",
            "[]",
            "quantity('1Gi')",
            "quantity('500m')",
        ])
        .prop_map(str::to_string)
    }

    fn expression() -> impl Strategy<Value = String> {
        leaf().prop_recursive(4, 40, 3, |inner| {
            let binop = prop::sample::select(vec![
                "&&", "||", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "in",
            ]);
            let method = prop::sample::select(vec![
                "startsWith",
                "endsWith",
                "contains",
                "matches",
                "isLessThan",
                "isGreaterThan",
                "compareTo",
            ]);
            let macro_ = prop::sample::select(vec!["all", "exists", "exists_one", "map", "filter"]);
            prop_oneof![
                (inner.clone(), binop, inner.clone())
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                inner.clone().prop_map(|a| format!("!{a}")),
                inner.clone().prop_map(|a| format!("-{a}")),
                inner.clone().prop_map(|a| format!("size({a})")),
                inner.clone().prop_map(|a| format!("{a}.size()")),
                inner.clone().prop_map(|a| format!("quantity({a})")),
                prop::sample::select(vec![
                    "object.metadata",
                    "object.spec",
                    "c",
                    "c.resources",
                    "object.metadata.labels",
                ])
                .prop_flat_map(|p| prop::sample::select(vec![
                    "labels", "limits", "app", "replicas", "name"
                ])
                .prop_map(move |f| format!("has({p}.{f})"))),
                (inner.clone(), method, inner.clone())
                    .prop_map(|(a, m, b)| format!("{a}.{m}({b})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a} ? {b} : {c})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
                (inner.clone(), macro_, inner.clone())
                    .prop_map(|(range, m, body)| format!("{range}.{m}(c, {body})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("[{a}, {b}]")),
            ]
        })
    }

    fn scalar() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "1",
            "0",
            "-3",
            "2.5",
            "\"5\"",
            "true",
            "null",
            "\"app\"",
            "\"img:latest\"",
            "\"256Mi\"",
            "\"4Gi\"",
            "\"bad\"",
            "\"\"",
        ])
        .prop_map(str::to_string)
    }

    /// An object shaped like a workload, every field possibly missing or of another type.
    fn object() -> impl Strategy<Value = String> {
        let field = |name: &'static str, v: BoxedStrategy<String>| {
            prop::option::of(v).prop_map(move |v| v.map(|v| format!("\"{name}\": {v}")))
        };
        let join = |parts: Vec<Option<String>>| {
            format!(
                "{{{}}}",
                parts.into_iter().flatten().collect::<Vec<_>>().join(", ")
            )
        };
        let container = (
            field("name", scalar().boxed()),
            field("image", scalar().boxed()),
            field(
                "resources",
                field(
                    "limits",
                    field("memory", scalar().boxed())
                        .prop_map(move |m| join(vec![m]))
                        .boxed(),
                )
                .prop_map(move |l| join(vec![l]))
                .boxed(),
            ),
        )
            .prop_map(move |(a, b, c)| join(vec![a, b, c]));
        let containers = prop_oneof![
            prop::collection::vec(container, 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            scalar(),
        ];
        let labels = prop_oneof![
            (
                field("app", scalar().boxed()),
                field("team", scalar().boxed())
            )
                .prop_map(move |(a, t)| join(vec![a, t])),
            scalar(),
        ];
        (
            field("name", scalar().boxed()),
            field("labels", labels.boxed()),
            field("replicas", scalar().boxed()),
            field(
                "template",
                field(
                    "spec",
                    field("containers", containers.boxed())
                        .prop_map(move |c| join(vec![c]))
                        .boxed(),
                )
                .prop_map(move |s| join(vec![s]))
                .boxed(),
            ),
        )
            .prop_map(move |(name, labels, replicas, template)| {
                format!(
                    "{{\"kind\": \"Deployment\", \"metadata\": {}, \"spec\": {}}}",
                    join(vec![name, labels]),
                    join(vec![replicas, template])
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn generated_expressions_evaluate_alike(src in expression(), object in object()) {
            let objects = objects_of(&object);
            let mut tally = Tally::default();
            agree(&src, &Case::new(&objects[0], None), &mut tally);
            agree(&src, &Case::new(&objects[0], Some(&objects[0])), &mut tally);
        }
    }
}
