"""Demo customers, generated from ``random.Random(f"{slug}:{index}")``: the same index always
gives the same customer, so a rerun, or a top-up to a larger count, yields identical rows
without storing any state."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from django.db import transaction
from django_scopes import scope

from demo.organizations import UtilitySpec
from portal.customers.models import ServiceAccount
from portal.models import (
    Utility,
)

CUSTOMERS_PER_DEMO_UTILITY = 300
BULK_BATCH_SIZE = 2000

_RATE_CLASS_WEIGHTS = (
    (ServiceAccount.RateClass.RESIDENTIAL, 45),
    (ServiceAccount.RateClass.RESIDENTIAL_TOU, 25),
    (ServiceAccount.RateClass.RESIDENTIAL_EV, 24),
    (ServiceAccount.RateClass.SMALL_COMMERCIAL, 6),
)

# Deterministic material for customer records.
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Daniel Lisa Matthew Nancy "
    "Anthony Betty Mark Sandra Donald Ashley Steven Emily Andrew Kimberly Joshua Donna Kenneth "
    "Michelle Kevin Carol Brian Amanda Timothy Melissa Ronald Deborah Jason Stephanie Jose "
    "Rebecca Luis Laura Carlos Maria Juan Rosa Miguel Ana Wei Mei Hiroshi Yuki Arjun Priya "
    "Mohammed Fatima Olga Ivan Kwame Amara Liam Sofia Noah Olivia Ethan Ava Mateo Camila"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Chen Patel Kim Singh Tanaka Okafor Novak Schmidt Yoder Lindqvist Dubois Rossi Kowalski "
    "O'Brien Murphy Castillo Vargas Mendoza Ortiz Fischer Becker Haddad Mensah"
).split()
STREETS = (
    "Olive Ave",
    "Shaw Ave",
    "Herndon Ave",
    "Cedar Ave",
    "Maple St",
    "Oak St",
    "Pine St",
    "Elm St",
    "Willow Way",
    "Sunset Dr",
    "Mountain View Rd",
    "Ridge Rd",
    "Prospect Rd",
    "Harmony Rd",
    "College Ave",
    "Mulberry St",
    "Meadowlark Ln",
    "Canyon Dr",
    "Lakeview Dr",
    "Orchard Ln",
    "Vineyard Way",
    "Walnut St",
    "Juniper Ct",
    "Aspen Ct",
    "Cottonwood Dr",
    "Sycamore Ln",
    "Peach Ave",
    "Railroad Ave",
    "Main St",
    "1st St",
    "2nd St",
    "3rd St",
    "Lincoln Ave",
    "Washington Blvd",
    "Highland Ave",
    "Park Ave",
)
BUSINESS_KINDS = (
    "Bakery",
    "Auto Repair",
    "Family Dental",
    "Hardware",
    "Veterinary Clinic",
    "Coffee Roasters",
    "Tire & Brake",
    "Dry Cleaning",
    "Florist",
    "Fitness",
)


def account_number_for(*, spec: UtilitySpec, index: int) -> str:
    return f"{spec.account_prefix}{index:08d}"


def build_customer(*, utility: Utility, spec: UtilitySpec, index: int) -> ServiceAccount:
    """Customer number ``index`` (1-based) of a utility, always the same for the same index."""
    rng = random.Random(f"{spec.slug}:{index}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    rate_class = rng.choices(
        [rate for rate, _ in _RATE_CLASS_WEIGHTS], [weight for _, weight in _RATE_CLASS_WEIGHTS]
    )[0]
    if rate_class == ServiceAccount.RateClass.SMALL_COMMERCIAL:
        customer_name = f"{last} {rng.choice(BUSINESS_KINDS)}"
    else:
        customer_name = f"{first} {last}"
    zip_code = rng.choice(spec.zip_codes)
    address = f"{rng.randint(100, 9899)} {rng.choice(STREETS)}"
    if rng.random() < 0.15:
        address += f" Apt {rng.randint(1, 40)}"
    email = ""
    if rng.random() < 0.7:
        local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        email = f"{local}{index % 97}@example.com"
    # Multiplying by a number coprime with 10**8 maps indexes to distinct meter numbers.
    meter_number = (index * 7_654_321 + 1_234_567) % 100_000_000
    return ServiceAccount(
        utility=utility,
        account_number=account_number_for(spec=spec, index=index),
        customer_name=customer_name,
        email=email,
        phone=f"({spec.area_code}) 555-01{rng.randint(0, 99):02d}",
        premise_address=address,
        city=spec.zip_cities[zip_code],
        state=spec.state,
        zip_code=zip_code,
        meter_id=f"{spec.meter_prefix}{meter_number:08d}",
        rate_class=rate_class,
        tariff=spec.tariffs[rate_class],
        smart_meter=rng.random() < 0.97,
    )


def _chunks(indexes: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indexes), size):
        yield indexes[start : start + size]


def ensure_customers(*, utility: Utility, spec: UtilitySpec, count: int) -> int:
    """Make customers 1..count exist (creating only the missing ones); returns how many were
    created. Runs in batches so 100,000 rows never sit in memory at once."""
    with scope(utility=utility.pk):
        existing = set(ServiceAccount.objects.values_list("account_number", flat=True))
        missing = [
            index
            for index in range(1, count + 1)
            if account_number_for(spec=spec, index=index) not in existing
        ]
        for batch in _chunks(missing, BULK_BATCH_SIZE * 5):
            with transaction.atomic():
                ServiceAccount.objects.bulk_create(
                    [build_customer(utility=utility, spec=spec, index=i) for i in batch],
                    batch_size=BULK_BATCH_SIZE,
                )
    return len(missing)
