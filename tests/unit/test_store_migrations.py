"""The migration history itself: one linear chain from the baseline, every step reversible."""

from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from tradeplane.runtime.store import migrate

pytestmark = pytest.mark.unit


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.config())


def test_script_location_is_the_package_folder() -> None:
    location = Path(_scripts().dir)
    assert location == migrate.MIGRATIONS_DIR
    assert (location / "env.py").is_file()
    assert (location / "script.py.mako").is_file()


def test_history_is_linear_from_the_baseline_to_a_single_head() -> None:
    scripts = _scripts()
    assert scripts.get_heads() == [migrate.head()]
    chain = list(reversed(list(scripts.walk_revisions("base", "heads"))))
    assert chain[0].revision == "0001_baseline"
    assert chain[0].down_revision is None
    for previous, revision in itertools.pairwise(chain):
        assert revision.down_revision == previous.revision
    assert chain[-1].revision == migrate.head()


def test_revision_ids_are_numbered_like_their_files() -> None:
    for revision in _scripts().walk_revisions("base", "heads"):
        path = Path(revision.path)
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+", revision.revision), revision.revision
        assert path.stem == revision.revision


def test_every_revision_can_be_downgraded() -> None:
    for revision in _scripts().walk_revisions("base", "heads"):
        spec = importlib.util.spec_from_file_location(f"rev_{revision.revision}", revision.path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        source = Path(revision.path).read_text()
        assert callable(module.upgrade) and callable(module.downgrade)
        assert "def downgrade() -> None:\n    pass" not in source, f"{revision.revision} has no downgrade"
