from django.core.management.base import BaseCommand

from crm_project import demo


class Command(BaseCommand):
    help = "Seed demo branches and one login per role (and, from issue #3, customers)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="do nothing when demo data exists")
        parser.add_argument("--seed", type=int, default=42, help="random seed (deterministic output)")

    def handle(self, *args, **options):
        password, source = demo.demo_password()
        if options["if_empty"] and demo.demo_is_seeded():
            self.stdout.write("Demo data already present; not seeding.")
        else:
            demo.demo_seed_staff(password=password)
            self.stdout.write(self.style.SUCCESS("Demo data seeded."))
        usernames = ", ".join(username for username, *_ in demo.DEMO_USERS)
        self.stdout.write(f"Demo logins: {usernames}")
        if source == "CRM_DEMO_PASSWORD":
            self.stdout.write("Password: the value of CRM_DEMO_PASSWORD")
        else:
            self.stdout.write(f"Password: {password}  ({source})")
