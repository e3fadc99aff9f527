"""Reading a payload: bounds before any parser, duplicate keys and constants refused, then
the models; every error named by its field path in the payload's own spelling."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar, get_args

from pydantic import (
    BaseModel,
    ValidationError,
)

from aml.ivms101.model import IdentityPayload

# A travel-rule payload describes two parties; anything larger is not one.
MAX_PAYLOAD_CHARS = 64 * 1024
# Arrays and objects nested deeper than this are refused before any parser sees them. The
# deepest IVMS101 structure is 9 levels (the payload, transferPath, its transferPath list,
# an intermediary, its intermediaryVASP person, naturalPerson, geographicAddress, an
# address, its addressLine; a nameIdentifier entry is as deep), so 32 leaves room for
# any member the standard might add while staying far below where the parsers give out:
# Python's json recurses once per level and raises RecursionError near the interpreter's
# limit (1000, less on a deep stack), which no caller expects from a validator.
MAX_NESTING = 32
# A JSON string (brackets inside it are text), or an unterminated one: that runs to the
# end, where the parser will stop too. Never backtracks, so the scan is linear.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # dotted path in the payload's spelling, e.g. "originator.originatorPersons.0"
    message: str


class Ivms101Invalid(ValueError):
    """The payload is refused; `errors` names every field at fault, `field` the first."""

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    @property
    def field(self) -> str:
        return self.errors[0].field


_ROOT = "(payload)"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise Ivms101Invalid(tuple(FieldError(k, "key given twice") for k in duplicates))
    return dict(pairs)


def _no_constants(name: str) -> Any:
    raise Ivms101Invalid((FieldError(_ROOT, f"{name} is not JSON"),))


def _too_deep(raw: str | bytes) -> bool:
    """Are arrays and objects nested deeper than MAX_NESTING? Counted the way the parser
    reads them: brackets inside strings are not structure."""
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError:
        return False  # json.loads refuses it as not JSON
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_NESTING:
            return True
    return False


def _message(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, through tuple[...], Optional and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _keys_of(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    return {field.alias or name: _model_in(field.annotation) for name, field in model.model_fields.items()}


def _keys_at(model: type[BaseModel], parent: Sequence[str | int]) -> list[str]:
    """The keys the object at `parent` (a validation error's location) may have."""
    current: type[BaseModel] | None = model
    for part in parent:
        if isinstance(part, int):
            continue  # an index into a list: the same model
        current = _keys_of(current).get(part) if current is not None else None
    return list(_keys_of(current)) if current is not None else []


def _spelling(key: str) -> str:
    return key.replace("_", "").lower()


def _meant(key: str, allowed: list[str]) -> str | None:
    """The key a sender most likely meant: the same letters in another case or with
    underscores (`Originator`, `originator_persons`), else the closest spelling."""
    same = [k for k in allowed if _spelling(k) == _spelling(key)]
    if same:
        return same[0]
    spelt = {_spelling(k): k for k in allowed}
    close = difflib.get_close_matches(_spelling(key), list(spelt), n=1, cutoff=0.8)
    return spelt[close[0]] if close else None


def _errors(exc: ValidationError, model: type[BaseModel]) -> tuple[FieldError, ...]:
    """The validation errors, an unknown key first and named as such. A required key
    left "missing" because the sender spelt it another way is the same mistake: only the
    unknown key is reported for it."""
    unknown: list[FieldError] = []
    explained: set[tuple[str | int, ...]] = set()
    for e in exc.errors():
        if e["type"] != "extra_forbidden":
            continue
        *parent, key = e["loc"]
        meant = _meant(str(key), _keys_at(model, parent))
        hint = f" (did you mean {meant!r}?)" if meant else ""
        unknown.append(FieldError(".".join(str(p) for p in e["loc"]), f"unknown field {str(key)!r}{hint}"))
        if meant:
            explained.add((*parent, meant))
    rest = [
        FieldError(".".join(str(p) for p in e["loc"]) or _ROOT, _message(e))
        for e in exc.errors()
        if e["type"] != "extra_forbidden" and not (e["type"] == "missing" and tuple(e["loc"]) in explained)
    ]
    return (*unknown, *rest)


M = TypeVar("M", bound=BaseModel)


def bounds_problem(raw: str | bytes) -> str | None:
    """Why a payload is refused before any parser reads it (too long, nested too deep)."""
    if len(raw) > MAX_PAYLOAD_CHARS:
        return f"longer than {MAX_PAYLOAD_CHARS} characters"
    if _too_deep(raw):
        return f"nested deeper than {MAX_NESTING} levels"
    return None


def parse(raw: str | bytes, model: type[M], *, today: date) -> M:
    """Validate `raw` JSON as `model` (IdentityPayload, Person, Address, …) or raise
    `Ivms101Invalid`. `today` decides whether a date of birth is in the past."""
    too_big = bounds_problem(raw)
    if too_big is not None:
        raise Ivms101Invalid((FieldError(_ROOT, too_big),))
    try:
        # First pass only to refuse what the validator would silently resolve:
        # a key given twice (which copy counts?) and NaN/Infinity.
        json.loads(raw, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise Ivms101Invalid((FieldError(_ROOT, f"not valid JSON: {exc.msg}"),)) from exc
    except UnicodeDecodeError as exc:  # bytes in none of JSON's encodings
        raise Ivms101Invalid(
            (FieldError(_ROOT, "not valid JSON: not UTF-8, UTF-16 or UTF-32 text"),)
        ) from exc
    try:
        return model.model_validate_json(raw, context={"today": today})
    except ValidationError as exc:
        raise Ivms101Invalid(_errors(exc, model)) from exc


def parse_payload(raw: str | bytes, *, today: date) -> IdentityPayload:
    return parse(raw, IdentityPayload, today=today)
