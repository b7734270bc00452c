"""The fault suite reuses the in-thread hub of the service tests."""

from tests.services.conftest import running_hub  # noqa: F401 - the fixture
