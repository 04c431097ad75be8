"""The project's own table: a marker for each demo seed, so a partial seed is recognisable."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DemoSeedRun(models.Model):
    """One run of ``seed_demo``: written (committed) before the first row is loaded, finished at the end.

    A run without ``finished_at`` is a seed that was interrupted: ``seed_demo --repair`` (and
    ``make run``) wipes its partial data and seeds again with the same options.
    """

    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    options = models.JSONField(_("options"), default=dict)

    class Meta:
        verbose_name = _("demo seed run")
        verbose_name_plural = _("demo seed runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"demo seed {self.started_at:%Y-%m-%d %H:%M} {'done' if self.finished_at else 'unfinished'}"
