from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Branch, Delegation, DelegationReason, Role, User

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:04d}")
    name = factory.Sequence(lambda n: f"Branch {n}")
    region = "Beijing"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    staff_number = factory.Sequence(lambda n: f"S{n:05d}")
    branch = factory.SubFactory(BranchFactory)
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs) -> None:
        if create and extracted:
            # get_or_create: a transactional test's flush also empties the groups the data
            # migration made, and a later transactional test must still get its roles.
            self.groups.add(*(Group.objects.get_or_create(name=role.value)[0] for role in extracted))
        if create:
            self.save()


class DelegationFactory(factory.django.DjangoModelFactory):
    """A delegation written straight to the table (bypassing the service's rules, e.g. past dates)."""

    class Meta:
        model = Delegation

    delegator = factory.SubFactory(UserFactory, roles=[Role.RELATIONSHIP_MANAGER])
    delegate = factory.SubFactory(
        UserFactory, roles=[Role.RELATIONSHIP_MANAGER], branch=factory.SelfAttribute("..delegator.branch")
    )
    starts_on = factory.LazyFunction(timezone.localdate)
    ends_on = factory.LazyAttribute(lambda d: d.starts_on + timedelta(days=6))
    reason = DelegationReason.LEAVE
    created_by = factory.SelfAttribute("delegator")
