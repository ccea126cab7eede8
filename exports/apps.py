from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Export jobs, their schedule and the audit log: services, task, admin, API and commands."""

    name = "exports"
    verbose_name = "Data pipeline"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from django_q.signals import post_spawn

        from . import cluster_announce, housekeeping

        post_migrate.connect(housekeeping.post_migrate_handler, sender=self, dispatch_uid="exports-reaper-schedule")
        post_spawn.connect(housekeeping.reap_on_worker_start, dispatch_uid="exports-reap-on-worker-start")
        post_spawn.connect(cluster_announce.announce_worker_start, dispatch_uid="exports-announce-worker-start")
