"""Train a churn model version on the CRM's history and print the metrics table."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from lifecycle import modelling, services

METRICS = ("roc_auc", "pr_auc", "brier", "top_decile_precision", "top_decile_lift")


class Command(BaseCommand):
    help = ("Train a churn model: features as of the cutoff, label = closed or inactive past the policy's days "
            "within the horizon; HistGradientBoosting compared with RandomForest and logistic regression.")

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="validation cutoff YYYY-MM-DD (default: today minus the horizon); the training "
                                 "cutoff is one horizon earlier when the history allows")
        parser.add_argument("--horizon", type=int, default=services.DEFAULT_HORIZON_DAYS,
                            help="days after the cutoff in which churn counts (default 180)")
        parser.add_argument("--algorithm", choices=modelling.ALGORITHMS, default=modelling.HGB,
                            help="the algorithm deployed (default hist_gradient_boosting)")

    def handle(self, *args, **options):
        try:
            outcome = services.churn_model_train(as_of=options["as_of"], horizon_days=options["horizon"],
                                                 algorithm=options["algorithm"])
        except ApplicationError as error:
            raise CommandError(error.message) from error
        model = outcome.model
        self.stdout.write(
            f"Model v{model.version} ({model.algorithm}), {model.get_validation_method_display()}.\n"
            f"Training: cutoff {model.train_cutoff}, {model.train_customers:,} customers, "
            f"{model.train_positives:,} churned within {model.horizon_days} days.\n"
            f"Validation: cutoff {model.validation_cutoff}, {model.validation_customers:,} customers, "
            f"{model.validation_positives:,} churned."
        )
        header = f"{'algorithm':<24}" + "".join(f"{name:>22}" for name in METRICS)
        self.stdout.write(header)
        for name, metrics in outcome.table:
            marker = " *" if name == model.algorithm else ""
            self.stdout.write(f"{name + marker:<24}" + "".join(f"{metrics.get(m)!s:>22}" for m in METRICS))
        self.stdout.write(f"Trained in {model.training_seconds:.1f} s; file {model.file_name} "
                          f"sha256 {model.sha256[:16]}…")
        if outcome.activated:
            self.stdout.write(self.style.SUCCESS(f"v{model.version} is now the active model."))
        else:
            self.stdout.write(self.style.WARNING(
                f"v{model.version} is not active: the active model scores ROC AUC {outcome.active_auc_on_same_data} "
                "on the same validation data (an administrator may activate it on /lifecycle/models/)."
            ))
