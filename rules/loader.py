"""Load and validate the pack files; a bad file is refused naming the file and field."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from rules.book import RuleBook
from rules.model import AssetRegistryFile, PackFile

ASSETS_FILE = "assets.toml"


class PackError(ValueError):
    """A pack file that cannot be used: which file, which field, what is wrong."""

    def __init__(self, file: str, problems: list[str]) -> None:
        super().__init__(f"{file}: " + "; ".join(problems))
        self.file = file
        self.problems = problems


def default_pack_dir() -> Path:
    return Path(str(resources.files("rules") / "packs"))


def _parse(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PackError(path.name, [f"not valid TOML: {exc}"]) from exc


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()]


def load_rule_book(directory: Path | None = None) -> RuleBook:
    directory = directory or default_pack_dir()
    return book_from_content({path.name: _parse(path) for path in sorted(directory.glob("*.toml"))})


def book_from_content(raw_files: dict[str, Any]) -> RuleBook:
    """Validate file contents (as parsed from disk, or as stored with a version)."""
    packs: dict[str, PackFile] = {}
    files: dict[str, Any] = {}
    for name, raw in sorted(raw_files.items()):
        try:
            if name == ASSETS_FILE:
                registry = AssetRegistryFile.model_validate(raw)
                files[name] = registry.model_dump(mode="json")
                continue
            pack = PackFile.model_validate(raw)
        except ValidationError as exc:
            raise PackError(name, _problems(exc)) from exc
        if pack.country in packs:
            raise PackError(name, [f"country: {pack.country} is defined by another file too"])
        if name.removesuffix(".toml").upper() != pack.country:
            raise PackError(name, [f"country: {pack.country} does not match the file name"])
        packs[pack.country] = pack
        files[name] = pack.model_dump(mode="json")
    if ASSETS_FILE not in files:
        raise PackError(ASSETS_FILE, ["the asset registry is missing"])
    if "ZZ" not in packs:
        raise PackError("zz.toml", ["the default pack (country ZZ) is missing"])
    assets = AssetRegistryFile.model_validate(files[ASSETS_FILE])
    return RuleBook(
        version=content_version(files),
        packs=packs,
        assets={a.asset: a.asset_class for a in assets.assets},
        content=files,
    )


def content_version(content: dict[str, Any]) -> str:
    """A hash of the validated content: comments and layout do not make a new version."""
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()[:16]
