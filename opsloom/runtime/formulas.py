"""The formula language: Excel-like expressions for computed fields and defaults.

    IF(amount > 100000, "vp", "head")      SUM(items.line_total)      qty * price
    DATEDIF(start_date, end_date, "D")     CONCAT(code, "-", YEAR(TODAY()))

A real parser (lark) turns the text into a small immutable AST; `check` infers
types before a form is published (so `"a" + 1` is refused with its position);
`evaluate` computes a value from a record with decimal arithmetic. Nothing is
ever handed to Python's `eval`. Division by zero and overflow give an empty
value and a warning, never an exception.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

MAX_LENGTH = 2000
MAX_DEPTH = 40
MAX_TREE_DEPTH = 200  # operators chained in a row, e.g. 1+1+...+1 (each adds a level to the tree)
LIMIT = Decimal(10) ** 18  # larger results are overflow: empty, with a warning
DECIMAL = Context(prec=38, traps=[DivisionByZero, InvalidOperation, Overflow])

GRAMMAR = r"""
?start: expr
?expr: comparison
?comparison: concat (COMPARE concat)?
?concat: sum (AMP sum)*
?sum: product (ADD product)*
?product: unary (MUL unary)*
?unary: SIGN unary -> signed
      | atom
?atom: NUMBER -> number
     | STRING -> string
     | NAME "(" [expr ("," expr)*] ")" -> call
     | NAME ("." NAME)? -> ref
     | "(" expr ")"
COMPARE: "<=" | ">=" | "<>" | "!=" | "==" | "=" | "<" | ">"
AMP: "&"
ADD: "+" | "-"
SIGN: "+" | "-"
MUL: "*" | "/"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /"([^"\\\n]|\\.)*"/ | /'([^'\\\n]|\\.)*'/
%ignore /[ \t\r\n]+/
"""


class FormulaError(ValueError):
    """A formula that cannot be used, with the 1-based column where the problem is."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message if column is None else f"{message} (at character {column})")
        self.column = column


# ---------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Literal:
    value: Any
    type: str
    column: int


@dataclass(frozen=True)
class Ref:
    path: tuple[str, ...]
    column: int

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    column: int


@dataclass(frozen=True)
class Negate:
    item: Node
    column: int


Node = Literal | Ref | Call | Binary | Negate


def _col(token: Token) -> int:
    """The 1-based character position of a token in the whole formula (not its column on its line)."""
    return (token.start_pos or 0) + 1


@v_args(inline=True)
class _ToAst(Transformer[Token, Node]):
    def number(self, token: Token) -> Node:
        return Literal(Decimal(str(token)), "number", _col(token))

    def string(self, token: Token) -> Node:
        body = str(token)[1:-1]
        return Literal(body.replace('\\"', '"').replace("\\'", "'").replace("\\\\", "\\"), "text", _col(token))

    def ref(self, first: Token, second: Token | None = None) -> Node:
        if second is None and str(first).upper() in ("TRUE", "FALSE"):
            return Literal(str(first).upper() == "TRUE", "boolean", _col(first))
        path = (str(first),) if second is None else (str(first), str(second))
        return Ref(path, _col(first))

    def call(self, name: Token, *args: Node | None) -> Node:
        return Call(str(name).upper(), tuple(a for a in args if a is not None), _col(name))

    def signed(self, sign: Token, item: Node) -> Node:
        return Negate(item, _col(sign)) if sign == "-" else item

    def comparison(self, left: Node, op: Token, right: Node) -> Node:
        return Binary({"==": "=", "!=": "<>"}.get(str(op), str(op)), left, right, _col(op))

    def concat(self, *parts: Any) -> Node:
        return _fold(parts)

    def sum(self, *parts: Any) -> Node:
        return _fold(parts)

    def product(self, *parts: Any) -> Node:
        return _fold(parts)


def _fold(parts: Sequence[Any]) -> Node:
    node = parts[0]
    for op, right in zip(parts[1::2], parts[2::2], strict=True):
        node = Binary(str(op), node, right, _col(op))
    return node


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=True)


ENDS_EARLY = "The formula ends too early; is a bracket or an argument missing?"  # at the end: where to type


def parse_formula(text: Any) -> Node:
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("A formula must be a non-empty text")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"A formula may be at most {MAX_LENGTH} characters long")
    _check_nesting(text)
    try:
        node = _ToAst().transform(_parser().parse(text))
    except UnexpectedCharacters as error:
        at = error.pos_in_stream or 0
        raise FormulaError(f"Unexpected character {text[at]!r}", at + 1) from None
    except UnexpectedEOF:
        raise FormulaError(ENDS_EARLY, len(text.rstrip()) + 1) from None
    except UnexpectedInput as error:
        token = getattr(error, "token", None)
        if token is None or token.type == "$END":  # the LALR parser reports the end as a token
            raise FormulaError(ENDS_EARLY, len(text.rstrip()) + 1) from None
        raise FormulaError(f"Unexpected {str(token)!r}", _col(token)) from None
    except (LarkError, RecursionError):
        raise FormulaError("The formula cannot be read; check brackets and operators") from None
    if _tree_depth(node) > MAX_TREE_DEPTH:
        # `check`, `evaluate` and `references` recurse over the tree: `1+1+...+1` must not exhaust the stack.
        raise FormulaError(f"A formula may chain at most {MAX_TREE_DEPTH} operations; split it into several fields")
    return node


def _tree_depth(node: Node) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children: tuple[Node, ...] = ()
        if isinstance(item, Call):
            children = item.args
        elif isinstance(item, Binary):
            children = (item.left, item.right)
        elif isinstance(item, Negate):
            children = (item.item,)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_nesting(text: str) -> None:
    depth = deepest = run = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        run = run + 1 if ch in "+-" else (run if ch in " \t\r\n" else 0)
        deepest = max(deepest, depth, run)
    if deepest > MAX_DEPTH:
        raise FormulaError(f"A formula may nest at most {MAX_DEPTH} levels deep")


def references(node: Node) -> set[str]:
    """Every field (or subform column, `items.qty`) a formula reads."""
    if isinstance(node, Ref):
        return {node.name}
    if isinstance(node, Call):
        return set().union(*(references(a) for a in node.args)) if node.args else set()
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    if isinstance(node, Negate):
        return references(node.item)
    return set()


# -------------------------------------------------------------------- types

NUMBER, TEXT, BOOLEAN, DATE, DATETIME, ANY = "number", "text", "boolean", "date", "datetime", "any"


def list_of(kind: str) -> str:
    return f"list:{kind}"


@dataclass(frozen=True)
class Function:
    check: Callable[[list[str], int], str]
    run: Callable[..., Any]
    lazy: bool = False  # IF: evaluates only the branch it takes


def _expect(types: list[str], wanted: Sequence[str], name: str, column: int) -> None:
    if len(types) != len(wanted):
        raise FormulaError(f"{name} takes {len(wanted)} argument(s), not {len(types)}", column)
    for i, (got, want) in enumerate(zip(types, wanted, strict=True)):
        if not _fits(got, want):
            raise FormulaError(f"argument {i + 1} of {name} must be {want}, not {got}", column)


def _fits(got: str, want: str) -> bool:
    return got == want or got == ANY or want == ANY or (want == DATE and got == DATETIME)


def _fixed(*wanted: str, result: str) -> Callable[[list[str], int], str]:
    def check(types: list[str], column: int, name: str = "") -> str:
        _expect(types, wanted, name, column)
        return result

    return check


def _aggregate(types: list[str], column: int, name: str = "") -> str:
    if not types:
        raise FormulaError(f"{name} needs at least one argument", column)
    for t in types:
        if t not in (NUMBER, list_of(NUMBER), ANY):
            raise FormulaError(f"{name} adds up numbers or a subform column of numbers, not {t}", column)
    return NUMBER


def _count(types: list[str], column: int, name: str = "") -> str:
    if len(types) != 1 or not (types[0].startswith("list:") or types[0] == ANY):
        raise FormulaError("COUNT takes one subform column, e.g. COUNT(items.qty)", column)
    return NUMBER


def _logic(types: list[str], column: int, name: str = "") -> str:
    if not types:
        raise FormulaError(f"{name} needs at least one condition", column)
    for t in types:
        if not _fits(t, BOOLEAN):
            raise FormulaError(f"{name} combines true/false values, not {t}", column)
    return BOOLEAN


def _if(types: list[str], column: int, name: str = "") -> str:
    if len(types) not in (2, 3):
        raise FormulaError("IF takes a condition, a value if true and optionally a value if false", column)
    if not _fits(types[0], BOOLEAN):
        raise FormulaError(f"the condition of IF must be true/false, not {types[0]}", column)
    branches = [t for t in types[1:] if t != ANY]
    if len(set(branches)) > 1:
        raise FormulaError(f"both results of IF must have one type, not {branches[0]} and {branches[1]}", column)
    return branches[0] if branches else ANY


def _concat(types: list[str], column: int, name: str = "") -> str:
    for t in types:
        if t.startswith("list:"):
            raise FormulaError("CONCAT joins single values; use a subform column in SUM or COUNT", column)
    return TEXT


def _round(types: list[str], column: int, name: str = "") -> str:
    _expect(types, (NUMBER, NUMBER)[: max(1, len(types))] if len(types) <= 2 else (NUMBER, NUMBER), "ROUND", column)
    return NUMBER


def _date_diff(types: list[str], column: int, name: str = "") -> str:
    _expect(types, (DATE, DATE, TEXT)[: max(2, len(types))], "DATEDIF", column)
    return NUMBER


def _date_add(types: list[str], column: int, name: str = "") -> str:
    _expect(types, (DATE, NUMBER, TEXT)[: max(2, len(types))], "DATEADD", column)
    return DATE


def _numbers(values: Sequence[Any]) -> list[Decimal]:
    out: list[Decimal] = []
    for v in values:
        if isinstance(v, list):
            out.extend(Decimal(x) for x in v if x is not None)
        elif v is not None:
            out.append(Decimal(v))
    return out


def _sum(*values: Any) -> Decimal:
    return sum(_numbers(values), Decimal(0))


def _avg(*values: Any) -> Decimal | None:
    numbers = _numbers(values)
    return sum(numbers, Decimal(0)) / len(numbers) if numbers else None


def _min(*values: Any) -> Decimal | None:
    numbers = _numbers(values)
    return min(numbers) if numbers else None


def _max(*values: Any) -> Decimal | None:
    numbers = _numbers(values)
    return max(numbers) if numbers else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # Not normalize(): it rounds to 38 digits. Whole numbers lose ".00"; zero is never "-0".
        text = format(abs(value) if value == 0 else value, "f")
        return text.split(".")[0] if value == value.to_integral() else text
    return str(value)


def _days(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _datedif(start: Any, end: Any, unit: Any = "D") -> Decimal | None:
    if start is None or end is None:
        return None
    a, b = _days(start), _days(end)
    sign = 1
    if b < a:  # count whole months backwards as forwards: DATEDIF(b, a) = -DATEDIF(a, b)
        a, b, sign = b, a, -1
    unit = (unit or "D").upper()
    if unit == "D":
        return Decimal(sign * (b - a).days)
    months = (b.year - a.year) * 12 + (b.month - a.month) - (1 if b.day < a.day else 0)
    if unit == "M":
        return Decimal(sign * months)
    if unit == "Y":
        return Decimal(sign * (months // 12))
    raise _Empty(f"DATEDIF unit must be D, M or Y, not {unit!r}")


def _dateadd(start: Any, amount: Any, unit: Any = "D") -> date | None:
    if start is None or amount is None:
        return None
    base = _days(start)
    n = int(Decimal(amount))
    unit = (unit or "D").upper()
    if unit == "D":
        return base + timedelta(days=n)
    if unit in ("M", "Y"):
        months = n * (12 if unit == "Y" else 1)
        total = base.year * 12 + base.month - 1 + months
        year, month = divmod(total, 12)
        if not 1 <= year <= 9999:
            raise _Empty("DATEADD goes past the year 9999")
        day = min(base.day, calendar.monthrange(year, month + 1)[1])
        return date(year, month + 1, day)
    raise _Empty(f"DATEADD unit must be D, M or Y, not {unit!r}")


def _round_value(value: Any, digits: Any = 0) -> Decimal | None:
    if value is None:
        return None
    places = int(Decimal(digits or 0))
    if not -18 <= places <= 18:
        raise _Empty("ROUND keeps between -18 and 18 digits")
    return (
        Decimal(value).quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")
        if places >= 0
        else (Decimal(value).scaleb(places).quantize(Decimal(1), rounding="ROUND_HALF_UP").scaleb(-places))
    )


class _Empty(Exception):
    """Evaluation gives an empty value, with this warning."""


def _none_safe(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return None if any(a is None for a in args) else fn(*args)

    return run


FUNCTIONS: dict[str, Function] = {
    "IF": Function(_if, lambda *a: None, lazy=True),
    "AND": Function(_logic, lambda *a: all(bool(x) for x in a)),
    "OR": Function(_logic, lambda *a: any(bool(x) for x in a)),
    "NOT": Function(_fixed(BOOLEAN, result=BOOLEAN), lambda a: not a),
    "SUM": Function(_aggregate, _sum),
    "AVG": Function(_aggregate, _avg),
    "MIN": Function(_aggregate, _min),
    "MAX": Function(_aggregate, _max),
    "COUNT": Function(_count, lambda v: Decimal(len([x for x in (v or []) if x is not None]))),
    "ROUND": Function(_round, _round_value),
    "ABS": Function(_fixed(NUMBER, result=NUMBER), _none_safe(abs)),
    "CONCAT": Function(_concat, lambda *a: "".join(_text(x) for x in a)),
    "LEN": Function(_fixed(TEXT, result=NUMBER), lambda s: Decimal(len(s or ""))),
    "UPPER": Function(_fixed(TEXT, result=TEXT), _none_safe(str.upper)),
    "LOWER": Function(_fixed(TEXT, result=TEXT), _none_safe(str.lower)),
    "TODAY": Function(_fixed(result=DATE), lambda: None),  # given by the context
    "NOW": Function(_fixed(result=DATETIME), lambda: None),
    "CURRENT_USER": Function(_fixed(result=NUMBER), lambda: None),
    "CURRENT_DEPARTMENT": Function(_fixed(result=NUMBER), lambda: None),  # the user's department, by id
    "DATEDIF": Function(_date_diff, _datedif),
    "DATEADD": Function(_date_add, _dateadd),
    "YEAR": Function(_fixed(DATE, result=NUMBER), _none_safe(lambda d: Decimal(d.year))),
    "MONTH": Function(_fixed(DATE, result=NUMBER), _none_safe(lambda d: Decimal(d.month))),
}


def check(node: Node, env: Mapping[str, str]) -> str:
    """The type of a formula given the types of the fields it may read, or FormulaError."""
    if isinstance(node, Literal):
        return node.type
    if isinstance(node, Ref):
        if node.name not in env:
            known = ", ".join(sorted(env)) or "none"
            raise FormulaError(f"'{node.name}' is not a field this formula can use (fields: {known})", node.column)
        return env[node.name]
    if isinstance(node, Negate):
        inner = check(node.item, env)
        if not _fits(inner, NUMBER):
            raise FormulaError(f"only numbers can be negated, not {inner}", node.column)
        return NUMBER
    if isinstance(node, Call):
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise FormulaError(
                f"there is no function {node.name}; use one of {', '.join(sorted(FUNCTIONS))}", node.column
            )
        return function.check([check(a, env) for a in node.args], node.column, node.name)  # type: ignore[call-arg]
    return _check_binary(node, check(node.left, env), check(node.right, env))


def _check_binary(node: Binary, left: str, right: str) -> str:
    op = node.op
    if op == "&":
        if left.startswith("list:") or right.startswith("list:"):
            raise FormulaError("& joins single values; use a subform column in SUM or COUNT", node.column)
        return TEXT
    if op in ("=", "<>", "<", ">", "<=", ">="):
        if left.startswith("list:") or right.startswith("list:"):
            raise FormulaError("cannot compare a subform column; compare its SUM or COUNT", node.column)
        if left != right and ANY not in (left, right) and {left, right} != {DATE, DATETIME}:
            raise FormulaError(f"cannot compare {left} with {right}", node.column)
        return BOOLEAN
    if left == ANY or right == ANY:
        return NUMBER if ANY in (left, right) and NUMBER in (left, right) else ANY
    if op in ("+", "-") and left in (DATE, DATETIME) and right == NUMBER:
        return left
    if op == "-" and left in (DATE, DATETIME) and right in (DATE, DATETIME):
        return NUMBER
    if left == NUMBER and right == NUMBER:
        return NUMBER
    raise FormulaError(f"cannot use {op} with {left} and {right}", node.column)


# --------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class FormulaContext:
    now: datetime
    zone: tzinfo = UTC
    user_id: int | None = None
    department_id: int | None = None


@dataclass
class Outcome:
    value: Any
    warnings: list[str] = field(default_factory=list)


def evaluate(node: Node, values: Mapping[str, Any], ctx: FormulaContext) -> Outcome:
    """Compute a formula. `values` maps field keys (and `items.qty` lists) to Python values."""
    warnings: list[str] = []
    try:
        with localcontext(DECIMAL):
            value = _eval(node, values, ctx)
        if isinstance(value, Decimal) and abs(value) >= LIMIT:
            raise _Empty("the result is too large")
    except _Empty as empty:
        warnings.append(str(empty))
        value = None
    except (DivisionByZero, InvalidOperation, Overflow, ZeroDivisionError):
        warnings.append("division by zero or a number out of range; the result is empty")
        value = None
    except (OverflowError, ValueError) as error:
        warnings.append(f"the result is empty: {error}")
        value = None
    return Outcome(value, warnings)


def _eval(node: Node, values: Mapping[str, Any], ctx: FormulaContext) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Ref):
        value = values.get(node.name)
        return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(node, Negate):
        inner = _eval(node.item, values, ctx)
        return None if inner is None else -inner
    if isinstance(node, Call):
        if node.name == "IF":
            condition = _eval(node.args[0], values, ctx)
            if condition:
                return _eval(node.args[1], values, ctx)
            return _eval(node.args[2], values, ctx) if len(node.args) > 2 else None
        if node.name == "TODAY":
            return ctx.now.astimezone(ctx.zone).date()
        if node.name == "NOW":
            return ctx.now
        if node.name == "CURRENT_USER":
            return None if ctx.user_id is None else Decimal(ctx.user_id)
        if node.name == "CURRENT_DEPARTMENT":
            return None if ctx.department_id is None else Decimal(ctx.department_id)
        args = [_eval(a, values, ctx) for a in node.args]
        return FUNCTIONS[node.name].run(*args)
    left, right = _eval(node.left, values, ctx), _eval(node.right, values, ctx)
    return _binary(node.op, left, right)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "&":
        return _text(left) + _text(right)
    if left is None or right is None:
        # Empty compares equal only to empty, is never larger or smaller, and
        # makes arithmetic empty.
        if op == "=":
            return left is None and right is None
        if op == "<>":
            return (left is None) != (right is None)
        return False if op in ("<", ">", "<=", ">=") else None
    if op in ("=", "<>", "<", ">", "<=", ">="):
        if isinstance(left, datetime) != isinstance(right, datetime):
            left, right = _days(left), _days(right)
        return {
            "=": left == right,
            "<>": left != right,
            "<": left < right,
            ">": left > right,
            "<=": left <= right,
            ">=": left >= right,
        }[op]
    if isinstance(left, date):
        if isinstance(right, date):
            return Decimal((_days(left) - _days(right)).days)
        delta = timedelta(days=int(right))
        return left + delta if op == "+" else left - delta
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        raise _Empty("division by zero; the result is empty")
    return left / right
