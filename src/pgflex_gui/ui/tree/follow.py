"""Which resources a finished job changed, so the tree can refresh the rows that show them.

Duck-typed over the jobs the app runs (no job class needs to know about the tree):

- configuring backup (``ProtectJob``): its vault (new instance, maybe a new policy or vault)
  and every server it protects;
- managing a backup instance (stop, resume, change policy, delete) and "Backup now": the
  instance (the tree reloads its vault, and re-reads which servers are protected);
- a restore (``RestoreJob``, or the GUI's restore job, which names it in ``touches``): the
  target server (a new server appears in its subscription);
- any job that names its resources in ``touches``.
"""

from __future__ import annotations

__all__ = ["touched_resources"]


def touched_resources(job: object) -> list[str]:
    """ARM ids the job may have created or changed (empty for jobs the tree doesn't show)."""
    ids: list[str] = []
    plan = getattr(job, "plan", None)
    vault_id = getattr(plan, "vault_id", None)
    if vault_id is not None:
        ids.append(str(vault_id))
        ids += [str(t.server.id) for t in getattr(plan, "targets", ()) if hasattr(t, "server")]
    instance_id = getattr(job, "instance_id", None)
    if instance_id is not None:
        ids.append(str(instance_id))
    engine = getattr(job, "engine", None)
    target = getattr(getattr(getattr(engine, "plan", None), "target", None), "server_id", "")
    if target:
        ids.append(str(target))
    ids += [str(t) for t in getattr(job, "touches", ()) if t and str(t) not in ids]
    return ids
