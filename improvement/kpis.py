"""The improvement chapter's window on the evaluation app's KPI registry.

Only the registry's published interface is used: ``evaluation.selectors.kpi_definition_list()``
and ``evaluation.selectors.kpi_snapshot_value(...)``, and ``KpiDefinition.code`` / ``label`` /
``direction``. The import happens at call time: the registry arrives on main in the same merge
as this chapter, and this module must import before it does (TODO(#14): move it to the top then).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal


def _registry():
    from evaluation import selectors

    return selectors


def kpi_definitions() -> list:
    """The KPIs in use, in display order."""
    return list(_registry().kpi_definition_list())


def kpi_definition(code: str):
    """The KPI in use with this code, or None."""
    return next((definition for definition in kpi_definitions() if definition.code == code), None)


def kpi_label(code: str) -> str:
    definition = kpi_definition(code)
    return f"{definition.label}" if definition is not None else code


def kpi_direction(definition) -> str | None:
    """'higher' or 'lower' when the definition says which way is better."""
    direction = getattr(definition, "direction", None)
    return direction if direction in ("higher", "lower") else None


def kpi_measured(*, kpi_code: str, period_kind: str, period_start: date, branch_id: int | None) -> Decimal | None:
    """The KPI's measured value for one period, for the branch (or the bank when ``branch_id`` is None)."""
    return _registry().kpi_snapshot_value(kpi_code=kpi_code, period_kind=period_kind, period_start=period_start,
                                          branch_id=branch_id)
