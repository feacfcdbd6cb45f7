"""Who is acting: a user, for one organisation, in one role (or the system, for timers)."""

from dataclasses import dataclass

from roles.enums import Role


@dataclass(frozen=True)
class Actor:
    user: object | None
    organisation: object | None
    role: Role | None
    named_access: bool = False  # an auditor allowed to see young people's identity (roles.policy)

    @classmethod
    def system(cls):
        return cls(user=None, organisation=None, role=None)

    @classmethod
    def from_membership(cls, membership):
        return cls(
            user=membership.user,
            organisation=membership.organisation,
            role=Role(membership.role),
            named_access=membership.named_access,
        )

    @property
    def is_system(self):
        return self.user is None

    @property
    def organisation_id(self):
        return self.organisation.pk if self.organisation is not None else None

    def __str__(self):
        if self.is_system:
            return "système"
        return f"{self.user} ({self.role.label}, {self.organisation})"
