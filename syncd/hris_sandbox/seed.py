"""The people a seeded company already employs, the same for the same seed. Vendor modules map
them to their own field names; lookups must tell these apart from new hires."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

FIRST = (
    "Ada",
    "Bruno",
    "Chen",
    "Dalia",
    "Emil",
    "Farah",
    "Gustav",
    "Hana",
    "Ivo",
    "Jana",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tove",
)
LAST = (
    "Abara",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Silva",
)
DEPARTMENTS = ("Engineering", "Sales", "Customer Success", "Finance", "People")
TITLES = (
    "Software Engineer",
    "Account Executive",
    "Support Specialist",
    "Controller",
    "Recruiter",
    "Product Manager",
)
LOCATIONS = ("Berlin", "Lisbon", "Munich", "Remote")


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    work_email: str
    department: str
    job_title: str
    location: str
    hire_date: str  # YYYY-MM-DD, in the past
    employee_number: str


def people(rng: random.Random, count: int, domain: str = "example.com") -> list[Person]:
    out = []
    start = dt.date(2019, 1, 7)
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append(
            Person(
                first_name=first,
                last_name=last,
                work_email=f"{first.lower()}.{last.lower()}.{i + 1}@{domain}",
                department=rng.choice(DEPARTMENTS),
                job_title=rng.choice(TITLES),
                location=rng.choice(LOCATIONS),
                hire_date=(start + dt.timedelta(days=rng.randrange(0, 2000))).isoformat(),
                employee_number=f"E{i + 1:04d}",
            )
        )
    return out
