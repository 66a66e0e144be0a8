"""Fixtures shared by the adapter tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.sandbox.runtime import NullDataPlane, Sandbox
from tests.adapters.azure_helpers import sandbox_factory


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """An ARM-only sandbox of the test module's own: its writes touch no other module."""
    sb = Sandbox.start(
        Path(tmp_path_factory.mktemp("arm")),
        seed="minimal",
        dataplane=NullDataPlane(),
        page_size=2,
        retry_after=0,
    )
    yield sb
    sb.stop()


@pytest.fixture(scope="module")
def factory(box: Sandbox) -> Iterator[ClientFactory]:
    """The app's client factory over the module's sandbox."""
    f = sandbox_factory(box)
    yield f
    f.close()
