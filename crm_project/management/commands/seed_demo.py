from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from complaints import demo as complaints_demo
from crm_project import demo
from crm_project.demo import state as demo_state
from customers import consent as customer_consent
from customers import services as customer_services
from improvement import demo as improvement_demo
from lifecycle import demo as lifecycle_demo
from segmentation import demo as segmentation_demo
from service import demo as service_demo
from training import demo as training_demo

DEFAULT_CUSTOMERS = 2000
# What a repair re-uses from the interrupted run's marker.
RESEED_OPTIONS = ("customers", "seed", "months", "transactions_per_month", "as_of", "customers_only",
                  "skip_data_quality")
PROGRESS_EVERY_SECONDS = 5.0


class Command(BaseCommand):
    help = (
        "Seed demo branches, one login per role, RMs, products and customers with holdings, "
        "transactions and interactions (deterministic for a seed; COPY into PostgreSQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing when a complete seed (or any customer data) is present")
        parser.add_argument("--repair", action="store_true",
                            help="if an earlier seed was interrupted, wipe its partial data and seed again with "
                                 "its options (make run passes this)")
        parser.add_argument("--seed", type=int, default=42, help="random seed, >= 0 (deterministic output)")
        parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                            help=f"number of customers (default {DEFAULT_CUSTOMERS}; "
                                 "0: staff and products only)")
        parser.add_argument("--months", type=int, default=24, help="months of history ending on --as-of")
        parser.add_argument("--transactions-per-month", type=float, default=10.0,
                            help="mean transactions per customer per month over the whole book (default 10; "
                                 "0.42 gives 10 M transactions for 1 M customers over 24 months)")
        parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                            help="last day of the history, YYYY-MM-DD (default today)")
        parser.add_argument("--customers-only", action="store_true",
                            help="load customers and their history only: no service records, complaints, "
                                 "segmentation or recommendations")
        parser.add_argument("--skip-data-quality", action="store_true",
                            help="do not run the data-quality pass after loading (it opens the planted "
                                 "defects' issues and computes completeness scores)")
        parser.add_argument("--workers", type=int, default=None,
                            help="generator processes (default 2 on Linux with 2+ CPUs, else 1); "
                                 "the output does not depend on it")

    def handle(self, *args, **options):
        password, source = demo.demo_password()
        state = demo_state.demo_seed_state()
        if state == demo_state.PARTIAL:
            unfinished = demo_state.demo_seed_unfinished()
            if not options["repair"]:
                raise CommandError(
                    f"An earlier seed_demo (started {unfinished.started_at:%Y-%m-%d %H:%M} UTC) did not finish; "
                    "run seed_demo --repair to wipe its partial data and seed again.")
            self.stdout.write(self.style.WARNING(
                "An earlier seed_demo did not finish: wiping its partial data and seeding again."))
            demo_state.demo_seed_wipe()
            options = {**options, **{key: value for key, value in unfinished.options.items()
                                     if key in RESEED_OPTIONS}}
            if options.get("as_of"):
                options["as_of"] = date.fromisoformat(options["as_of"])
            self._seed(options, password)
        elif options["if_empty"] and state == demo_state.COMPLETE:
            self.stdout.write("Demo data already present; not seeding.")
        else:
            self._seed(options, password)
        usernames = ", ".join(username for username, *_ in demo.DEMO_USERS)
        self.stdout.write(f"Demo logins: {usernames}")
        if source == "CRM_DEMO_PASSWORD":
            self.stdout.write("Password: the value of CRM_DEMO_PASSWORD")
        else:
            self.stdout.write(f"Password: {password}  ({source})")

    def _seed(self, options, password: str) -> None:
        marker = demo_state.demo_seed_begin(options={
            key: (value.isoformat() if isinstance(value, date) else value)
            for key, value in options.items() if key in RESEED_OPTIONS})
        self._seed_steps(options, password)
        demo_state.demo_seed_finish(run=marker)

    def _seed_steps(self, options, password: str) -> None:
        customers, months = options["customers"], options["months"]
        per_month = options["transactions_per_month"]
        self.stdout.write(
            f"Seeding {customers:,} customers, seed {options['seed']}, {months} months, "
            f"{round(customers * per_month * months):,} transactions ..."
        )
        last_report = [0.0]

        def progress(report: demo.SeedProgress) -> None:
            finished = report.customers_done == report.customers_total
            if not finished and report.elapsed_seconds - last_report[0] < PROGRESS_EVERY_SECONDS:
                return
            last_report[0] = report.elapsed_seconds
            rate = report.customers_done / report.elapsed_seconds if report.elapsed_seconds else 0
            self.stdout.write(
                f"  {report.customers_done:,}/{report.customers_total:,} customers, "
                f"{report.rows['transactions']:,} transactions, {report.elapsed_seconds:.0f} s, "
                f"{rate:,.0f} customers/s"
            )

        try:
            summary = demo.demo_seed(
                customers=customers, seed=options["seed"], password=password, months=months,
                transactions_per_month=per_month, as_of=options["as_of"], workers=options["workers"],
                progress=progress,
            )
        except demo.DemoSeedError as exc:
            raise CommandError(str(exc)) from exc
        rows = summary.rows
        self.stdout.write(self.style.SUCCESS(
            f"Demo data seeded in {summary.elapsed_seconds:.1f} s ({summary.workers} generator process(es), "
            f"foreign-key checks {'on' if summary.foreign_key_checks else 'skipped'}): "
            f"{rows['customers']:,} customers, {rows['holdings']:,} holdings, "
            f"{rows['transactions']:,} transactions, {rows['interactions']:,} interactions; "
            f"{summary.relationship_managers} RMs, {summary.products} products."
        ))
        if rows["customers"]:
            shares = ", ".join(f"{segment} {100 * summary.segments[segment] / rows['customers']:.1f} %"
                               for segment in demo.SEGMENTS)
            defects = ", ".join(f"{rule} {count}" for rule, count in sorted(summary.defects.items()))
            self.stdout.write(f"Segments: {shares}. Planted data-quality defects: {defects}")
            consents = customer_consent.consent_backfill_from_legacy()
            self.stdout.write(f"Consent per purpose and channel: {consents:,} rows.")
            if not options["skip_data_quality"]:
                result = customer_services.data_quality_run()
                self.stdout.write(
                    f"Data-quality pass: {result.opened:,} issues opened, "
                    f"{result.customers_scored:,} customers scored."
                )
            if not options["customers_only"]:
                self._seed_later_chapters(seed=options["seed"], as_of=options["as_of"] or timezone.localdate())

    def _seed_later_chapters(self, *, seed: int, as_of: date) -> None:
        """Service records and surveys, complaints, then classification (whose VIP rule counts services)."""
        end_of_day = timezone.make_aware(datetime.combine(as_of, time(18, 0)))
        service = service_demo.demo_seed_service(seed=seed, as_of=as_of)
        self.stdout.write(
            f"Service: {service['service_records']:,} service records, {service['invitations']:,} survey "
            f"invitations, {service['responses']:,} answers, {service['follow_ups']:,} follow-ups."
        )
        complaints = complaints_demo.demo_seed_complaints(seed=seed, as_of=end_of_day)
        self.stdout.write("Complaints: " + ", ".join(f"{key} {value:,}" for key, value in complaints.items()
                                                      if isinstance(value, int)) + ".")
        churn = lifecycle_demo.demo_plant_churn(seed=seed, as_of=as_of)
        self.stdout.write(f"Churn planted: {churn['churners']:,} churners ({churn['closed']:,} closed).")
        segments = segmentation_demo.demo_seed_segmentation(as_of=as_of)
        self.stdout.write(
            f"Segmentation (policy v{segments['policy_version']}): {segments['customers_classified']:,} "
            f"customers classified, {segments['recommendations']:,} recommendations, {segments['seconds']} s."
        )
        lifecycle = lifecycle_demo.demo_seed_lifecycle(as_of=as_of)
        self.stdout.write(
            "Lifecycle: " + ", ".join(f"{key} {value}" for key, value in lifecycle.items()) + "."
        )
        training = training_demo.demo_seed_training(as_of=as_of)
        improvement = improvement_demo.demo_seed_improvement(as_of=as_of)
        self.stdout.write(f"Training: {training['enrolments']:,} enrolments; improvement: "
                          f"{improvement['suggestions']} suggestions, {improvement['scorecards']:,} RM scorecards.")
