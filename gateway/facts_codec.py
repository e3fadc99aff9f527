"""The facts a decision was made on, as the JSON document stored with it (decisions.facts),
so that replay (gateway/replay.py) can decide it again under another rule-pack version.

The document, format `facts/1`:

    {"format": "facts/1",
     "facts":  <policy.facts.Facts, every field, nested dataclasses as objects>,
     "action": <the Action fields that have no column of their own>}

- **Generic.** Both parts go through pydantic TypeAdapters built from the dataclasses
  themselves, so a field added to Facts, to a nested fact or to Action is stored and read
  back without code here. Reading is lenient both ways: keys this code does not know
  (written by a newer one) are ignored, and a field the document lacks (written before it
  existed) takes its default; `decode` reports which top-level ones did. A field added
  without a default makes older documents unreadable: replay counts them as not
  replayable rather than guess.
- **Types named only for type checkers.** A module that imports a fact type under
  `if TYPE_CHECKING:` (policy/facts.py does, for KycFacts) has those imports run here, so
  the adapters resolve them; nothing to list by hand when a new one appears.
- **Market catalog: only what the call touches.** The exchange's catalog has hundreds of
  markets; the stages read the action's own market (by symbol) and whether its assets are
  listed. The stored catalog holds that market and those of the action's assets (asset,
  base, quote) the exchange listed, with the catalog's fetch time: a replayed stage gets
  the same answers. A stage that reads any other market must widen `_scoped_catalog`.
- **Personal data is never stored in clear.** The KYC facts carry derived values only (an
  age, not a date of birth; booleans about the bank account, not its number or holder; no
  national id). Some later facts cannot: the AML facts hold the customer's KYC names for
  the travel-rule originator check, and the Action holds the travel-rule payload (IVMS101:
  names, addresses, ids). A value under a key naming such data (`_PERSONAL_KEYS`) is
  replaced by `"masked"` wherever it appears, and the document lists the masked paths
  (`"masked": ["facts.aml.legal_name", ...]`). A decision whose inputs were masked cannot
  be decided again faithfully, so replay counts it as not replayable
  (`personal_data_masked`) instead of comparing against a mask.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from policy.action import Action
from policy.facts import Facts, MarketCatalog

FORMAT = "facts/1"
MASKED = "masked"
_PERSONAL_KEYS = frozenset(
    {"national_id", "national_id_number", "id_number", "document_number", "passport_number",
     "account_number", "bank_account_number", "iban", "date_of_birth", "legal_name", "native_name",
     "travel_rule"}
)  # fmt: skip

_PERSONAL_VALUE = re.compile("|".join(f'"{key}":(?!null)' for key in sorted(_PERSONAL_KEYS)))

# Action fields stored column by column in `decisions` (gateway/records.py); every other
# Action field goes into the document.
ACTION_COLUMNS: dict[str, str] = {
    "kind": "action_kind", "operation": "operation", "customer_id": "customer_id",
    "symbol": "symbol", "base_asset": "base_asset", "quote_asset": "quote_asset",
    "asset": "asset", "side": "side", "order_type": "order_type", "quantity": "quantity",
    "price": "price", "address": "address", "network": "network",
    "client_order_id": "client_order_id",
}  # fmt: skip
ACTION_EXTRA = frozenset(f.name for f in dataclasses.fields(Action)) - ACTION_COLUMNS.keys()


class FactsUnreadable(Exception):
    """A stored document this code cannot turn back into Facts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # facts_format_unknown, facts_unreadable


@dataclass(frozen=True, slots=True)
class StoredFacts:
    facts: Facts
    action_extra: dict[str, Any]  # Action fields without a column, as stored
    defaulted: tuple[str, ...]  # top-level Facts fields the document lacked
    masked: tuple[str, ...] = ()  # paths of personal values stored as "masked"


def _type_checking_imports(module_name: str) -> dict[str, Any]:
    """The names a module imports under `if TYPE_CHECKING:`, imported now (by then the
    import cycle that made them type-checking-only is over)."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module_name]))
    except OSError:  # no source shipped: only the module's own names resolve
        return {}
    names: dict[str, Any] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
                source = importlib.import_module(stmt.module)
                names.update({a.asname or a.name: getattr(source, a.name) for a in stmt.names})
    return names


def _dataclass_modules(root: type) -> Iterator[str]:
    """The modules of `root` and of every dataclass reachable from its fields."""
    seen: set[type] = set()
    todo = [root]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls.__module__
        namespace = {**vars(sys.modules[cls.__module__]), **_type_checking_imports(cls.__module__)}
        for f in dataclasses.fields(cls):
            annotation = f.type if isinstance(f.type, str) else repr(f.type)
            for name, value in namespace.items():
                if dataclasses.is_dataclass(value) and isinstance(value, type) and name in annotation:
                    todo.append(value)


def _adapter(root: type) -> TypeAdapter[Any]:
    """An adapter whose string annotations resolve in the modules of the dataclasses
    involved, type-checking-only imports included."""
    namespace: dict[str, Any] = {}
    for module in dict.fromkeys(_dataclass_modules(root)):
        namespace.update(vars(sys.modules[module]))
        namespace.update(_type_checking_imports(module))
    adapter: TypeAdapter[Any] = TypeAdapter(root)
    adapter.rebuild(force=True, raise_errors=True, _types_namespace=namespace)
    return adapter


_FACTS: TypeAdapter[Facts] = _adapter(Facts)
_ACTION: TypeAdapter[Action] = _adapter(Action)
_FACT_FIELDS = tuple(f.name for f in dataclasses.fields(Facts))


def _scoped_catalog(catalog: MarketCatalog, action: Action) -> MarketCatalog:
    market = catalog.market(action.symbol) if action.symbol else None
    touched = {a for a in (action.asset, action.base_asset, action.quote_asset) if a}
    return MarketCatalog(
        markets={market.symbol: market} if market is not None else {},
        assets=frozenset(touched & catalog.assets),
        fetched_at=catalog.fetched_at,
    )


def _mask(value: Any, path: str, masked: list[str]) -> Any:
    """`value` with every personal value replaced by MASKED; their paths go to `masked`."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in _PERSONAL_KEYS and item is not None:
                masked.append(where)
                out[key] = MASKED
            else:
                out[key] = _mask(item, where, masked)
        return out
    if isinstance(value, list):
        return [_mask(item, f"{path}.{n}", masked) for n, item in enumerate(value)]
    return value


def encode(facts: Facts, action: Action) -> str:
    """The document for `decisions.facts`, as JSON text. (On the writer's hot path: the
    masking walk runs only when a personal key appears in the text at all.)"""
    if facts.markets is not None:
        facts = dataclasses.replace(facts, markets=_scoped_catalog(facts.markets, action))
    document: dict[str, Any] = {
        "format": FORMAT,
        "facts": _FACTS.dump_python(facts, mode="json"),
        "action": _ACTION.dump_python(action, mode="json", include=set(ACTION_EXTRA)),
    }
    text = orjson.dumps(document).decode()
    if _PERSONAL_VALUE.search(text) is None:
        return text
    masked: list[str] = []
    document["facts"] = _mask(document["facts"], "facts", masked)
    document["action"] = _mask(document["action"], "action", masked)
    if masked:
        document["masked"] = masked
    return orjson.dumps(document).decode()


def decode(text: str | bytes) -> StoredFacts:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FactsUnreadable("facts_unreadable", f"not JSON: {exc}") from exc
    form = document.get("format") if isinstance(document, dict) else None
    if form != FORMAT:
        raise FactsUnreadable("facts_format_unknown", f"format {form!r}, this code reads {FORMAT}")
    raw = document.get("facts")
    extra = document.get("action") or {}
    if not isinstance(raw, dict) or not isinstance(extra, dict):
        raise FactsUnreadable("facts_unreadable", "facts or action is not an object")
    try:
        facts = _FACTS.validate_python(raw)
    except ValidationError as exc:
        raise FactsUnreadable("facts_unreadable", f"{exc.error_count()} field(s) do not fit Facts") from exc
    defaulted = tuple(name for name in _FACT_FIELDS if name not in raw)
    masked = document.get("masked") or []
    return StoredFacts(facts, extra, defaulted, tuple(str(m) for m in masked))


def action_from_row(row: Mapping[str, Any], extra: Mapping[str, Any]) -> Action:
    """The Action a decision was made on: its columns plus the document's other fields."""
    values: dict[str, Any] = {field: row[column] for field, column in ACTION_COLUMNS.items()}
    if isinstance(values["customer_id"], uuid.UUID):
        values["customer_id"] = str(values["customer_id"])
    values.update({k: v for k, v in extra.items() if k in ACTION_EXTRA})
    try:
        return _ACTION.validate_python(values)
    except ValidationError as exc:
        raise FactsUnreadable("facts_unreadable", f"{exc.error_count()} field(s) do not fit Action") from exc
