"""The parse cache of policy files: the same data and lines as a parse, for every shipped file;
a changed file or a damaged entry is parsed again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from schoolmode.policy import yamlcache
from schoolmode.policy.errors import PolicyFileError
from schoolmode.policy.loader import Registry, default_policy_dir, policy_hash
from schoolmode.policy.yamlio import load_yaml

SHIPPED = sorted(default_policy_dir().glob("*/policy.yaml")) + sorted(
    default_policy_dir().glob("*/cases/*.yaml")
)


def test_every_shipped_file_reads_back_identical(tmp_path: Path) -> None:
    assert len(SHIPPED) > 30
    for path in SHIPPED:
        parsed = load_yaml(path)
        missed = load_yaml(path, tmp_path)  # parses and writes the entry
        hit = load_yaml(path, tmp_path)  # reads the entry
        assert yamlcache.read(tmp_path, path.read_bytes()) is not None, path
        for loaded in (missed, hit):
            assert loaded.data == parsed.data, path
            assert loaded.lines == parsed.lines, path
            assert _types(loaded.data) == _types(parsed.data), path


def _types(value: object) -> object:
    if isinstance(value, dict):
        return [(_types(k), _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_registry_from_the_cache_gives_the_same_policies(tmp_path: Path) -> None:
    plain = Registry()
    Registry(cache_dir=tmp_path)
    cached = Registry(cache_dir=tmp_path)
    assert cached.ids() == plain.ids()
    for pid in plain.ids():
        assert policy_hash(cached.get(pid).policy) == policy_hash(plain.get(pid).policy)


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\nb: [2020-01-01, 0.5]\n")
    assert load_yaml(path, tmp_path / "c").data == {
        "a": 1,
        "b": [dt.date(2020, 1, 1), Decimal("0.5")],
    }
    path.write_text("a: 2\n")
    assert load_yaml(path, tmp_path / "c").data == {"a": 2}


def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    cache = tmp_path / "c"
    load_yaml(path, cache)
    (entry,) = (cache / yamlcache.FOLDER).iterdir()
    entry.write_text('{"format": "schoolmode-yaml-cache-1", "data": {"$nope": 1}')
    assert load_yaml(path, cache).data == {"a": 1}
    assert yamlcache.read(cache, path.read_bytes()) == ({"a": 1}, {(): 1, ("a",): 1})


def test_an_unwritable_cache_only_costs_the_parse(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert load_yaml(path, blocker).data == {"a": 1}


def test_syntax_errors_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: [1\n")
    for _ in range(2):
        with pytest.raises(PolicyFileError, match="YAML syntax error"):
            load_yaml(path, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(PolicyFileError, match="not UTF-8"):
        load_yaml(path, tmp_path / "c")


def test_an_entry_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\n")
    cache = tmp_path / "c"
    load_yaml(path, cache)
    folder = cache / yamlcache.FOLDER
    assert folder.stat().st_mode & 0o077 == 0  # the folder is the owner's only
    (entry,) = folder.iterdir()
    assert entry.stat().st_mode & 0o022 == 0
    assert yamlcache.read(cache, path.read_bytes()) is not None
    # an entry planted or left writable by others says something else: it is not read
    planted = entry.read_text().replace('[["a", 1]]', '[["a", 2]]')
    assert planted != entry.read_text()
    entry.write_text(planted)
    entry.chmod(0o600)
    assert yamlcache.read(cache, path.read_bytes()) == ({"a": 2}, {(): 1, ("a",): 1})
    entry.chmod(0o666)
    assert yamlcache.read(cache, path.read_bytes()) is None
    assert load_yaml(path, cache).data == {"a": 1}
