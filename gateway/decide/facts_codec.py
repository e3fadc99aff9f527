"""The facts a decision was made on, as the JSON document stored with it (decisions.facts),
so that replay (gateway/decide/replay.py) can decide it again under another rule-pack version.

The document, format `facts/2` (`facts/1` is still read):

    {"format": "facts/2",
     "facts":  <policy.facts.Facts, every field, nested dataclasses as objects>,
     "action": <the Action fields that have no column of their own>}

- **Generic.** Both parts go through pydantic TypeAdapters built from the dataclasses
  themselves, so a field added to Facts, to a nested fact or to Action is stored and read
  back without code here. Reading is lenient both ways: keys this code does not know
  (written by a newer one) are ignored, and a field the document lacks (written before it
  existed) takes its default; `decode` reports which top-level ones did. A field added
  without a default makes older documents unreadable: replay counts them as not
  replayable rather than guess.
- **Types resolve from their modules.** Every fact type is imported at run time where it
  is used (policy/facts.py imports KycFacts and AmlFacts; they import nothing of
  policy.facts), so pydantic resolves each dataclass's annotations in its own module:
  nothing to list by hand when a new one appears, no source parsing.
- **Findings among the facts.** The sanctions screening is a policy Finding; documents
  from before there was one Finding type stored it in the AML core's shape, which
  `decode` still reads (`_screening_as_finding`).
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
  (`"masked": ["facts.aml.legal_name", ...]`).
- **Sealed for replay.** The masked values themselves go under `"sealed"`: one AES-GCM
  ciphertext under a key derived from the installation's secret key (`facts_box`), bound
  to the decision's id (so it
  opens for that decision only). Replay, holding the key, puts them back and decides the
  call again as it was. Whoever reads the table without the key sees masks; a document
  that cannot be opened (no key, another key, written before sealing) is counted as not
  replayable (`personal_data_masked`) rather than compared against a mask.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from pydantic import TypeAdapter, ValidationError

from gateway.audit.canonical import canonical_json
from gateway.sealing import SecretBox, derive_key
from policy.action import Action
from policy.facts import Facts, MarketCatalog

# facts/2: the AML history holds window sums and the structuring band's movements, not
# every movement (gateway/store/movements.py). facts/1 documents still decode: their
# history is read as before (aml/facts.py, AmlFacts.banded is None).
FORMAT = "facts/2"
READABLE_FORMATS = frozenset({"facts/1", FORMAT})
MASKED = "masked"
_PERSONAL_KEYS = frozenset(
    {"national_id", "national_id_number", "id_number", "document_number", "passport_number",
     "account_number", "bank_account_number", "iban", "date_of_birth", "legal_name", "native_name",
     "travel_rule"}
)  # fmt: skip

_PERSONAL_VALUE = re.compile("|".join(f'"{key}":(?!null)' for key in sorted(_PERSONAL_KEYS)))

# Action fields stored column by column in `decisions` (gateway/store/records.py); every other
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


# Every fact type is imported where it is used (no type-checking-only imports), so the
# adapters resolve the dataclasses' annotations from their own modules.
_FACTS: TypeAdapter[Facts] = TypeAdapter(Facts)
_ACTION: TypeAdapter[Action] = TypeAdapter(Action)
_FACT_FIELDS = tuple(f.name for f in dataclasses.fields(Facts))
_FIELD_ADAPTERS = tuple((name, TypeAdapter(typing.get_type_hints(Facts)[name])) for name in _FACT_FIELDS)
_CATALOG: TypeAdapter[MarketCatalog] = TypeAdapter(MarketCatalog)
_INSTANT: TypeAdapter[datetime] = TypeAdapter(datetime)
_ACTION_INCLUDE = set(ACTION_EXTRA)
# Facts dumped once per distinct value (their types hold no Decimal or float, whose equal
# values can be written differently: 1.0 and 1.00). Most calls' authentication is the
# same plain OK.
_SHARED_FIELDS = frozenset({"customer", "kyc", "authentication"})


def _dump_facts(facts: Facts, action: Action) -> dict[str, Any]:
    """`_FACTS.dump_python(facts)` with the catalog scoped to the call, field by field, so
    that what many calls share is dumped once while it stays the same (`_SharedDumps`)."""
    dumped: dict[str, Any] = {}
    for name, adapter in _FIELD_ADAPTERS:
        value = getattr(facts, name)
        if value is None:
            dumped[name] = None
        elif name == "markets":
            dumped[name] = _catalogs.dump(value, action)
        elif name in _SHARED_FIELDS:
            dumped[name] = _shared.dump(adapter, value)
        elif name == "now":
            dumped[name] = instant_json(value)
        else:
            dumped[name] = adapter.dump_python(value, mode="json")
    return dumped


def instant_json(moment: datetime) -> str:
    """A datetime as pydantic writes it in JSON, without the adapter's per-call cost for
    the one kind decisions have (UTC: ISO 8601 and "Z"); `now` differs in every decision,
    so it cannot be shared. Any other zone goes through the adapter."""
    if moment.tzinfo is UTC:
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z)[1:-1].decode()  # 3.5x isoformat's speed
    return str(_INSTANT.dump_python(moment, mode="json"))


class _SharedDumps:
    """Dumps of facts many calls share (a customer's record, their KYC standing), keyed by
    the value itself: these facts are frozen and hold only text, enums, booleans and whole
    numbers, so equal values dump to equal documents. Bounded: cleared when full. The
    dumps are shared, so nothing may change them (the codec only reads them).

    Most calls bring the very object an earlier call brought (the key cache's customer,
    the memoised KYC facts), so it is looked up by identity first: hashing and comparing
    a frozen dataclass field by field cost more than the lookup saved."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._dumps: dict[Any, Any] = {}
        self._by_identity: dict[int, tuple[Any, Any]] = {}  # holds the value: its id stays its own

    def dump(self, adapter: TypeAdapter[Any], value: Any) -> Any:
        seen = self._by_identity.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        found = self._dumps.get(value)
        if found is None:
            found = adapter.dump_python(value, mode="json")
            if len(self._dumps) >= self._size:
                self._dumps.clear()
            self._dumps[value] = found
        if len(self._by_identity) >= self._size:
            self._by_identity.clear()
        self._by_identity[id(value)] = (value, found)
        return found


class _CatalogDumps:
    """The scoped catalog's dump per catalog (the same object until the market list is
    fetched again) and the call's symbol and assets."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._catalog: MarketCatalog | None = None
        self._dumps: dict[tuple[str | None, ...], Any] = {}

    def dump(self, catalog: MarketCatalog, action: Action) -> Any:
        if catalog is not self._catalog or len(self._dumps) >= self._size:
            self._catalog, self._dumps = catalog, {}
        key = (action.symbol, action.asset, action.base_asset, action.quote_asset)
        found = self._dumps.get(key)
        if found is None:
            found = self._dumps[key] = _CATALOG.dump_python(_scoped_catalog(catalog, action), mode="json")
        return found


_shared = _SharedDumps(4096)
_catalogs = _CatalogDumps(1024)


def _scoped_catalog(catalog: MarketCatalog, action: Action) -> MarketCatalog:
    market = catalog.market(action.symbol) if action.symbol else None
    touched = {a for a in (action.asset, action.base_asset, action.quote_asset) if a}
    return MarketCatalog(
        markets={market.symbol: market} if market is not None else {},
        assets=frozenset(touched & catalog.assets),
        fetched_at=catalog.fetched_at,
    )


def _mask(value: Any, path: str, masked: list[tuple[str, Any]]) -> Any:
    """`value` with every personal value replaced by MASKED; each path and the value it
    held go to `masked`."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if key in _PERSONAL_KEYS and item is not None:
                masked.append((where, item))
                out[key] = MASKED
            else:
                out[key] = _mask(item, where, masked)
        return out
    if isinstance(value, list):
        return [_mask(item, f"{path}.{n}", masked) for n, item in enumerate(value)]
    return value


def _restore(document: dict[str, Any], path: str, value: Any) -> None:
    """Put a sealed value back where `_mask` found it (`facts.aml.legal_name`, `a.0.b`)."""
    *parents, last = path.split(".")
    node: Any = document
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def facts_box(secret_key_b64: str) -> SecretBox:
    """The box personal facts are sealed in: a key of its own, derived from the
    installation's, so these many small ciphertexts (one per decision with personal
    inputs) do not count against the key that guards API secrets and identities."""
    return SecretBox(base64.b64encode(derive_key(secret_key_b64, "decision-facts")).decode())


@dataclass(frozen=True, slots=True)
class PersonalSeal:
    """Seals one decision's personal inputs under the installation key, bound to the
    decision's id: a sealed value copied into another decision's document does not open."""

    box: SecretBox
    decision_id: uuid.UUID

    @property
    def _binding(self) -> str:
        return f"decision-facts:{self.decision_id}"

    def seal(self, values: dict[str, Any]) -> str:
        return base64.b64encode(self.box.seal(orjson.dumps(values).decode(), self._binding)).decode()

    def open(self, token: Any) -> dict[str, Any] | None:
        """The sealed values, or None when they cannot be opened here."""
        if not isinstance(token, str):
            return None
        try:
            values = orjson.loads(self.box.open(base64.b64decode(token, validate=True), self._binding))
        except (InvalidTag, binascii.Error, ValueError):
            return None
        return values if isinstance(values, dict) else None


def encode(facts: Facts, action: Action, personal: PersonalSeal | None = None) -> str:
    """The document for `decisions.facts`, as plain JSON text (see `encode_column`)."""
    return str(encode_column(facts, action, personal))


def encode_column(facts: Facts, action: Action, personal: PersonalSeal | None = None) -> str:
    """The document for `decisions.facts`, as JSON text, its personal values masked and,
    given `personal`, sealed; marked canonical when it is (gateway/audit/canonical.py), so
    the entry hash takes it as written. (On the writer's hot path: the masking walk runs
    only when a personal key holds a value in the text at all.)"""
    document: dict[str, Any] = {
        "format": FORMAT,
        "facts": _dump_facts(facts, action),
        "action": _ACTION.dump_python(action, mode="json", include=_ACTION_INCLUDE),
    }
    text = canonical_json(document)
    if _PERSONAL_VALUE.search(text) is None:
        return text
    masked: list[tuple[str, Any]] = []
    document["facts"] = _mask(document["facts"], "facts", masked)
    document["action"] = _mask(document["action"], "action", masked)
    if masked:
        document["masked"] = [path for path, _ in masked]
        if personal is not None:
            document["sealed"] = personal.seal(dict(masked))
    return canonical_json(document)


def decode(text: str | bytes, personal: PersonalSeal | None = None) -> StoredFacts:
    """The stored facts; given `personal` (the key and the decision), with the sealed
    personal values put back, so nothing is reported masked."""
    try:
        # str(): orjson reads exact str only, and a column value may be CanonicalJson.
        document = orjson.loads(str(text) if isinstance(text, str) else text)
    except orjson.JSONDecodeError as exc:
        raise FactsUnreadable("facts_unreadable", f"not JSON: {exc}") from exc
    form = document.get("format") if isinstance(document, dict) else None
    if form not in READABLE_FORMATS:
        raise FactsUnreadable("facts_format_unknown", f"format {form!r}, this code reads {FORMAT}")
    if document.get("masked") and personal is not None:
        _unseal(document, personal)
    raw = document.get("facts")
    extra = document.get("action") or {}
    if not isinstance(raw, dict) or not isinstance(extra, dict):
        raise FactsUnreadable("facts_unreadable", "facts or action is not an object")
    _screening_as_finding(raw)
    try:
        facts = _FACTS.validate_python(raw)
    except ValidationError as exc:
        raise FactsUnreadable("facts_unreadable", f"{exc.error_count()} field(s) do not fit Facts") from exc
    defaulted = tuple(name for name in _FACT_FIELDS if name not in raw)
    masked = document.get("masked") or []
    return StoredFacts(facts, extra, defaulted, tuple(str(m) for m in masked))


def _screening_as_finding(raw: dict[str, Any]) -> None:
    """Documents written before kyc and aml built policy's one Finding type hold the
    sanctions screening in the AML core's own shape (no stage; the report kind beside the
    outcome): read it as the finding it was, so those decisions replay as they did."""
    aml = raw.get("aml")
    screening = aml.get("screening") if isinstance(aml, dict) else None
    if not isinstance(screening, dict) or "stage" in screening:
        return
    screening["stage"] = "aml"
    kind = screening.pop("report", None)
    if isinstance(kind, str):
        screening["report"] = {"kind": kind}


def _unseal(document: dict[str, Any], personal: PersonalSeal) -> None:
    masked = document["masked"]
    if not isinstance(masked, list) or not all(isinstance(p, str) for p in masked):
        raise FactsUnreadable("facts_unreadable", "masked is not a list of paths")
    values = personal.open(document.get("sealed"))
    # Two masked values at one path (a key holding a dot) cannot both be put back.
    if values is None or len(set(masked)) != len(masked) or set(values) != set(masked):
        return  # stays masked: not replayable
    try:
        for path, value in values.items():
            _restore(document, path, value)
    except (KeyError, IndexError, ValueError, TypeError):
        raise FactsUnreadable("facts_unreadable", "a sealed value's path is not in the document") from None
    document["masked"] = []


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
