"""Reference data the project seeds is shown in the UI language, and date inputs always carry ISO values."""

import ast
from datetime import date
from pathlib import Path

import pytest
from django import forms
from django.conf import settings
from django.utils import translation

from core.widgets import IsoDateInput
from segmentation.forms import SegmentOverrideProposeForm
from segmentation.models import ServiceStrategy, Tier
from service.models import FeedbackTopic, Touchpoint

pytestmark = pytest.mark.django_db


def test_seeded_touchpoints_sop_steps_and_topics_read_in_the_ui_language():
    transfer = Touchpoint.objects.get(code="transfer")
    fees = FeedbackTopic.objects.get(code="fees")
    with translation.override("zh-hans"):
        assert transfer.label == "转账" and fees.label == "收费"
        assert transfer.sop_step_labels[0][1] == "核验身份"
    with translation.override("en"):
        assert transfer.label == "transfer" and fees.label == "fees"
        assert transfer.sop_step_labels[0][1] == "Verify identity"


def test_every_seeded_touchpoint_has_chinese_for_each_step():
    for touchpoint in Touchpoint.objects.all():
        assert touchpoint.name_zh, touchpoint.code
        assert len(touchpoint.sop_steps_zh) == len(touchpoint.sop_steps), touchpoint.code


def test_tier_strategies_read_in_the_ui_language():
    from segmentation.services import segmentation_defaults_ensure

    segmentation_defaults_ensure()
    general = ServiceStrategy.objects.get(tier=Tier.GENERAL)
    with translation.override("zh-hans"):
        assert general.service_level_label.startswith("标准服务")
    with translation.override("en"):
        assert general.service_level_label.startswith("Standard service")


def test_a_row_without_chinese_falls_back_to_english():
    topic = FeedbackTopic.objects.create(code="parking", name="parking")
    with translation.override("zh-hans"):
        assert topic.label == "parking"


def test_tier_change_form_renders_iso_dates_in_chinese_and_no_preselected_tier():
    with translation.override("zh-hans"):
        form = SegmentOverrideProposeForm(initial={"starts_on": date(2026, 12, 5), "expires_on": date(2027, 3, 4)})
        html = str(form["starts_on"]) + str(form["expires_on"]) + str(form["tier"])
    assert 'value="2026-12-05"' in html and 'value="2027-03-04"' in html
    assert 'type="date"' in html
    assert '<option value="" selected>' in html


def _project_form_classes() -> list[type[forms.BaseForm]]:
    root = Path(settings.BASE_DIR)
    classes = []
    for path in root.glob("*/forms.py"):
        module = __import__(f"{path.parent.name}.forms", fromlist=["*"])
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                cls = getattr(module, node.name, None)
                if isinstance(cls, type) and issubclass(cls, forms.BaseForm):
                    classes.append(cls)
    return classes


def test_every_date_input_of_the_project_renders_iso():
    """<input type=date> needs yyyy-MM-dd; a locale format (2026/12/05 in zh-hans) leaves it blank."""
    offenders = []
    for form_class in _project_form_classes():
        for name, field in form_class.base_fields.items():
            widget = field.widget
            is_date = getattr(widget, "input_type", "") == "date"
            if is_date and not isinstance(widget, IsoDateInput) and getattr(widget, "format", None) != "%Y-%m-%d":
                offenders.append(f"{form_class.__module__}.{form_class.__name__}.{name}")
    assert offenders == []
