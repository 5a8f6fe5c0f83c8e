"""The example app's knowledge base: one short passage per plan and topic."""

from __future__ import annotations

PLANS = {
    "Starter": ("$9", "1 GB", "email", "3 seats"),
    "Team": ("$29", "50 GB", "chat", "10 seats"),
    "Business": ("$79", "500 GB", "phone", "50 seats"),
    "Enterprise": ("$199", "5 TB", "a named engineer", "unlimited seats"),
    "Education": ("$4", "20 GB", "the community forum", "200 seats"),
}


def passages() -> list[str]:
    """Every passage of the knowledge base, in index order."""
    docs = []
    for plan, (price, storage, support, seats) in PLANS.items():
        docs += [
            f"The {plan} plan costs {price} per month, billed monthly.",
            f"The {plan} plan includes {storage} of storage per workspace.",
            f"Customers on the {plan} plan get support through {support}.",
            f"A {plan} workspace allows {seats}.",
        ]
    return docs
