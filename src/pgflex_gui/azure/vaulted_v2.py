"""Vaulted backup v2 (physical, preview): the few calls sent raw at api-version 2026-07-01.

The app stays on ``azure-mgmt-dataprotection`` 2.2.0 (README "Vaulted backup v2"), whose
default api-version (2026-06-01) does not carry the v2 model. The v2 calls go raw through
the SAME SDK client: its ``_client`` pipeline (authentication, the factory's retry policy,
429/Retry-After handling, user agent, CA bundle) and its ARM long-running-operation poller
(``ARMPolling``, so continuation tokens resume as for every other :class:`Lro`). Errors pass
through :func:`~pgflex_gui.azure.errors.azure_call`, the one classifier.

What is INFERRED or UNCONFIRMED (shared doc ``azure-v2-and-resource-graph.md`` Topic 1) is
decided in the domain (``domain/v2_rules.py``, ``domain/restore_as_server.py``); this module
sends what they build and reports what Azure answers:

* the sequence validate-for-backup then PUT instance, with the PhysicalBackup marker (§1.5,
  INFERRED: the v1 sequence plus ``policyParameters``);
* the v2 policy body (§1.4, INFERRED; ``OperationalStore``/``backupType`` UNCONFIRMED);
* the restore-as-server body with ``RestoreTargetInfo`` (§1.6, INFERRED; its exact fields and
  whether ``identityDetails`` is required are UNCONFIRMED) — validate first, then trigger;
* :meth:`VaultedV2Service.get_backup_instance` reads at 2026-07-01, because what older
  api-versions return for a v2 instance is UNCONFIRMED (§1.9 item 7).

Before anything is sent the domain rules run (:func:`refusal`): a Burstable, PostgreSQL ≤ 14,
replica or unsupported-region server, or a policy draft breaking the v2 rules, raises
``AppError`` (fault USER) and sends nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.polling.arm_polling import ARMPolling

from pgflex_gui.azure import convert
from pgflex_gui.azure.clients import Lro
from pgflex_gui.azure.errors import azure_call
from pgflex_gui.azure.protection import backup_instance_body
from pgflex_gui.azure.service import AuditedService
from pgflex_gui.domain.errors import AppError, Fault
from pgflex_gui.domain.ids import ResourceId
from pgflex_gui.domain.issues import Issue
from pgflex_gui.domain.models import BackupInstance, FlexServer, PolicyInfo, Vault
from pgflex_gui.domain.policy import InvalidPolicy
from pgflex_gui.domain.v2_rules import (
    V2_API_VERSION,
    V2PolicyDraft,
    build_v2_policy_body,
    v2_eligibility_issues,
    with_v2_marker,
)

__all__ = ["V2_API_VERSION", "VaultedV2Service", "refusal", "v2_instance_body"]

log = logging.getLogger(__name__)

Json = dict[str, Any]


def v2_instance_body(server: FlexServer, policy_id: ResourceId | str) -> Json:
    """The v1 instance body (``protection.backup_instance_body``) plus the v2 marker."""
    return with_v2_marker(backup_instance_body(server, policy_id))


def refusal(issues: Sequence[Issue], what: str) -> AppError | None:
    """An ``AppError`` (fault USER) for the blocking issues, or None when nothing blocks."""
    blocking = [i for i in issues if i.blocks]
    if not blocking:
        return None
    first = blocking[0]
    return AppError(
        Fault.USER,
        f"Can't {what}: {first.message}",
        " ".join(i.remedy for i in blocking if i.remedy),
        details="\n".join(str(i) for i in blocking),
    )


def _unwrap(body: Mapping[str, Any]) -> Json:
    inner = body.get("properties")
    return dict(inner) if isinstance(inner, Mapping) else dict(body)


def _json_of(pipeline_response: Any) -> Any:
    response = pipeline_response.http_response
    text = response.text() if response.content else ""
    return json.loads(text) if text else None


class VaultedV2Service(AuditedService):
    """v2 protection and restore-as-server. Methods block and raise ``AppError``."""

    # -- the raw pipeline ------------------------------------------------------------------

    def _client(self, subscription_id: str) -> Any:
        return self._factory.dataprotection(subscription_id)

    def _request(self, client: Any, method: str, path: str, body: Any) -> HttpRequest:
        url = f"{path}?api-version={V2_API_VERSION}"
        request = (
            HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        )
        request.url = client._client.format_url(request.url, endpoint=self._endpoint(client))
        return request

    @staticmethod
    def _endpoint(client: Any) -> str:
        return str(client._config.base_url).rstrip("/")

    def _send(
        self, subscription_id: str, method: str, path: str, body: Any, ok: Sequence[int]
    ) -> Any:
        """One call through the client's pipeline; an unexpected status raises the SDK error."""
        client = self._client(subscription_id)
        pipeline_response = client._client._pipeline.run(
            self._request(client, method, path, body), stream=False
        )
        response = pipeline_response.http_response
        if response.status_code not in ok:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return pipeline_response

    def _poller(
        self,
        subscription_id: str,
        method: str,
        path: str,
        body: Any,
        ok: Sequence[int],
        output: Callable[[Any], Any],
        continuation_token: str | None,
    ) -> LROPoller[Any]:
        client = self._client(subscription_id)
        polling = ARMPolling(
            self._factory.polling_interval,
            path_format_arguments={"endpoint": self._endpoint(client)},
        )
        if continuation_token is not None:
            return LROPoller.from_continuation_token(
                polling_method=polling,
                continuation_token=continuation_token,
                client=client._client,
                deserialization_callback=output,
            )
        initial = self._send(subscription_id, method, path, body, ok)
        return LROPoller(client._client, initial, output, polling)

    # -- policy ------------------------------------------------------------------------------

    def create_policy(
        self, vault_id: ResourceId, draft: V2PolicyDraft, reference_date: date
    ) -> PolicyInfo:
        """PUT a v2 (daily or weekly) policy at 2026-07-01; the draft is checked first."""
        try:
            body = build_v2_policy_body(draft, reference_date)
        except InvalidPolicy as exc:
            err = refusal(exc.issues, "create the v2 backup policy")
            assert err is not None
            raise err from exc
        path = str(vault_id.child("backupPolicies", draft.name))
        raw = self._write(
            "create the v2 backup policy",
            path,
            lambda: _json_of(self._send(vault_id.subscription_id, "PUT", path, body, (200, 201))),
        )
        return convert.policy(raw or {})

    # -- protection --------------------------------------------------------------------------

    def check_eligible(self, server: FlexServer, vault: Vault | None = None) -> None:
        """Raise ``AppError`` when the v2 rules refuse ``server`` (nothing is sent)."""
        err = refusal(v2_eligibility_issues(server, vault), f"protect {server.name} with v2")
        if err is not None:
            raise err

    def begin_validate_for_backup(
        self,
        vault_id: ResourceId,
        instance_body: Mapping[str, Any],
        *,
        server: FlexServer | None = None,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """``POST validateForBackup`` at 2026-07-01 with the marker (long-running, no result).

        With ``server`` the v2 eligibility rules run first.
        """
        if server is not None and continuation_token is None:
            self.check_eligible(server)
        body = {"backupInstance": _unwrap(with_v2_marker(dict(instance_body)))}
        path = f"{vault_id}/validateForBackup"
        return self._begin(
            "validate the v2 backup configuration",
            str(vault_id),
            lambda: self._poller(
                vault_id.subscription_id,
                "POST",
                path,
                body,
                (200, 202),
                lambda _r: None,
                continuation_token,
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
            audited=False,
        )

    def begin_configure_protection(
        self,
        vault_id: ResourceId,
        name: str,
        instance_body: Mapping[str, Any],
        *,
        server: FlexServer | None = None,
        continuation_token: str | None = None,
    ) -> Lro[BackupInstance]:
        """``PUT backupInstances/{name}`` at 2026-07-01 with the marker (long-running)."""
        if server is not None and continuation_token is None:
            self.check_eligible(server)
        marked = with_v2_marker(dict(instance_body))
        body = marked if isinstance(marked.get("properties"), Mapping) else {"properties": marked}
        path = str(vault_id.child("backupInstances", name))
        return self._begin(
            "configure v2 protection",
            path,
            lambda: self._poller(
                vault_id.subscription_id,
                "PUT",
                path,
                body,
                (200, 201, 202),
                _json_of,
                continuation_token,
            ),
            lambda raw: convert.backup_instance(raw or {}),
            resumed=continuation_token is not None,
        )

    def get_backup_instance(self, instance_id: ResourceId) -> BackupInstance:
        """Read an instance at 2026-07-01 (its ``backup_kind`` from the documented marker)."""
        with azure_call("read the backup instance"):
            raw = _json_of(
                self._send(instance_id.subscription_id, "GET", str(instance_id), None, (200,))
            )
        return convert.backup_instance(raw or {})

    # -- restore as server -------------------------------------------------------------------

    def begin_validate_restore(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[None]:
        """``POST validateRestore`` at 2026-07-01 (long-running; a broken rule raises)."""
        body = {
            "objectType": "ValidateRestoreRequestObject",
            "restoreRequestObject": dict(restore_request),
        }
        path = f"{instance_id}/validateRestore"
        return self._begin(
            "validate the restore as a server",
            str(instance_id),
            lambda: self._poller(
                instance_id.subscription_id,
                "POST",
                path,
                body,
                (200, 202),
                lambda _r: None,
                continuation_token,
            ),
            lambda _raw: None,
            resumed=continuation_token is not None,
            audited=False,
        )

    def begin_restore_as_server(
        self,
        instance_id: ResourceId,
        restore_request: Mapping[str, Any],
        *,
        continuation_token: str | None = None,
    ) -> Lro[str]:
        """``POST restore`` at 2026-07-01; the result is the full ARM id of the restore job."""
        vault_id = instance_id.parent or instance_id
        path = f"{instance_id}/restore"
        return self._begin(
            "start the restore as a server",
            str(instance_id),
            lambda: self._poller(
                instance_id.subscription_id,
                "POST",
                path,
                dict(restore_request),
                (200, 202),
                _json_of,
                continuation_token,
            ),
            lambda raw: convert.job_id_from(raw or {}, vault_id),
            resumed=continuation_token is not None,
        )
